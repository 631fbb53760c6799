/**
 * What the engine supports, detected by validating tiny probe modules: `capabilities()` of
 * `kiln/runtime` and `model.capabilities`. Loading does not need it (a relaxed-SIMD twin is
 * validated itself), so a predict-only bundle leaves it out; the sentence of a refused load
 * (load-errors.ts) asks it what the engine lacks.
 */

export interface Capabilities {
  /** Plain WebAssembly SIMD, which every kiln module needs (loading fails without it). */
  simd: boolean;
  relaxedSimd: boolean;
  threads: boolean;
}

// Tiny modules: one function holding a v128.const (SIMD) or i8x16.relaxed_swizzle (relaxed SIMD),
// and one shared memory (threads).
const HEAD = [0, 97, 115, 109, 1, 0, 0, 0];
const FUNC = [1, 4, 1, 96, 0, 0, 3, 2, 1, 0];
const V128 = [253, 12, ...new Array(16).fill(0)];
const wasm = (bytes: number[]) => new Uint8Array([...HEAD, ...bytes]);

/** The probe modules detectCapabilities validates (exported for tests). */
export const PROBES = {
  simd: wasm([...FUNC, 10, 23, 1, 21, 0, ...V128, 26, 11]),
  relaxedSimd: wasm([...FUNC, 10, 44, 1, 42, 0, ...V128, ...V128, 253, 128, 2, 26, 11]),
  threads: wasm([5, 4, 1, 3, 1, 1]),
};

/** What an engine supports, by validating the probes with `validate` (tests inject one). */
export function detectCapabilities(validate: (bytes: Uint8Array<ArrayBuffer>) => boolean = (b) => WebAssembly.validate(b)): Capabilities {
  return {
    simd: validate(PROBES.simd),
    relaxedSimd: validate(PROBES.relaxedSimd),
    // The engine must accept shared memory, and this context must be allowed to use it.
    threads: validate(PROBES.threads) && typeof SharedArrayBuffer !== "undefined" && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false,
  };
}

let caps: Capabilities | undefined;

/** What this engine supports, checked once with WebAssembly.validate. */
export function capabilities(): Capabilities {
  return (caps ??= detectCapabilities());
}

/** Whether plain SIMD validates (every kiln module uses it). */
export const hasSimd = (): boolean => capabilities().simd;
