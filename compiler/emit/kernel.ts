/**
 * The kernel contract between the emitters and the module assembler.
 *
 * A kernel is one AssemblyScript function whose sizes and strides are compile-time constants and
 * whose tensors arrive as byte offsets into linear memory (JS owns the memory layout; kernels take
 * offsets). Runtime integers (the batch size, or a row count derived from it) arrive as i32
 * parameters. Identical kernels (same `key`) are emitted once and called many times with other
 * offsets — e.g. one LSTM step kernel called for every time step.
 */

export type ParamType = "usize" | "i32" | "f32";

export interface KernelParam {
  name: string;
  type: ParamType;
}

export interface KernelDef {
  /** Canonical signature: two kernels with the same key have the same params and body. */
  key: string;
  /** A short human label for `--emit as` comments and error messages ("matmul 784x512 relu"). */
  label: string;
  params: KernelParam[];
  /** Function body: AssemblyScript statements using the params by name. */
  body: string;
  /** Kernels the body calls, as `$kernel0`, `$kernel1`, … (the assembler names them). */
  calls?: KernelDef[];
  /** Names of prelude helpers (see emit/prelude.ts) the body calls. */
  needs?: string[];
  /**
   * Bytes of scratch memory the kernel needs (packing buffers, im2col tiles). When set, the kernel
   * takes a `scratch: usize` param (its position is documented by each emitter); the buffer must be
   * 64-byte aligned, may be shared by all kernels, and holds nothing between calls.
   */
  scratchBytes?: number;
}

/**
 * An emitter that returns the kernel it built last time for an equal spec. Emitters are pure
 * functions of their spec (plain data), and a big graph asks for the same few kernels tens of
 * thousands of times (one call per node: 10,000 dense layers are 80,000 nodes but a handful of
 * distinct kernels), so selection costs a JSON key per node instead of generating a kernel body.
 * The cache is bounded (least recently used first out), so a long-running compiler process keeps
 * at most `capacity` kernels. KernelDefs are never mutated after emission (the assembler copies).
 */
export function memoized<S>(emit: (spec: S) => KernelDef, capacity = 512): (spec: S) => KernelDef {
  const cache = new Map<string, KernelDef>();
  return (spec) => {
    const key = JSON.stringify(spec, exactNumbers);
    let def = cache.get(key);
    if (def) cache.delete(key); // re-inserted below as the most recent
    else def = emit(spec);
    cache.set(key, def);
    if (cache.size > capacity) cache.delete(cache.keys().next().value!);
    return def;
  };
}

/** JSON writes NaN, ±Infinity as null and -0 as 0: spell them out, so specs that differ only there (a fill of -Infinity or +Infinity) never share a kernel. */
function exactNumbers(_key: string, v: unknown): unknown {
  return typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0)) ? `#${Object.is(v, -0) ? "-0" : v}` : v;
}
