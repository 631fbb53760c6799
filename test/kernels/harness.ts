/**
 * Test harness for kernel emitters: wraps several KernelDefs into one AssemblyScript module
 * (compiled once at -O0), instantiates it on an imported memory, and offers a bump allocator,
 * a seeded PRNG and the relative-error metric the kernel tests use.
 */
import v8 from "node:v8";
import { compileAssemblyScript } from "../../compiler/assemble/asc.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";

export interface KernelModule {
  memory: WebAssembly.Memory;
  /** Calls kernel `i` with its params in KernelDef order. */
  call(i: number, ...args: number[]): void;
  /** Allocates `floats` f32 (64-byte aligned) and optionally fills them; returns the byte offset. */
  alloc(floats: number, init?: ArrayLike<number>): number;
  /** Allocates the largest scratch any kernel asked for (shared by all). */
  scratch: number;
  f32(ptr: number, floats: number): Float32Array;
  /** Forgets every allocation after the scratch buffer. */
  reset(): void;
}

/** AssemblyScript source of a module holding the kernels as k0..kN plus exported wrappers. */
export function moduleSource(defs: KernelDef[], prelude = ""): string {
  const parts = [prelude];
  defs.forEach((d, i) => {
    const sig = d.params.map((p) => `${p.name}: ${p.type}`).join(", ");
    parts.push(`// ${d.label}\nfunction k${i}(${sig}): void {\n${d.body}\n}`);
    parts.push(`export function run${i}(${sig}): void { k${i}(${d.params.map((p) => p.name).join(", ")}); }`);
  });
  return parts.join("\n\n");
}

let relaxedFlagSet = false;
/** Whether this Node accepts relaxed-SIMD modules (turning on V8's flag on Node 20). */
export function relaxedSimdSupported(): boolean {
  if (!relaxedFlagSet) { v8.setFlagsFromString("--experimental-wasm-relaxed-simd"); relaxedFlagSet = true; }
  // (module (func (result v128) v128.const 0 v128.const 0 v128.const 0 f32x4.relaxed_madd))
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
    253, 12, ...new Array(16).fill(0), 253, 12, ...new Array(16).fill(0), 253, 12, ...new Array(16).fill(0), 253, 133, 2, 11]);
  return WebAssembly.validate(bytes);
}

export async function buildKernels(defs: KernelDef[], opts: { pages?: number; relaxed?: boolean; optimizeLevel?: 0 | 1 | 2 | 3; prelude?: string } = {}): Promise<KernelModule> {
  const wasm = await compileAssemblyScript(moduleSource(defs, opts.prelude), {
    optimizeLevel: opts.optimizeLevel ?? 0, initialPages: 1, relaxedSimd: opts.relaxed,
  });
  const memory = new WebAssembly.Memory({ initial: opts.pages ?? 256 });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(wasm)), { env: { memory } });
  const base = 65536;
  const scratchBytes = Math.max(64, ...defs.map((d) => d.scratchBytes ?? 0));
  const scratch = base;
  const heapStart = base + Math.ceil(scratchBytes / 64) * 64;
  let top = heapStart;
  const f32 = (ptr: number, floats: number) => new Float32Array(memory.buffer, ptr, floats);
  return {
    memory, scratch,
    call(i, ...args) { (instance.exports[`run${i}`] as (...a: number[]) => void)(...args); },
    alloc(floats, init) {
      const ptr = top;
      top += Math.ceil((floats * 4) / 64) * 64 + 64;
      if (top > memory.buffer.byteLength) throw new Error(`test memory exhausted (${top} bytes)`);
      const view = f32(ptr, floats);
      if (init) view.set(init); else view.fill(NaN);
      return ptr;
    },
    f32,
    reset() { top = heapStart; },
  };
}

/** mulberry32: a small seeded PRNG; `uniform(n)` gives n values in [-1, 1). */
export function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, uniform: (n: number) => Float32Array.from({ length: n }, () => next() * 2 - 1) };
}

/** ‖out − ref‖ / ‖ref‖ over the first ref.length elements. */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += (out[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num) / Math.sqrt(den || 1);
}
