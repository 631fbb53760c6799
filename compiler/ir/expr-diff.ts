/**
 * Symbolic differentiation of elementwise expressions (EwExpr): d expr / d input_i, as another
 * EwExpr over the same inputs. The autodiff pass multiplies it by the upstream gradient; fusion
 * then folds the product into one loop. Ties of max/min send the gradient to the first operand
 * (spec §2.1: the first maximal element wins).
 */
import type { EwExpr } from "../emit/elementwise.js";

const c = (v: number): EwExpr => ({ k: "const", v });
const un = (op: any, a: EwExpr): EwExpr => ({ k: "un", op, a });
const bin = (op: any, a: EwExpr, b: EwExpr): EwExpr => ({ k: "bin", op, a, b });
const sel = (cmp: any, a: EwExpr, b: EwExpr, t: EwExpr, e: EwExpr): EwExpr => ({ k: "sel", cmp, a, b, then: t, else: e });

function isZero(e: EwExpr): boolean {
  return e.k === "const" && e.v === 0;
}

/** a·b with the trivial cases folded, so derivative expressions stay small. */
export function mul(a: EwExpr, b: EwExpr): EwExpr {
  if (isZero(a) || isZero(b)) return c(0);
  if (a.k === "const" && a.v === 1) return b;
  if (b.k === "const" && b.v === 1) return a;
  return bin("mul", a, b);
}

function add(a: EwExpr, b: EwExpr): EwExpr {
  if (isZero(a)) return b;
  if (isZero(b)) return a;
  return bin("add", a, b);
}

function neg(a: EwExpr): EwExpr {
  return isZero(a) ? a : a.k === "const" ? c(-a.v) : un("neg", a);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Derivative of a unary op at a (the op's input), as an expression. */
function unaryDerivative(op: string, a: EwExpr): EwExpr {
  switch (op) {
    case "neg": return c(-1);
    case "abs": return sel("ge", a, c(0), c(1), c(-1));
    case "exp": return un("exp", a);
    case "log": return un("recip", a);
    case "sqrt": return mul(c(0.5), un("recip", un("sqrt", a)));
    case "rsqrt": return mul(c(-0.5), mul(un("rsqrt", a), un("recip", a)));
    case "square": return mul(c(2), a);
    case "recip": return neg(un("square", un("recip", a)));
    case "tanh": return bin("sub", c(1), un("square", un("tanh", a)));
    case "sigmoid": { const s = un("sigmoid", a); return mul(s, bin("sub", c(1), s)); }
    case "erf": return mul(c(2 / Math.sqrt(Math.PI)), un("exp", neg(un("square", a))));
    case "relu": return sel("gt", a, c(0), c(1), c(0));
    case "leaky_relu": return sel("gt", a, c(0), c(1), c(0.2));
    case "elu": return sel("gt", a, c(0), c(1), un("exp", a));
    case "silu": { const s = un("sigmoid", a); return mul(s, add(c(1), mul(a, bin("sub", c(1), s)))); }
    case "softplus": return un("sigmoid", a);
    case "gelu": {
      // d/dx [x·Φ(x)] = Φ(x) + x·φ(x), Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^(−x²/2)/√(2π)
      const cdf = mul(c(0.5), add(c(1), un("erf", mul(a, c(SQRT1_2)))));
      const pdf = mul(c(INV_SQRT_2PI), un("exp", mul(c(-0.5), un("square", a))));
      return add(cdf, mul(a, pdf));
    }
    default: throw new Error(`internal: no derivative for unary ${op}`);
  }
}

/** d e / d input_i. */
export function diff(e: EwExpr, i: number): EwExpr {
  switch (e.k) {
    case "in": return c(e.i === i ? 1 : 0);
    case "const": return c(0);
    case "un": {
      const da = diff(e.a, i);
      return isZero(da) ? da : mul(unaryDerivative(e.op, e.a), da);
    }
    case "bin": {
      const da = diff(e.a, i), db = diff(e.b, i);
      switch (e.op) {
        case "add": return add(da, db);
        case "sub": return add(da, neg(db));
        case "mul": return add(mul(da, e.b), mul(e.a, db));
        case "div": return add(mul(da, un("recip", e.b)), neg(mul(db, bin("div", e.a, un("square", e.b)))));
        case "max": return add(sel("ge", e.a, e.b, da, c(0)), sel("ge", e.a, e.b, c(0), db));
        case "min": return add(sel("le", e.a, e.b, da, c(0)), sel("le", e.a, e.b, c(0), db));
      }
      throw new Error(`internal: no derivative for binary ${(e as any).op}`);
    }
    case "sel": {
      const dt = diff(e.then, i), de = diff(e.else, i);
      if (isZero(dt) && isZero(de)) return c(0);
      return sel(e.cmp, e.a, e.b, dt, de);
    }
  }
}

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
