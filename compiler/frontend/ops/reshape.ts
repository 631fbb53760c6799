/**
 * Movement ops without data change: flatten ([...] -> [product]) and reshape (target_shape with at
 * most one -1, resolved here so later stages only see real sizes). No weights.
 */
import type { OpDef } from "./op.js";
import { MAX_DIM, checkedProduct, fmtShape } from "./attrs.js";
import { lowerReshape } from "../../passes/lower/layers.js";

export const flatten: OpDef = {
  lower: lowerReshape,
  name: "flatten",
  description: "Flattens each example to one axis: [...] -> [product].",
  minInputs: 1,
  maxInputs: 1,
  attrs: {},
  normalize: () => ({}),
  shape: ([x]) => [checkedProduct(x)],
  weights: () => [],
};

export const reshape: OpDef = {
  lower: lowerReshape,
  name: "reshape",
  description: "Reshapes each example to target_shape (same element count; one entry may be -1).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    target_shape: {
      title: "a list of positive integers (one may be -1)",
      description: "The new per-example shape (batch axis excluded); one entry may be -1 to infer it.",
      type: "array",
      items: { title: "a positive integer or -1", type: "integer", minimum: -1, maximum: MAX_DIM },
      maxItems: 8,
    },
  },
  required: ["target_shape"],
  normalize(raw, ctx) {
    const target = raw.target_shape as number[];
    const bad = target.findIndex((d) => d === 0);
    if (bad >= 0) {
      ctx.error(`target_shape entries must be positive or -1; got 0 at index ${bad}`, "target_shape");
      return undefined;
    }
    const holes = target.filter((d) => d === -1).length;
    if (holes > 1) {
      ctx.error(`target_shape may contain -1 at most once; got ${fmtShape(target)}`, "target_shape");
      return undefined;
    }
    const total = checkedProduct(ctx.inputShapes[0]);
    const known = checkedProduct(target.filter((d) => d !== -1));
    const fits = holes ? total % known === 0 : total === known;
    if (!fits) {
      ctx.error(`cannot reshape input "${ctx.inputNames[0]}" of shape ${fmtShape(ctx.inputShapes[0])} (${total} elements) to ${fmtShape(target)}`, "target_shape");
      return undefined;
    }
    return { target_shape: target.map((d) => (d === -1 ? total / known : d)) };
  },
  shape: (_x, a) => [...(a.target_shape as number[])],
  weights: () => [],
};
