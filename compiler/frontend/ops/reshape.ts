/**
 * Movement ops without data change: flatten ([...] -> [product]) and reshape (target_shape with at
 * most one -1, resolved here so later stages only see real sizes). No weights.
 */
import type { OpDef } from "./op.js";
import { MAX_DIM, checkedProduct, expectRank, fmtShape, sizeAttr, withDefaults } from "./attrs.js";
import { lowerReshape } from "../../passes/lower/layers.js";
import { lowerPermute, lowerRepeatVector } from "../../passes/lower/shape.js";

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

export const repeat_vector: OpDef = {
  lower: lowerRepeatVector,
  name: "repeat_vector",
  description: "Repeats each example's vector n times: [D] -> [n, D].",
  minInputs: 1,
  maxInputs: 1,
  attrs: { n: sizeAttr("Number of repetitions.") },
  required: ["n"],
  normalize(raw) {
    return withDefaults(this.attrs, raw);
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "repeat_vector", "[D]", 1)) return undefined;
    if (checkedProduct([a.n as number, x[0]!]) > MAX_DIM) {
      ctx.error(`repeating input ${fmtShape(x)} ${a.n} times gives more than ${MAX_DIM} elements per example`, "n");
      return undefined;
    }
    return [a.n as number, x[0]!];
  },
  weights: () => [],
};

export const permute: OpDef = {
  lower: lowerPermute,
  name: "permute",
  description: "Permutes the axes of each example: output axis i is input axis dims[i] (1 = the first axis of the example, as Keras counts).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    dims: {
      title: "a permutation of 1..rank (a list of distinct positive integers)",
      description: "Output axis i is input axis dims[i]; axes count from 1 (the batch axis 0 never moves), in kiln.graph/v1 files too.",
      type: "array",
      items: { title: "a positive integer", type: "integer", minimum: 1, maximum: 8 },
      minItems: 1,
      maxItems: 8,
      uniqueItems: true,
    },
  },
  required: ["dims"],
  normalize(raw, ctx) {
    const dims = raw.dims as number[];
    const rank = ctx.inputShapes[0]!.length;
    if (dims.length !== rank || !dims.every((d) => d >= 1 && d <= rank)) {
      ctx.error(`dims ${fmtShape(dims)} is not a permutation of 1..${rank} for input "${ctx.inputNames[0]}" of shape ${fmtShape(ctx.inputShapes[0]!)} (axes count from 1; the batch axis 0 cannot move)`, "dims");
      return undefined;
    }
    return { dims: [...dims] };
  },
  shape: ([x], a) => (a.dims as number[]).map((d) => x[d - 1]!),
  weights: () => [],
};
