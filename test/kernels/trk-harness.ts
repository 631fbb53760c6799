/**
 * Test helper for the pooling / loss / dropout / optimizer kernel tests: puts several KernelDefs
 * into ONE AssemblyScript module (each as `function k_<name>` plus an exported wrapper of the same
 * signature, after the prelude helpers they need), compiles it at -O0 with compiler/assemble/asc.ts, instantiates it on an imported memory and
 * hands out a bump allocator (64-byte aligned) and typed views for the tests.
 */
import { compileAssemblyScript } from "../../compiler/assemble/asc.js";
import { ident } from "../../compiler/emit/code.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { preludeFor } from "../../compiler/assemble/prelude.js";
import { makeRng } from "../reference/prng.js";

export type KernelFn = (...args: number[]) => void;

export interface TestModule {
  memory: WebAssembly.Memory;
  fn: Record<string, KernelFn>;
  /** Reserves `bytes` bytes (64-byte aligned), zero-filled. */
  alloc(bytes: number): number;
  /** Allocates and fills an f32 buffer; returns its byte offset. */
  putF32(values: ArrayLike<number>): number;
  putI32(values: ArrayLike<number>): number;
  f32(ptr: number, n: number): Float32Array;
  i32(ptr: number, n: number): Int32Array;
  u32(ptr: number, n: number): Uint32Array;
  /** Forgets every allocation (memory is zeroed on the next alloc). */
  reset(): void;
}

const BASE = 65536; // leave the first page to whatever static data asc places there

/** The module source: one private kernel function and one exported wrapper per entry. */
export function moduleSource(kernels: Record<string, KernelDef>): string {
  const parts: string[] = [];
  for (const [name, def] of Object.entries(kernels)) {
    const sig = def.params.map((p) => `${ident(p.name)}: ${p.type}`).join(", ");
    const args = def.params.map((p) => p.name).join(", ");
    parts.push(`// ${def.label}\nfunction k_${ident(name)}(${sig}): void {\n${def.body}\n}`);
    parts.push(`export function ${ident(name)}(${sig}): void { k_${name}(${args}); }`);
  }
  const needs = [...new Set(Object.values(kernels).flatMap((k) => k.needs ?? []))];
  return preludeFor(needs) + "\n" + parts.join("\n\n") + "\n";
}

export async function buildKernels(kernels: Record<string, KernelDef>, pages = 64): Promise<TestModule> {
  const wasm = await compileAssemblyScript(moduleSource(kernels), { optimizeLevel: 0, initialPages: pages });
  const memory = new WebAssembly.Memory({ initial: pages });
  const compiled = await WebAssembly.compile(new Uint8Array(wasm));
  const instance = await WebAssembly.instantiate(compiled, { env: { memory, abort: () => { throw new Error("abort"); } } });
  const fn: Record<string, KernelFn> = {};
  for (const name of Object.keys(kernels)) fn[name] = instance.exports[name] as KernelFn;
  let top = BASE;
  const alloc = (bytes: number): number => {
    const p = top;
    top = Math.ceil((top + Math.max(bytes, 4)) / 64) * 64;
    if (top > memory.buffer.byteLength) throw new Error(`test harness: out of memory (${top} bytes)`);
    new Uint8Array(memory.buffer, p, top - p).fill(0);
    return p;
  };
  return {
    memory,
    fn,
    alloc,
    putF32(values) {
      const p = alloc(values.length * 4);
      new Float32Array(memory.buffer, p, values.length).set(Array.from(values));
      return p;
    },
    putI32(values) {
      const p = alloc(values.length * 4);
      new Int32Array(memory.buffer, p, values.length).set(Array.from(values));
      return p;
    },
    f32: (ptr, n) => new Float32Array(memory.buffer, ptr, n),
    i32: (ptr, n) => new Int32Array(memory.buffer, ptr, n),
    u32: (ptr, n) => new Uint32Array(memory.buffer, ptr, n),
    reset() {
      top = BASE;
    },
  };
}

/** Seeded uniform [0, 1) numbers: the tests' one PRNG (mulberry32, test/reference/prng.ts). */
export const rng = (seed: number): (() => number) => makeRng(seed).next;

/** n uniform values in [lo, hi), rounded to f32. */
export function uniform(r: () => number, n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** max |a−b| / max(max |b|, floor): a norm-relative error. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-30): number {
  let num = 0, den = floor;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}
