/**
 * Vector math prelude: AssemblyScript sources of f32x4 transcendental functions (exp4, log4,
 * tanh4, sigmoid4, erf4, ...) and their scalar twins. WebAssembly SIMD has no exp/log, so these
 * are polynomial approximations (Cephes-style, ~1–2 ulp in f32) with explicit saturation rules.
 * Scalar twins evaluate the vector code on one lane, so a kernel's SIMD body and its scalar tail
 * give bit-identical results for the same input.
 */

export interface PreludeHelper {
  /** Helpers this one calls (emitted before it). */
  deps: string[];
  src: string;
}

const sp = (x: string): string => `f32x4.splat(${x})`;

/** Horner evaluation of c[0]·x^(n-1) + … + c[n-1] in f32x4, as AssemblyScript statements on `p`. */
function horner(p: string, x: string, coeffs: string[]): string {
  const lines = [`let ${p} = ${sp(coeffs[0])};`];
  for (const c of coeffs.slice(1)) lines.push(`${p} = f32x4.add(f32x4.mul(${p}, ${x}), ${sp(c)});`);
  return lines.join("\n  ");
}

const EXP4 = `// e^x. Cody–Waite reduction x = n·ln2 + r, Cephes expf polynomial on r; 2^n is applied in two
// halves so subnormal results round correctly and x > 88.73 overflows to +Inf (x < -103.98 → 0).
@inline function exp4(x: v128): v128 {
  // pmin/pmax are single instructions (min/max are NaN-exact sequences) and still pass NaN through
  const v = f32x4.pmin(f32x4.pmax(x, ${sp("-104.0")}), ${sp("89.0")});
  const n = f32x4.nearest(f32x4.mul(v, ${sp("1.44269504088896341")}));
  let r = f32x4.sub(v, f32x4.mul(n, ${sp("0.693359375")}));
  r = f32x4.sub(r, f32x4.mul(n, ${sp("-2.12194440e-4")}));
  ${horner("p", "r", ["1.9875691500e-4", "1.3981999507e-3", "8.3334519073e-3", "4.1665795894e-2", "1.6666665459e-1", "5.0000001201e-1"])}
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), ${sp("1.0")});
  const k = i32x4.trunc_sat_f32x4_s(n);
  const k1 = i32x4.shr_s(k, 1);
  const s1 = i32x4.shl(i32x4.add(k1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(k, k1), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}`;

const LOG4 = `// ln x. Cephes logf: x = m·2^e with m in [√½, √2), degree-9 polynomial in m − 1. Subnormals are
// pre-scaled by 2^23; 0 → -Inf, negatives and NaN → NaN, +Inf → +Inf are patched at the end.
@inline function log4(x: v128): v128 {
  const tiny = f32x4.lt(x, ${sp("1.17549435e-38")});
  const xs = v128.bitselect(f32x4.mul(x, ${sp("8388608.0")}), x, tiny);
  let e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(xs, 23), i32x4.splat(126)));
  e = f32x4.sub(e, v128.and(tiny, ${sp("23.0")}));
  let m = v128.or(v128.and(xs, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  const low = f32x4.lt(m, ${sp("0.707106781186547524")});
  e = f32x4.sub(e, v128.and(low, ${sp("1.0")}));
  m = f32x4.sub(f32x4.add(m, v128.and(low, m)), ${sp("1.0")});
  const z = f32x4.mul(m, m);
  ${horner("p", "m", ["7.0376836292e-2", "-1.1514610310e-1", "1.1676998740e-1", "-1.2420140846e-1", "1.4249322787e-1", "-1.6668057665e-1", "2.0000714765e-1", "-2.4999993993e-1", "3.3333331174e-1"])}
  let y = f32x4.mul(f32x4.mul(p, m), z);
  y = f32x4.add(y, f32x4.mul(e, ${sp("-2.12194440e-4")}));
  y = f32x4.sub(y, f32x4.mul(z, ${sp("0.5")}));
  let res = f32x4.add(f32x4.add(m, y), f32x4.mul(e, ${sp("0.693359375")}));
  const zero = ${sp("0.0")};
  res = v128.bitselect(${sp("<f32>NaN")}, res, v128.or(f32x4.lt(x, zero), f32x4.ne(x, x)));
  res = v128.bitselect(${sp("<f32>-Infinity")}, res, f32x4.eq(x, zero));
  return v128.bitselect(${sp("<f32>Infinity")}, res, f32x4.eq(x, ${sp("<f32>Infinity")}));
}`;

const EXPM1_4 = `// e^x − 1 without cancellation near 0: Taylor to x^8 for |x| < 0.5 (truncation < 2e-8 relative).
@inline function expm1_4(x: v128): v128 {
  ${horner("p", "x", ["2.48015873e-5", "1.98412698e-4", "1.38888889e-3", "8.33333333e-3", "4.16666667e-2", "1.66666667e-1", "0.5", "1.0"])}
  p = f32x4.mul(p, x);
  const big = f32x4.sub(exp4(x), ${sp("1.0")});
  return v128.bitselect(p, big, f32x4.lt(f32x4.abs(x), ${sp("0.5")}));
}`;

const LOG1P4 = `// ln(1 + y) without losing small y: log(u)·y/(u − 1) with u = 1 + y corrects u's rounding.
@inline function log1p4(y: v128): v128 {
  const u = f32x4.add(${sp("1.0")}, y);
  const r = f32x4.mul(log4(u), f32x4.div(y, f32x4.sub(u, ${sp("1.0")})));
  const keep = v128.or(f32x4.eq(u, ${sp("1.0")}), f32x4.eq(y, ${sp("<f32>Infinity")}));
  return v128.bitselect(y, r, keep);
}`;

const TANH4 = `// tanh x, computed on |x| and given x's sign (odd; keeps −0). Cephes tanhf polynomial for
// |x| < 0.625, else 1 − 2/(e^{2|x|} + 1): e^{2|x|} overflowing to +Inf gives exactly 1, never NaN.
@inline function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  ${horner("p", "z", ["-5.70498872745e-3", "2.06390887954e-2", "-5.37397155531e-2", "1.33314422036e-1", "-3.33332819422e-1"])}
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), ax), ax);
  const e = exp4(f32x4.add(ax, ax));
  const large = f32x4.sub(${sp("1.0")}, f32x4.div(${sp("2.0")}, f32x4.add(e, ${sp("1.0")})));
  const mag = v128.bitselect(small, large, f32x4.lt(ax, ${sp("0.625")}));
  return v128.or(mag, v128.and(x, i32x4.splat(0x80000000)));
}`;

const SIGMOID4 = `// 1/(1 + e^{-x}) from e = e^{-|x|} ≤ 1: r = 1/(1 + e) for x ≥ 0 and e·r for x < 0, so the
// negative side keeps full relative accuracy and both ends saturate to exactly 0 and 1.
@inline function sigmoid4(x: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(${sp("1.0")}, f32x4.add(${sp("1.0")}, e));
  return v128.bitselect(f32x4.mul(e, r), r, f32x4.lt(x, ${sp("0.0")}));
}`;

const ERFC_TAIL4 = `// erfc(a·s) for a ≥ 0, where s² = s2 exactly (s = 1, or 1/√2 for gelu). Numerical Recipes erfcc
// (Chebyshev fit, 1.2e-7 relative): t·exp(−(as)² + P(t)), t = 1/(1 + as/2). (as)² = s2·(h² + l·(a + h))
// with h = a cut to 12 bits (h² exact), each part through its own exp: one rounded argument near
// −(as)² would carry (as)²·ulp of error. a is capped at 15 (erfc there is 0 in f32; keeps Inf out).
@inline function erfc_tail4(a0: v128, s: v128, s2: v128): v128 {
  const a = f32x4.pmin(a0, ${sp("15.0")});
  const t = f32x4.div(${sp("1.0")}, f32x4.add(${sp("1.0")}, f32x4.mul(f32x4.mul(a, s), ${sp("0.5")})));
  ${horner("p", "t", ["0.17087277", "-0.82215223", "1.48851587", "-1.13520398", "0.27886807", "-0.18628806", "0.09678418", "0.37409196", "1.00002368", "-1.26551223"])}
  const h = v128.and(a, i32x4.splat(0xfffff000));
  const l = f32x4.sub(a, h);
  const e1 = exp4(f32x4.neg(f32x4.mul(f32x4.mul(h, h), s2)));
  const e2 = exp4(f32x4.sub(p, f32x4.mul(f32x4.mul(l, f32x4.add(a, h)), s2)));
  return f32x4.mul(t, f32x4.mul(e1, e2));
}`;

const ERF_SMALL4 = `// erf(x) for |x| < 1 as x·P(x²), a degree-5 minimax fit (3e-8 relative).
@inline function erf_small4(x: v128): v128 {
  const z = f32x4.mul(x, x);
  ${horner("p", "z", ["-5.631421809e-4", "4.917551297e-3", "-2.671131119e-2", "1.128017977e-1", "-3.761232495e-1", "1.128379107"])}
  return f32x4.mul(x, p);
}`;

const ERF4 = `// erf x: the small-argument polynomial for |x| < 1, else ±(1 − erfc|x|); ±Inf → ±1.
@inline function erf4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const one = ${sp("1.0")};
  const large = v128.or(f32x4.sub(one, erfc_tail4(ax, one, one)), v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(erf_small4(x), large, f32x4.lt(ax, one));
}`;

const ERFC_SCALED4 = `// erfc(x·s) with s² = s2 exactly; keeps relative accuracy in the right tail (erfc(−y) = 2 − erfc(y)).
@inline function erfc_scaled4(x: v128, s: v128, s2: v128): v128 {
  const y = f32x4.mul(x, s);
  const tail = erfc_tail4(f32x4.abs(x), s, s2);
  const large = v128.bitselect(f32x4.sub(${sp("2.0")}, tail), tail, f32x4.lt(x, ${sp("0.0")}));
  return v128.bitselect(f32x4.sub(${sp("1.0")}, erf_small4(y)), large, f32x4.lt(f32x4.abs(y), ${sp("1.0")}));
}`;

const ERFC4 = `// erfc x = 1 − erf x.
@inline function erfc4(x: v128): v128 {
  return erfc_scaled4(x, ${sp("1.0")}, ${sp("1.0")});
}`;

/** A scalar twin: the vector function on lane 0 (identical results to the SIMD body). */
function scalarTwin(name: string, vec: string, why: string): PreludeHelper {
  return {
    deps: [vec],
    src: `// ${why}\n@inline function ${name}(x: f32): f32 { return f32x4.extract_lane(${vec}(f32x4.splat(x)), 0); }`,
  };
}

/** Horizontal reductions of the four lanes (fixed order, so results are deterministic). */
function horizontal(name: string, op: (a: string, b: string) => string): PreludeHelper {
  const lane = (i: number): string => `f32x4.extract_lane(v, ${i})`;
  return {
    deps: [],
    src: `@inline function ${name}(v: v128): f32 {
  const a: f32 = ${op(lane(0), lane(1))};
  const b: f32 = ${op(lane(2), lane(3))};
  return ${op("a", "b")};
}`,
  };
}

export const VMATH_HELPERS: Record<string, PreludeHelper> = {
  exp4: { deps: [], src: EXP4 },
  log4: { deps: [], src: LOG4 },
  expm1_4: { deps: ["exp4"], src: EXPM1_4 },
  log1p4: { deps: ["log4"], src: LOG1P4 },
  tanh4: { deps: ["exp4"], src: TANH4 },
  sigmoid4: { deps: ["exp4"], src: SIGMOID4 },
  erfc_tail4: { deps: ["exp4"], src: ERFC_TAIL4 },
  erf_small4: { deps: [], src: ERF_SMALL4 },
  erf4: { deps: ["erfc_tail4", "erf_small4"], src: ERF4 },
  erfc_scaled4: { deps: ["erfc_tail4", "erf_small4"], src: ERFC_SCALED4 },
  erfc4: { deps: ["erfc_scaled4"], src: ERFC4 },
  expf: scalarTwin("expf", "exp4", "scalar e^x"),
  logf: scalarTwin("logf", "log4", "scalar ln x"),
  expm1f: scalarTwin("expm1f", "expm1_4", "scalar e^x − 1"),
  log1pf: scalarTwin("log1pf", "log1p4", "scalar ln(1 + x)"),
  tanhf: scalarTwin("tanhf", "tanh4", "scalar tanh"),
  sigmoidf: scalarTwin("sigmoidf", "sigmoid4", "scalar logistic sigmoid"),
  erff: scalarTwin("erff", "erf4", "scalar erf"),
  erfcf: scalarTwin("erfcf", "erfc4", "scalar erfc"),
  hsum4: horizontal("hsum4", (a, b) => `${a} + ${b}`),
  hmax4: horizontal("hmax4", (a, b) => `max<f32>(${a}, ${b})`),
  hmin4: horizontal("hmin4", (a, b) => `min<f32>(${a}, ${b})`),
};
