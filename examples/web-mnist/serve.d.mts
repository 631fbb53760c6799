// Types for serve.mjs (imported by the browser test).
export declare function resolvePath(pathname: string, buildDir: string): string | undefined;
export declare function startServer(opts?: {
  port?: number; host?: string; isolate?: boolean; buildDir?: string; rebuild?: boolean;
}): Promise<{ url: string; close(): Promise<void> }>;
