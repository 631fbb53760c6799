/**
 * Accuracy of the vector-math prelude (exp4, log4, tanh4, sigmoid4, erf4, erfc4, expm1_4, log1p4)
 * and the activation helpers against float64 references over dense sweeps and special values;
 * the scalar twins must agree bit for bit with the vector forms.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { activationNeeds, activationScalar, activationSimd } from "../../compiler/emit/activation.js";
import { preludeFor, preludeHelperNames } from "../../compiler/assemble/prelude.js";
import { buildModule, erf64, erfc64, sigmoid64, type TestModule } from "./ew-harness.js";

const VEC = ["exp4", "log4", "tanh4", "sigmoid4", "erf4", "erfc4", "expm1_4", "log1p4"];
const SCALAR = ["expf", "logf", "tanhf", "sigmoidf", "erff", "erfcf", "expm1f", "log1pf"];
const ACTS = ["sigmoid", "tanh", "gelu", "leaky_relu", "elu", "silu", "softplus", "relu", "relu6", "linear"] as const;

function mapFns(): string {
  const out: string[] = [];
  for (const f of VEC) {
    out.push(`export function v_${f}(x: usize, y: usize, n: i32): void {
  for (let i: i32 = 0; i < n; i += 4) v128.store(y + (<usize>i << 2), ${f}(v128.load(x + (<usize>i << 2))));
}`);
  }
  for (const f of SCALAR) {
    out.push(`export function s_${f}(x: usize, y: usize, n: i32): void {
  for (let i: i32 = 0; i < n; i++) store<f32>(y + (<usize>i << 2), ${f}(load<f32>(x + (<usize>i << 2))));
}`);
  }
  for (const a of ACTS) {
    out.push(`export function va_${a}(x: usize, y: usize, n: i32): void {
  for (let i: i32 = 0; i < n; i += 4) { const v = v128.load(x + (<usize>i << 2)); v128.store(y + (<usize>i << 2), ${activationSimd(a, "v")}); }
}
export function sa_${a}(x: usize, y: usize, n: i32): void {
  for (let i: i32 = 0; i < n; i++) { const v = load<f32>(x + (<usize>i << 2)); store<f32>(y + (<usize>i << 2), ${activationScalar(a, "v")}); }
}`);
  }
  return out.join("\n\n");
}

const REF: Record<string, (x: number) => number> = {
  exp: Math.exp, log: Math.log, tanh: Math.tanh, sigmoid: sigmoid64, erf: erf64, erfc: erfc64,
  expm1: Math.expm1, log1p: Math.log1p,
  gelu: (x) => 0.5 * x * erfc64(-x / Math.SQRT2),
  leaky_relu: (x) => (x > 0 ? x : 0.2 * x),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  silu: (x) => x * sigmoid64(x),
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  linear: (x) => x,
};

let mod: TestModule;
beforeAll(async () => {
  mod = await buildModule({}, { extra: mapFns(), extraNeeds: [...VEC, ...SCALAR, ...ACTS.flatMap((a) => activationNeeds(a))], pages: 128 });
});

function run(fn: string, xs: ArrayLike<number>): Float32Array {
  mod.reset();
  const n = Math.ceil(xs.length / 4) * 4;
  const x = mod.alloc(n), y = mod.alloc(n);
  mod.f32(x, n).fill(0).set(Array.from(xs));
  mod.fns[fn](x, y, n);
  return mod.f32(y, xs.length).slice();
}

function sweep(lo: number, hi: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

const MIN_NORMAL = 1.1754943508222875e-38;

/** Largest relative error over points whose reference is a normal f32; subnormal results must be within 2 subnormal ulps. */
function maxRelErr(xs: Float32Array, out: Float32Array, ref: (x: number) => number): { err: number; at: number } {
  let worst = { err: 0, at: NaN };
  for (let i = 0; i < xs.length; i++) {
    const r = ref(xs[i]);
    const r32 = Math.fround(r);
    if (Number.isNaN(r)) { if (!Number.isNaN(out[i])) return { err: Infinity, at: xs[i] }; continue; }
    if (!Number.isFinite(r32)) { if (out[i] !== r32) return { err: Infinity, at: xs[i] }; continue; }
    const e = Math.abs(r) < MIN_NORMAL ? (Math.abs(out[i] - r) > 2 * 2 ** -149 ? Infinity : 0) : Math.abs(out[i] - r) / Math.abs(r);
    if (!(e <= worst.err)) worst = { err: Number.isNaN(e) ? Infinity : e, at: xs[i] };
  }
  return worst;
}

const SPECIALS = [0, -0, Infinity, -Infinity, NaN, 1, -1, 1e-30, -1e-30, 1e-45, 3.4e38, -3.4e38, 0.5, -0.5, 0.625, -0.625, 1e-7, -1e-7];

describe("vector math accuracy", () => {
  const cases: [string, Float32Array][] = [
    ["exp", Float32Array.from([...sweep(-110, 95, 100003), ...SPECIALS, 88.72, 88.73, -87.33, -103.9, -104.5])],
    ["log", Float32Array.from([
      ...Array.from({ length: 60000 }, (_, i) => Math.fround(2 ** (-149 + (277 * i) / 59999))),
      ...sweep(0.5, 2, 40001), ...SPECIALS, -2, 1 + 2 ** -23, 1 - 2 ** -24])],
    ["tanh", Float32Array.from([...sweep(-20, 20, 100001), ...sweep(-1, 1, 20001), ...SPECIALS])],
    ["sigmoid", Float32Array.from([...sweep(-120, 120, 100001), ...SPECIALS])],
    ["erf", Float32Array.from([...sweep(-7, 7, 100001), ...sweep(-1.2, 1.2, 20001), ...SPECIALS])],
    ["erfc", Float32Array.from([...sweep(-7, 4, 100001), ...SPECIALS])],
    ["expm1", Float32Array.from([...sweep(-30, 30, 40001), ...sweep(-0.6, 0.6, 20001), ...SPECIALS])],
    ["log1p", Float32Array.from([...sweep(-0.99, 10, 40001), ...sweep(-1e-3, 1e-3, 2001), ...SPECIALS.filter((x) => !(x < -1))])],
  ];
  for (const [name, xs] of cases) {
    it(`${name}: max relative error < 2e-6 (dense sweep + extremes), scalar twin identical`, () => {
      const vec = VEC.find((v) => v.startsWith(name) && (v === `${name}4` || v === `${name}_4`))!;
      const out = run(`v_${vec}`, xs);
      const { err, at } = maxRelErr(xs, out, REF[name]);
      expect(err, `worst at x=${at}`).toBeLessThan(2e-6);
      const sc = run(`s_${SCALAR[VEC.indexOf(vec)]}`, xs);
      expect(Buffer.from(sc.buffer).equals(Buffer.from(out.buffer))).toBe(true);
    });
  }

  it("saturates exactly: exp → 0 / +Inf, tanh → ±1, sigmoid → 0 / 1, log(0) → -Inf, erf(±Inf) → ±1", () => {
    expect(Array.from(run("v_exp4", [-200, -1e30, 100, 1e30, -Infinity, Infinity]))).toEqual([0, 0, Infinity, Infinity, 0, Infinity]);
    expect(Array.from(run("v_tanh4", [30, -30, 1e30, -Infinity, Infinity, 9.5]))).toEqual([1, -1, 1, -1, 1, 1]);
    expect(Array.from(run("v_sigmoid4", [200, -200, Infinity, -Infinity, 0]))).toEqual([1, 0, 1, 0, 0.5]);
    expect(Array.from(run("v_log4", [0, -0, Infinity, 1]))).toEqual([-Infinity, -Infinity, Infinity, 0]);
    expect(Array.from(run("v_erf4", [Infinity, -Infinity, 10, -10]))).toEqual([1, -1, 1, -1]);
    for (const f of VEC) expect(Number.isNaN(run(`v_${f}`, [NaN])[0]), f).toBe(true);
    expect(Number.isNaN(run("v_log4", [-1])[0])).toBe(true);
    expect(Object.is(run("v_tanh4", [-0])[0], -0)).toBe(true);
    expect(Object.is(run("v_erf4", [-0])[0], -0)).toBe(true);
  });
});

describe("activations", () => {
  const xs = Float32Array.from([...sweep(-12, 12, 24001), ...sweep(-1, 1, 2001), 0, -0, 1e-20, -1e-20, 80, -80, 120, -120]);
  for (const a of ACTS) {
    it(`${a}: SIMD form within 4e-6 relative (dense sweep over ±12), scalar form identical`, () => {
      const out = run(`va_${a}`, xs);
      const { err, at } = maxRelErr(xs, out, REF[a]);
      expect(err, `worst at x=${at}`).toBeLessThan(4e-6);
      const sc = run(`sa_${a}`, xs);
      expect(Buffer.from(sc.buffer).equals(Buffer.from(out.buffer))).toBe(true);
    });
  }

  it("relu and relu6 (pmax/pmin on v + 0): NaN stays NaN, -0 becomes +0, ±Inf clamp, as f32.max/min do", () => {
    const xs = [NaN, -0, 0, -Infinity, Infinity, 6, 6.000001, -1e-30, 5.9999995];
    const relu = run("va_relu", xs), relu6 = run("va_relu6", xs);
    expect(Number.isNaN(relu[0]) && Number.isNaN(relu6[0])).toBe(true);
    expect(Array.from(relu.subarray(1))).toEqual([0, 0, 0, Infinity, 6, Math.fround(6.000001), 0, Math.fround(5.9999995)]);
    expect(Array.from(relu6.subarray(1))).toEqual([0, 0, 0, 6, 6, 6, 0, Math.fround(5.9999995)]);
    expect(Object.is(relu[1], 0) && Object.is(relu6[1], 0) && Object.is(relu6[7], 0)).toBe(true);
    // the rest bit for bit as the scalar form (a NaN's sign and payload are the engine's: wasm leaves them open)
    const rest = xs.slice(1);
    for (const a of ["relu", "relu6"]) expect(Array.from(new Uint32Array(run(`sa_${a}`, rest).buffer)), a).toEqual(Array.from(new Uint32Array(run(`va_${a}`, rest).buffer)));
  });

  it("softmax is rejected as an elementwise activation", () => {
    expect(() => activationScalar("softmax", "x")).toThrow(/softmax/);
    expect(() => activationSimd("softmax", "x")).toThrow(/softmax/);
    expect(() => activationNeeds("softmax")).toThrow(/softmax/);
  });
});

describe("preludeFor", () => {
  it("emits dependencies first, each helper once, and rejects unknown names", () => {
    const src = preludeFor(["act_gelu", "erf4", "act4_gelu"]);
    const idx = (name: string): number => src.indexOf(`function ${name}(`);
    expect(idx("exp4")).toBeGreaterThanOrEqual(0);
    expect(idx("exp4")).toBeLessThan(idx("erfc_tail4"));
    expect(idx("erfc_scaled4")).toBeGreaterThan(idx("erfc_tail4"));
    expect(idx("erfc_scaled4")).toBeLessThan(idx("act4_gelu"));
    expect(idx("act4_gelu")).toBeLessThan(idx("act_gelu"));
    expect(src.split("function exp4(").length).toBe(2);
    expect(preludeFor([])).toBe("");
    expect(() => preludeFor(["nope"])).toThrow(/nope/);
    expect(preludeHelperNames()).toContain("hsum4");
  });
});
