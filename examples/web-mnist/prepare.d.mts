// Types for prepare.mjs (imported by the browser test).
export declare const DEFAULT_OUT: string;
export declare const MAX_BATCH: number;
export declare const THREADS: number;
export declare function mnistBinary(): Uint8Array;
export declare function compileCnn(optimizeLevel?: 0 | 1 | 2 | 3, threads?: number): Promise<Uint8Array>;
export declare function buildFiles(out?: string): { data: string; wasm: string; threadsWasm: string };
export declare function prepare(opts?: { out?: string; optimizeLevel?: 0 | 1 | 2 | 3 }): Promise<{ data: string; wasm: string; threadsWasm: string }>;
