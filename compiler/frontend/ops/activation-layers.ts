/**
 * The Keras activation layers with parameters: `relu` (ReLU: max_value, negative_slope,
 * threshold; ReLU6 is max_value 6), `leaky_relu` (LeakyReLU, negative_slope 0.3), `elu` (ELU,
 * alpha) and `prelu` (PReLU: a learned `alpha` per element of the example, shared along
 * `shared_axes`). All keep the shape; each lowers to one elementwise expression
 * (passes/lower/activations.ts) — prelu's alpha broadcast as its shared axes say.
 */
import type { OpDef } from "./op.js";
import type { Layer } from "../graph-types.js";
import { fmtShape, holdsAxes, initAttr, initializer, normAxis, withDefaults } from "./attrs.js";
import { FULL, X, perCol } from "../../ir/expr.js";
import { numel, type Tensor } from "../../ir/ir.js";
import type { Lowering } from "../../passes/lower/layers.js";
import type { Builder } from "../../passes/lower/builder.js";
import { eluExpr, leakyReluExpr, preluExpr, reluExpr } from "../../passes/lower/activations.js";

const nonNegative = (description: string, dflt: number) => ({ title: "a number ≥ 0", description, type: "number", minimum: 0, default: dflt });
const a = (layer: Layer) => layer.attrs as Record<string, any>;

/** One elementwise layer: y = f(x). */
const pointwise = (f: (layer: Layer) => ReturnType<typeof reluExpr>): Lowering => (b, layer, [x]) => b.ew(f(layer), [[x!, FULL]], b.act(x!.shape));

function shapeKeeping(name: string, description: string, attrs: OpDef["attrs"], lower: Lowering): OpDef {
  return {
    lower, name, description, minInputs: 1, maxInputs: 1, attrs,
    normalize(raw) { return withDefaults(this.attrs, raw); },
    shape: ([x]) => [...x],
    weights: () => [],
  };
}

export const relu = shapeKeeping("relu", "Keras ReLU layer: x·(x > threshold), clipped to [0, max_value], minus negative_slope·relu(threshold − x); same shape.", {
  max_value: { title: "a number ≥ 0 or null", description: "Upper bound of the output (null: none; 6 is ReLU6).", type: ["number", "null"], minimum: 0, default: null },
  negative_slope: nonNegative("Slope below the threshold.", 0),
  threshold: { title: "a number", description: "Values at or below it are 0 (before the negative slope).", type: "number", default: 0 },
}, pointwise((l) => reluExpr(X.in(0), a(l).max_value ?? null, a(l).negative_slope, a(l).threshold)));

export const leaky_relu = shapeKeeping("leaky_relu", "Keras LeakyReLU layer: x for x > 0, negative_slope·x otherwise; same shape.", {
  negative_slope: nonNegative("Slope for x ≤ 0 (Keras 3 default 0.3; the leaky_relu activation's is 0.2).", 0.3),
}, pointwise((l) => leakyReluExpr(X.in(0), a(l).negative_slope)));

export const elu = shapeKeeping("elu", "Keras ELU layer: x for x > 0, alpha·(e^x − 1) otherwise; same shape.", {
  alpha: { title: "a number", description: "Scale of the negative part.", type: "number", default: 1 },
}, pointwise((l) => eluExpr(X.in(0), a(l).alpha)));

/** The per-example axes of `shape` whose alpha is shared (normalized, sorted, unique). */
const sharedOf = (layer: Layer): number[] => a(layer).shared_axes as number[];

/** prelu's alpha shape: the input's, with 1 on every shared axis (Keras). */
const alphaShape = (x: readonly number[], shared: readonly number[]): number[] => x.map((d, i) => (shared.includes(i) ? 1 : d));

/** Does every shared axis come before every unshared one (alpha is then a per-column vector of the trailing block)? */
const sharedLeading = (shared: readonly number[]): boolean => shared.every((s, i) => s === i);

const lowerPrelu: Lowering = (b, layer, [x]) => {
  const shared = sharedOf(layer);
  const shape = x!.shape;
  const alpha = b.weight(layer, "alpha");
  if (sharedLeading(shared)) return preluOnTrailing(b, x!, alpha, numel(alphaShape(shape, shared)));
  // Shared axes among unshared ones: move the shared axes first (a strided copy, whose gradient
  // is the reverse copy), apply alpha per trailing column there, move back.
  const order = [...shared, ...shape.map((_, i) => i).filter((i) => !shared.includes(i))];
  const strides = shape.map((_, i) => numel(shape.slice(i + 1)));
  const n = numel(shape);
  const permShape = order.map((i) => shape[i]!);
  const permStrides = permShape.map((_, i) => numel(permShape.slice(i + 1)));
  const there = { shape: [{ batch: 1 }, ...permShape], srcStrides: [n, ...order.map((i) => strides[i]!)], dstStrides: [n, ...permStrides] };
  const moved = b.act(permShape);
  b.copy(x!, moved, there);
  const y = preluOnTrailing(b, moved, alpha, numel(alphaShape(shape, shared)));
  const out = b.act([...shape]);
  b.copy(y, out, { shape: there.shape, srcStrides: there.dstStrides, dstStrides: there.srcStrides });
  return out;
};

/** relu(x) − alpha·relu(−x) with alpha one value per column of the trailing `cols` elements. */
function preluOnTrailing(b: Builder, x: Tensor, alpha: Tensor, cols: number): Tensor {
  return b.ew(preluExpr(X.in(0), X.in(1)), [[x, FULL], [alpha, perCol(cols)]], b.act(x.shape), cols);
}

export const prelu: OpDef = {
  lower: lowerPrelu,
  name: "prelu",
  description: "Keras PReLU layer: relu(x) − alpha·relu(−x) with a learned alpha per element, shared along shared_axes; same shape.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    alpha_initializer: initAttr("zeros", "slope alpha"),
    shared_axes: holdsAxes({
      title: "null or a list of axes",
      description: "Axes along which alpha is shared (one value for the whole axis), counted as Keras does: 1 is the first axis of the example; e.g. [1, 2] for one alpha per channel of an image.",
      type: ["array", "null"],
      items: { title: "an integer axis", type: "integer", minimum: -9, maximum: 8 },
      default: null,
    }),
  },
  normalize(raw, ctx) {
    const attrs = withDefaults(this.attrs, raw);
    const rank = ctx.inputShapes[0].length;
    const shared: number[] = [];
    for (const axis of (attrs.shared_axes ?? []) as number[]) {
      const i = normAxis(axis, rank, ctx, "shared_axes");
      if (i === undefined) return undefined;
      if (!shared.includes(i)) shared.push(i);
    }
    shared.sort((p, q) => p - q);
    attrs.shared_axes = shared;
    return attrs;
  },
  shape: ([x]) => [...x],
  weights([x], attrs) {
    const shape = alphaShape(x, attrs.shared_axes as number[]);
    return [{ name: "alpha", shape, initializer: initializer(attrs.alpha_initializer, shape) }];
  },
};
