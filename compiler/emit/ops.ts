/**
 * f32 arithmetic written once for both widths: `SIMD` (f32x4 in a v128, four lanes) and `SCALAR`
 * (one f32, for remainders and tails). An emitter writes a loop body as a function of `Ops` and
 * calls it with each, so the vector body and its scalar tail cannot drift apart. Scalar binary
 * forms are parenthesized so they nest; `bare` drops the outer pair where a whole right-hand side
 * is written without it.
 */
import { f32lit, intlit } from "./code.js";

export interface Ops {
  readonly width: 1 | 4;
  /** The AssemblyScript type of one value. */
  readonly ty: "f32" | "v128";
  /** A value at byte address `addr` (+ the immediate offset `imm`, written only when given). */
  load(addr: string, imm?: number): string;
  /** The statement storing `v` at `addr` (+ `imm`). */
  store(addr: string, v: string, imm?: number): string;
  /** A value from an f32 expression (every lane the same). */
  splat(x: string): string;
  /** A value from an f32 constant. */
  k(x: number): string;
  add(a: string, b: string): string;
  sub(a: string, b: string): string;
  mul(a: string, b: string): string;
  div(a: string, b: string): string;
  max(a: string, b: string): string;
  min(a: string, b: string): string;
  sqrt(a: string): string;
  /** e^a and ln a by the prelude's exp4/log4 and their scalar twins expf/logf. */
  exp(a: string): string;
  log(a: string): string;
}

const imm = (o?: number): string => (o === undefined ? "" : `, ${intlit(o)}`);

export const SIMD: Ops = {
  width: 4,
  ty: "v128",
  load: (p, o) => `v128.load(${p}${imm(o)})`,
  store: (p, v, o) => `v128.store(${p}, ${v}${imm(o)});`,
  splat: (x) => `f32x4.splat(${x})`,
  k: (x) => `f32x4.splat(${f32lit(x)})`,
  add: (a, b) => `f32x4.add(${a}, ${b})`,
  sub: (a, b) => `f32x4.sub(${a}, ${b})`,
  mul: (a, b) => `f32x4.mul(${a}, ${b})`,
  div: (a, b) => `f32x4.div(${a}, ${b})`,
  max: (a, b) => `f32x4.max(${a}, ${b})`,
  min: (a, b) => `f32x4.min(${a}, ${b})`,
  sqrt: (a) => `f32x4.sqrt(${a})`,
  exp: (a) => `exp4(${a})`,
  log: (a) => `log4(${a})`,
};

export const SCALAR: Ops = {
  width: 1,
  ty: "f32",
  load: (p, o) => `load<f32>(${p}${imm(o)})`,
  store: (p, v, o) => `store<f32>(${p}, ${v}${imm(o)});`,
  splat: (x) => x,
  k: (x) => f32lit(x),
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  max: (a, b) => `max<f32>(${a}, ${b})`,
  min: (a, b) => `min<f32>(${a}, ${b})`,
  sqrt: (a) => `Mathf.sqrt(${a})`,
  exp: (a) => `expf(${a})`,
  log: (a) => `logf(${a})`,
};

/** `e` without the parentheses around the whole of it (if any): for a right-hand side. */
export function bare(e: string): string {
  if (!e.startsWith("(")) return e;
  let depth = 0;
  for (let i = 0; i < e.length; i++) {
    if (e[i] === "(") depth++;
    else if (e[i] === ")" && --depth === 0) return i === e.length - 1 ? e.slice(1, -1) : e;
  }
  return e;
}
