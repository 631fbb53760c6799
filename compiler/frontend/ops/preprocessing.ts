/**
 * The Keras preprocessing layers that are arithmetic on each value, so a model that starts with
 * them (EfficientNet, MobileNetV3: images of 0–255 in) imports whole:
 *  - `rescaling` (Keras Rescaling): y = x·scale + offset; scale and offset are numbers or lists
 *    broadcast against the last axis (numpy's rule: one value, or one per channel).
 *  - `normalization` (Keras 3 Normalization): y = (x − mean) / max(√variance, 1e-7) with a mean
 *    and variance per index of the kept `axis` (inverted: y = mean + x·max(√variance, 1e-7)).
 *    The statistics are either attributes (Keras's `mean` / `variance` arguments) or, when those
 *    are null, the layer's non-trainable weights `mean` and `variance` (what Keras stores after
 *    adapt(); kiln does not adapt: the values come from an imported or hand-made weights file).
 * Neither has a trainable weight; both pass the gradient to their input (elementwise).
 * Per-channel values from attributes become a `constant` primitive (compile-time values).
 */
import type { JsonSchema, OpContext, OpDef, WeightDecl } from "./op.js";
import type { Attrs, Layer } from "../graph-types.js";
import { boolAttr, fmtShape, holdsAxes, kerasAxis, normAxis, withDefaults } from "./attrs.js";
import { FULL, X, perCol, type EwExpr, type EwInput } from "../../ir/expr.js";
import { numel, type Tensor } from "../../ir/ir.js";
import { onAxesLast, type Lowering } from "../../passes/lower/layers.js";
import type { Builder } from "../../passes/lower/builder.js";

/** Keras's backend.epsilon(): the floor of √variance in Normalization. */
export const NORMALIZATION_EPSILON = 1e-7;

/** A number, or a list broadcast against the last axis (one value, or one per channel). */
type Values = number | number[];

const a = (layer: Layer) => layer.attrs as Record<string, any>;

function valuesAttr(description: string, minimum?: number, nullable = false): JsonSchema {
  const bound = minimum === undefined ? {} : { minimum };
  const what = minimum === undefined ? "a number" : `a number ≥ ${minimum}`;
  return {
    title: `${nullable ? "null, " : ""}${what} or a list of ${minimum === undefined ? "numbers" : "them"}`,
    description,
    type: nullable ? ["number", "array", "null"] : ["number", "array"],
    ...bound,
    items: { title: what, type: "number", ...bound },
    minItems: 1,
  };
}

/** Checks a list `attr` can broadcast against an axis of `size` (numpy: 1 or equal); reports otherwise. */
function broadcasts(v: Values, size: number | undefined, what: string, attr: string, ctx: OpContext): boolean {
  if (!Array.isArray(v) || v.length === 1 || v.length === size) return true;
  ctx.error(`${attr} has ${v.length} values, which do not broadcast against ${what} (expected 1${size === undefined ? "" : ` or ${size}`} values)`, attr);
  return false;
}

/** A value list as an ew operand: a constant in the expression, or a per-column constant tensor appended to `inputs`. */
function operand(b: Builder, v: Values, inputs: [Tensor, EwInput][], cols: number): EwExpr {
  if (!Array.isArray(v)) return X.c(v);
  if (v.length === 1) return X.c(v[0]!);
  inputs.push([b.constant(v), perCol(cols)]);
  return X.in(inputs.length - 1);
}

const lowerRescaling: Lowering = (b, layer, [x]) => {
  const cols = x!.shape.at(-1) ?? 1;
  const inputs: [Tensor, EwInput][] = [[x!, FULL]];
  const scale = operand(b, a(layer).scale, inputs, cols);
  const offset = operand(b, a(layer).offset, inputs, cols);
  return b.ew(X.plus(X.times(X.in(0), scale), offset), inputs, b.act(x!.shape), cols);
};

export const rescaling: OpDef = {
  lower: lowerRescaling,
  name: "rescaling",
  description: "Keras Rescaling layer: x·scale + offset, scale and offset a number or one per channel (last axis); same shape.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    scale: valuesAttr("Factor: a number, or a list of one value per index of the last axis (or of one value)."),
    offset: { ...valuesAttr("Added after scaling: a number, or a list of one value per index of the last axis (or of one value)."), default: 0 },
  },
  required: ["scale"],
  normalize(raw, ctx) {
    const attrs = withDefaults(this.attrs, raw);
    const x = ctx.inputShapes[0];
    const what = `the last axis of input "${ctx.inputNames[0]}" (shape ${fmtShape(x)})`;
    for (const attr of ["scale", "offset"]) if (!broadcasts(attrs[attr] as Values, x.at(-1), what, attr, ctx)) return undefined;
    return attrs;
  },
  shape: ([x]) => [...x],
  weights: () => [],
};

// ------------------------------------------------------------------ normalization

/** The kept axes (sorted per-example indices) of a normalized normalization layer. */
const keptAxes = (attrs: Attrs): number[] => attrs.axis as number[];

/** Keras `axis`: null (one mean for everything), an axis, or a list; → the sorted, distinct per-example indices. */
function keptFrom(given: unknown, ctx: OpContext): number[] | undefined {
  const rank = ctx.inputShapes[0].length;
  const list = given === null ? [] : Array.isArray(given) ? (given as number[]) : [given as number];
  const kept: number[] = [];
  for (const [i, v] of list.entries()) {
    const axis = normAxis(v, rank, ctx, Array.isArray(given) ? `axis/${i}` : "axis");
    if (axis === undefined) return undefined;
    if (kept.includes(axis)) {
      ctx.error(`axis ${JSON.stringify(given)} names axis ${kerasAxis(axis)} twice (input shape ${fmtShape(ctx.inputShapes[0])})`, "axis");
      return undefined;
    }
    kept.push(axis);
  }
  return kept.sort((p, q) => p - q);
}

/** Keras: mean and variance are given together, with the same shape, broadcasting against the last kept axis. */
function statisticsOk(attrs: Attrs, kept: number[], ctx: OpContext): boolean {
  const { mean, variance } = attrs as { mean: Values | null; variance: Values | null };
  if ((mean === null) !== (variance === null)) {
    ctx.error(`mean and variance are given together or not at all (got mean ${JSON.stringify(mean)}, variance ${JSON.stringify(variance)})`, mean === null ? "mean" : "variance");
    return false;
  }
  if (mean === null || variance === null) return true;
  const length = (v: Values) => (Array.isArray(v) ? v.length : 0);
  if (length(mean) !== length(variance)) {
    ctx.error(`mean and variance must have the same shape: mean has ${length(mean) || "one"} value(s), variance ${length(variance) || "one"}`, "variance");
    return false;
  }
  if (Array.isArray(mean) && kept.length === 0) {
    ctx.error("a list of means needs a kept axis: axis is null, so mean and variance are single numbers", "mean");
    return false;
  }
  const last = kept.at(-1);
  const size = last === undefined ? undefined : ctx.inputShapes[0][last];
  const what = `kept axis ${last === undefined ? "" : kerasAxis(last)} of input "${ctx.inputNames[0]}" (shape ${fmtShape(ctx.inputShapes[0])})`;
  return broadcasts(mean, size, what, "mean", ctx) && broadcasts(variance, size, what, "variance", ctx);
}

/** Per-index values over the kept shape (row-major) of a list given for the last kept axis. */
function expand(v: number[], keptShape: number[]): number[] {
  const n = numel(keptShape);
  return Array.from({ length: n }, (_, k) => v[v.length === 1 ? 0 : k % v.length]!);
}

/** (x − mean)/max(√var, ε), or mean + x·max(√var, ε) when inverted; inputs [x, mean?, var?] as operands say. */
function normalizationExpr(mean: EwExpr, variance: EwExpr, invert: boolean): EwExpr {
  const spread = X.bin("max", X.un("sqrt", variance), X.c(NORMALIZATION_EPSILON));
  return invert ? X.add(mean, X.mul(X.in(0), spread)) : X.bin("div", X.sub(X.in(0), mean), spread);
}

/** The statistics as ew operands over an x whose kept block is read through `map` (columns `cols`). */
function lowerNormalizationOn(b: Builder, layer: Layer, x: Tensor, keptShape: number[], map: EwInput, cols: number): Tensor {
  const inputs: [Tensor, EwInput][] = [[x, FULL]];
  const stat = (name: "mean" | "variance"): EwExpr => {
    const given = a(layer)[name] as Values | null;
    if (given === null) {
      inputs.push([b.weight(layer, name), map]);
      return X.in(inputs.length - 1);
    }
    if (!Array.isArray(given) || given.length === 1) return X.c(Array.isArray(given) ? given[0]! : given);
    inputs.push([b.constant(expand(given, keptShape)), map]);
    return X.in(inputs.length - 1);
  };
  const mean = stat("mean"), variance = stat("variance");
  return b.ew(normalizationExpr(mean, variance, a(layer).invert === true), inputs, b.act(x.shape), cols);
}

const lowerNormalization: Lowering = (b, layer, [x]) => {
  const kept = keptAxes(layer.attrs);
  const shape = x!.shape;
  const keptShape = kept.map((i) => shape[i]!);
  const n = numel(keptShape);
  if (kept.length === 0) return lowerNormalizationOn(b, layer, x!, keptShape, { div: 1, mod: 1 }, shape.at(-1) ?? 1);
  const first = kept[0]!, last = kept.at(-1)!;
  if (last - first + 1 === kept.length) {
    // Contiguous kept axes: element e of an example reads statistic ⌊e / inner⌋ mod n.
    const inner = numel(shape.slice(last + 1));
    if (inner === 1) return lowerNormalizationOn(b, layer, x!, keptShape, perCol(n), n);
    return lowerNormalizationOn(b, layer, x!, keptShape, { div: inner, mod: n }, numel(shape));
  }
  // Kept axes among reduced ones: move them last (in order), normalize per column there, move back.
  return onAxesLast(b, x!, kept, (moved) => lowerNormalizationOn(b, layer, moved, keptShape, perCol(n), n));
};

export const normalization: OpDef = {
  lower: lowerNormalization,
  name: "normalization",
  description: "Keras 3 Normalization layer: (x − mean) / max(√variance, 1e-7) per index of the kept axes (statistics as attributes, or as non-trainable weights); same shape.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    axis: holdsAxes({
      title: "null, an integer axis or a list of distinct ones",
      description: "The axis (or axes) that keep their own mean and variance, counted as Keras does (0 is the batch axis, never allowed; -1 the last); null: one mean and variance for every value.",
      type: ["integer", "array", "null"],
      minimum: -9,
      maximum: 8,
      items: { title: "an integer axis", type: "integer", minimum: -9, maximum: 8 },
      minItems: 1,
      default: -1,
    }),
    mean: { ...valuesAttr("The mean: a number, or a list for the last kept axis (one value or one per index); null: the layer's weight `mean`.", undefined, true), default: null },
    variance: { ...valuesAttr("The variance (≥ 0), given with `mean`; null: the layer's weight `variance`.", 0, true), default: null },
    invert: boolAttr("Undo a normalization instead: mean + x·max(√variance, 1e-7).", false),
  },
  normalize(raw, ctx) {
    const attrs = withDefaults(this.attrs, raw);
    const kept = keptFrom(attrs.axis, ctx);
    if (kept === undefined || !statisticsOk(attrs, kept, ctx)) return undefined;
    attrs.axis = kept;
    return attrs;
  },
  shape: ([x]) => [...x],
  // Keras also keeps adapt()'s sample count (an int scalar) and counts it: 2·C + 1 for an image's channels.
  kerasOnlyParams: (attrs) => (attrs.mean === null ? 1 : 0),
  weights([x], attrs) {
    if (attrs.mean !== null) return [];
    const shape = keptAxes(attrs).map((i) => x[i]!);
    const w: WeightDecl[] = [
      { name: "mean", shape, initializer: { name: "zeros", fanIn: 1, fanOut: 1 }, trainable: false },
      { name: "variance", shape, initializer: { name: "ones", fanIn: 1, fanOut: 1 }, trainable: false },
    ];
    return w;
  },
};
