/**
 * Symbolic differentiation of elementwise expressions (EwExpr): d expr / d input_i, as another
 * EwExpr over the same inputs. The autodiff pass multiplies it by the upstream gradient; fusion
 * then folds the product into one loop. Ties of max/min send the gradient to the first operand
 * (spec §2.1: the first maximal element wins).
 */
import { X, isZero, type EwExpr, type EwUnary } from "./expr.js";

const { c, un, bin, sel, times, plus, negate } = X;

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Derivative of a unary op at a (the op's input), as an expression. */
function unaryDerivative(op: EwUnary, a: EwExpr): EwExpr {
  switch (op) {
    case "neg": return c(-1);
    case "abs": return sel("ge", a, c(0), c(1), c(-1));
    case "exp": return un("exp", a);
    case "log": return un("recip", a);
    case "sqrt": return times(c(0.5), un("recip", un("sqrt", a)));
    case "rsqrt": return times(c(-0.5), times(un("rsqrt", a), un("recip", a)));
    case "square": return times(c(2), a);
    case "recip": return negate(un("square", un("recip", a)));
    case "tanh": return bin("sub", c(1), un("square", un("tanh", a)));
    case "sigmoid": { const s = un("sigmoid", a); return times(s, bin("sub", c(1), s)); }
    case "erf": return times(c(2 / Math.sqrt(Math.PI)), un("exp", negate(un("square", a))));
    case "relu": return sel("gt", a, c(0), c(1), c(0));
    case "leaky_relu": return sel("gt", a, c(0), c(1), c(0.2));
    case "elu": return sel("gt", a, c(0), c(1), un("exp", a));
    case "silu": { const s = un("sigmoid", a); return times(s, plus(c(1), times(a, bin("sub", c(1), s)))); }
    case "softplus": return un("sigmoid", a);
    case "gelu": {
      // d/dx [x·Φ(x)] = Φ(x) + x·φ(x), Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^(−x²/2)/√(2π)
      const cdf = times(c(0.5), plus(c(1), un("erf", times(a, c(SQRT1_2)))));
      const pdf = times(c(INV_SQRT_2PI), un("exp", times(c(-0.5), un("square", a))));
      return plus(cdf, times(a, pdf));
    }
  }
}

/** d(a op b) given da and db. */
function binaryDerivative(e: Extract<EwExpr, { k: "bin" }>, da: EwExpr, db: EwExpr): EwExpr {
  switch (e.op) {
    case "add": return plus(da, db);
    case "sub": return plus(da, negate(db));
    case "mul": return plus(times(da, e.b), times(e.a, db));
    case "div": return plus(times(da, un("recip", e.b)), negate(times(db, bin("div", e.a, un("square", e.b)))));
    case "max": return plus(sel("ge", e.a, e.b, da, c(0)), sel("ge", e.a, e.b, c(0), db));
    case "min": return plus(sel("le", e.a, e.b, da, c(0)), sel("le", e.a, e.b, c(0), db));
  }
}

/** d e / d input_i. */
export function diff(e: EwExpr, i: number): EwExpr {
  switch (e.k) {
    case "in": return c(e.i === i ? 1 : 0);
    case "const": return c(0);
    case "un": {
      const da = diff(e.a, i);
      return isZero(da) ? da : times(unaryDerivative(e.op, e.a), da);
    }
    case "bin": return binaryDerivative(e, diff(e.a, i), diff(e.b, i));
    case "sel": {
      const dt = diff(e.then, i), de = diff(e.else, i);
      if (isZero(dt) && isZero(de)) return c(0);
      return sel(e.cmp, e.a, e.b, dt, de);
    }
  }
}
