/**
 * Test harness for the elementwise/reduce/softmax/copy kernel tests: puts several KernelDefs into
 * one AssemblyScript module (plus the prelude they need), compiles it at -O0, instantiates it on
 * an imported memory, and offers a bump allocator and float64 comparison helpers.
 */
import { compileAssemblyScript } from "../../compiler/assemble/asc.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { preludeFor } from "../../compiler/assemble/prelude.js";
import type { EwExpr, EwInput, EwUnary } from "../../compiler/ir/expr.js";

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
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(wasm as BufferSource), { env: { memory } });
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

// ---------------------------------------------------------------- float64 references

/** float64 erfc: Taylor series for erf below 2.5, a backward continued fraction above. */
export function erfc64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc64(-x);
  if (x < 2.5) return 1 - erf64(x);
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

export function erf64(x: number): number {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? NaN : Math.sign(x);
  if (Math.abs(x) >= 2.5) return Math.sign(x) * (1 - erfc64(Math.abs(x)));
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export const sigmoid64 = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

export const UNARY64: Record<EwUnary, (x: number) => number> = {
  neg: (x) => -x, abs: Math.abs, exp: Math.exp, log: Math.log, sqrt: Math.sqrt, rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x, recip: (x) => 1 / x, tanh: Math.tanh, sigmoid: sigmoid64, erf: erf64,
  relu: (x) => Math.max(x, 0), gelu: (x) => 0.5 * x * erfc64(-x / Math.SQRT2), leaky_relu: (x) => (x > 0 ? x : 0.2 * x),
  elu: (x) => (x > 0 ? x : Math.expm1(x)), silu: (x) => x * sigmoid64(x),
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
};

/** Evaluates an EwExpr in float64; `inp(i)` gives input i's (broadcast) value. */
export function evalExpr(e: EwExpr, inp: (i: number) => number): number {
  switch (e.k) {
    case "in": return inp(e.i);
    case "const": return Math.fround(e.v);
    case "un": return UNARY64[e.op](evalExpr(e.a, inp));
    case "bin": {
      const a = evalExpr(e.a, inp), b = evalExpr(e.b, inp);
      return { add: a + b, sub: a - b, mul: a * b, div: a / b, max: Math.max(a, b), min: Math.min(a, b) }[e.op];
    }
    case "sel": {
      const a = evalExpr(e.a, inp), b = evalExpr(e.b, inp);
      const c = { gt: a > b, ge: a >= b, lt: a < b, le: a <= b, eq: a === b }[e.cmp];
      return c ? evalExpr(e.then, inp) : evalExpr(e.else, inp);
    }
  }
}

/** Element of input m at flat index e. */
export function bcastIndex(m: EwInput, e: number): number {
  const q = Math.floor(e / m.div);
  return m.mod === undefined ? q : q % m.mod;
}
