/**
 * Test harness for the elementwise/reduce/softmax/copy kernel tests: puts several KernelDefs into
 * one AssemblyScript module (plus the prelude they need), compiles it at -O0, instantiates it on
 * an imported memory, and offers a bump allocator and float64 comparison helpers.
 */
import { compileAssemblyScript } from "../../compiler/asc.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { preludeFor } from "../../compiler/emit/prelude.js";

export interface TestModule {
  memory: WebAssembly.Memory;
  fns: Record<string, (...args: number[]) => void>;
  /** Allocates n 4-byte elements (64-byte aligned) and returns the byte offset. */
  alloc(n: number): number;
  /** Frees everything allocated so far. */
  reset(): void;
  f32(ptr: number, n: number): Float32Array;
  i32(ptr: number, n: number): Int32Array;
  /** Allocates and fills a buffer. */
  put(data: ArrayLike<number>, dtype?: "f32" | "i32"): number;
}

const HEAP_START = 4096;

/** Source for a module exporting each kernel under its name (plus any extra source). */
export function moduleSource(kernels: Record<string, KernelDef>, extra = "", extraNeeds: string[] = []): string {
  const needs = new Set<string>(extraNeeds);
  const fns: string[] = [];
  for (const [name, def] of Object.entries(kernels)) {
    for (const n of def.needs ?? []) needs.add(n);
    const params = def.params.map((p) => `${p.name}: ${p.type}`).join(", ");
    fns.push(`export function ${name}(${params}): void {\n${def.body}\n}`);
  }
  return [preludeFor([...needs]), extra, ...fns].join("\n\n");
}

export async function buildModule(
  kernels: Record<string, KernelDef>,
  opts: { pages?: number; extra?: string; extraNeeds?: string[] } = {},
): Promise<TestModule> {
  const pages = opts.pages ?? 64;
  const src = moduleSource(kernels, opts.extra, opts.extraNeeds);
  const wasm = await compileAssemblyScript(src, { optimizeLevel: 0, initialPages: pages });
  const memory = new WebAssembly.Memory({ initial: pages });
  const { instance } = await WebAssembly.instantiate(wasm, { env: { memory } });
  let top = HEAP_START;
  const mod: TestModule = {
    memory,
    fns: instance.exports as unknown as Record<string, (...args: number[]) => void>,
    alloc(n) {
      const ptr = top;
      top += Math.ceil((n * 4) / 64) * 64 + 64;
      if (top > memory.buffer.byteLength) throw new Error("test module out of memory");
      return ptr;
    },
    reset() { top = HEAP_START; },
    f32: (ptr, n) => new Float32Array(memory.buffer, ptr, n),
    i32: (ptr, n) => new Int32Array(memory.buffer, ptr, n),
    put(data, dtype = "f32") {
      const ptr = mod.alloc(data.length);
      (dtype === "f32" ? mod.f32(ptr, data.length) : mod.i32(ptr, data.length)).set(Array.from(data));
      return ptr;
    },
  };
  return mod;
}

/** Deterministic pseudo-random numbers in [lo, hi). */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0 || 1;
  return (lo = -1, hi = 1) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return lo + (hi - lo) * (s / 4294967296);
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r(lo, hi));
}

/** ‖out − ref‖ / ‖ref‖ (or ‖out − ref‖ when ref is all zeros). */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) throw new Error(`length ${out.length} vs ${ref.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (Number.isNaN(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
