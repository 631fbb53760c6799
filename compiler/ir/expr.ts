/**
 * The IR's elementwise expressions: the `ew` primitive computes one EwExpr per output over its
 * inputs, `reduce` one (`pre`) before summing. Each input is read through an EwInput broadcast
 * map. This module owns the types, the one builder (`X`), the broadcast maps and the structural
 * helpers (arity, renumbering, substitution, equality) that lowering, autodiff, fusion and the
 * emitters share; symbolic derivatives are in expr-diff.ts.
 */

export type EwUnary = "neg" | "abs" | "exp" | "log" | "sqrt" | "rsqrt" | "square" | "recip" | "tanh" | "sigmoid" | "erf"
  | "relu" | "gelu" | "leaky_relu" | "elu" | "silu" | "softplus";
export type EwBinary = "add" | "sub" | "mul" | "div" | "max" | "min";
export type EwCmp = "gt" | "ge" | "lt" | "le" | "eq";
export type EwExpr =
  | { k: "in"; i: number }
  | { k: "const"; v: number }
  | { k: "un"; op: EwUnary; a: EwExpr }
  | { k: "bin"; op: EwBinary; a: EwExpr; b: EwExpr }
  | { k: "sel"; cmp: EwCmp; a: EwExpr; b: EwExpr; then: EwExpr; else: EwExpr };

/**
 * How input i maps the flat output index e of an [rows, cols] domain to its own element:
 * idx = floor(e / div) % mod (mod omitted: no modulo). dtype is filled in at kernel selection.
 */
export interface EwInput { div: number; mod?: number; dtype?: "f32" | "i32" }

/** Broadcast maps over an [rows, cols] domain. */
export const FULL: EwInput = { div: 1 };
export const perCol = (cols: number): EwInput => ({ div: 1, mod: cols });
export const perRow = (cols: number): EwInput => ({ div: cols });
export const SCALAR: EwInput = { div: 1, mod: 1 };
export const isFull = (m: EwInput): boolean => m.div === 1 && m.mod === undefined;

const isZero = (e: EwExpr): boolean => e.k === "const" && e.v === 0;
const isOne = (e: EwExpr): boolean => e.k === "const" && e.v === 1;

/**
 * The expression builder. The plain constructors build exactly the node asked for; `times`,
 * `plus` and `negate` fold the trivial cases (0·x, 1·x, x + 0, −0), so that derivative
 * expressions stay small.
 */
export const X = {
  in: (i: number): EwExpr => ({ k: "in", i }),
  c: (v: number): EwExpr => ({ k: "const", v }),
  un: (op: EwUnary, a: EwExpr): EwExpr => ({ k: "un", op, a }),
  bin: (op: EwBinary, a: EwExpr, b: EwExpr): EwExpr => ({ k: "bin", op, a, b }),
  sel: (cmp: EwCmp, a: EwExpr, b: EwExpr, then: EwExpr, otherwise: EwExpr): EwExpr => ({ k: "sel", cmp, a, b, then, else: otherwise }),
  add: (a: EwExpr, b: EwExpr): EwExpr => X.bin("add", a, b),
  sub: (a: EwExpr, b: EwExpr): EwExpr => X.bin("sub", a, b),
  mul: (a: EwExpr, b: EwExpr): EwExpr => X.bin("mul", a, b),
  times(a: EwExpr, b: EwExpr): EwExpr {
    if (isZero(a) || isZero(b)) return X.c(0);
    if (isOne(a)) return b;
    if (isOne(b)) return a;
    return X.mul(a, b);
  },
  plus(a: EwExpr, b: EwExpr): EwExpr {
    if (isZero(a)) return b;
    if (isZero(b)) return a;
    return X.add(a, b);
  },
  negate(a: EwExpr): EwExpr {
    return isZero(a) ? a : a.k === "const" ? X.c(-a.v) : X.un("neg", a);
  },
  /** (a > 0 ? 1 : 0): relu's derivative, as autodiff writes it from relu's output. */
  positive: (a: EwExpr): EwExpr => X.sel("gt", a, X.c(0), X.c(1), X.c(0)),
};

export { isZero };

/** The highest input index an expression reads, +1. */
export function arity(e: EwExpr): number {
  switch (e.k) {
    case "in": return e.i + 1;
    case "const": return 0;
    case "un": return arity(e.a);
    case "bin": return Math.max(arity(e.a), arity(e.b));
    case "sel": return Math.max(arity(e.a), arity(e.b), arity(e.then), arity(e.else));
  }
}

/** Renumbers inputs: input i becomes map(i). */
export function remap(e: EwExpr, map: (i: number) => number): EwExpr {
  switch (e.k) {
    case "in": return { k: "in", i: map(e.i) };
    case "const": return e;
    case "un": return { ...e, a: remap(e.a, map) };
    case "bin": return { ...e, a: remap(e.a, map), b: remap(e.b, map) };
    case "sel": return { ...e, a: remap(e.a, map), b: remap(e.b, map), then: remap(e.then, map), else: remap(e.else, map) };
  }
}

/** Replaces input i by an expression (fusion of a producer into its consumer). */
export function substitute(e: EwExpr, i: number, by: EwExpr): EwExpr {
  switch (e.k) {
    case "in": return e.i === i ? by : e;
    case "const": return e;
    case "un": return { ...e, a: substitute(e.a, i, by) };
    case "bin": return { ...e, a: substitute(e.a, i, by), b: substitute(e.b, i, by) };
    case "sel": return { ...e, a: substitute(e.a, i, by), b: substitute(e.b, i, by), then: substitute(e.then, i, by), else: substitute(e.else, i, by) };
  }
}

/** Structural equality (constants compared with Object.is, so −0 ≠ 0 and NaN = NaN). */
export function sameExpr(x: EwExpr, y: EwExpr): boolean {
  switch (x.k) {
    case "in": return y.k === "in" && x.i === y.i;
    case "const": return y.k === "const" && Object.is(x.v, y.v);
    case "un": return y.k === "un" && x.op === y.op && sameExpr(x.a, y.a);
    case "bin": return y.k === "bin" && x.op === y.op && sameExpr(x.a, y.a) && sameExpr(x.b, y.b);
    case "sel": return y.k === "sel" && x.cmp === y.cmp && sameExpr(x.a, y.a) && sameExpr(x.b, y.b) && sameExpr(x.then, y.then) && sameExpr(x.else, y.else);
  }
}

/** Equality of broadcast maps. */
export function sameInput(a: EwInput, b: EwInput): boolean {
  return a.div === b.div && a.mod === b.mod && a.dtype === b.dtype;
}
