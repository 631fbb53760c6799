/**
 * Shared pieces for op definitions: attribute schema fragments (with Keras defaults and the short
 * `title` phrases error messages quote), default filling, [h, w] pairs, axis normalization and
 * initializers with Keras fans. Kept here so every op states its attributes the same way.
 */
import type { ActivationName, Attrs, Initializer, InitializerName } from "../graph-types.js";
import type { JsonSchema, OpContext } from "./op.js";

/** Largest size attribute or dimension: keeps every single dimension a valid i32. */
export const MAX_DIM = 2147483647;

export const ACTIVATIONS: readonly string[] = [
  "linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "leaky_relu", "elu", "silu", "swish", "softplus",
  "relu6", "hard_sigmoid", "hard_sigmoid_legacy", "hard_silu", "hard_swish", "mish", "selu", "exponential", "log_softmax",
];

export const INITIALIZERS: readonly InitializerName[] = [
  "zeros", "ones", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal",
  "random_normal", "random_uniform", "uniform", "orthogonal",
];

export function sizeAttr(description: string, extra: JsonSchema = {}): JsonSchema {
  return { title: "a positive integer", description, type: "integer", minimum: 1, maximum: MAX_DIM, ...extra };
}

/** An int or an [h, w] pair, as Keras accepts for kernel_size, strides, pool_size, dilation_rate. */
export function pairAttr(description: string, dflt?: number): JsonSchema {
  const s: JsonSchema = {
    title: "a positive integer or a list of 2 positive integers",
    description,
    type: ["integer", "array"],
    minimum: 1,
    maximum: MAX_DIM,
    items: { title: "a positive integer", type: "integer", minimum: 1, maximum: MAX_DIM },
    minItems: 2,
    maxItems: 2,
  };
  if (dflt !== undefined) s.default = dflt;
  return s;
}

/** An int or a list of 1 int, as Keras accepts for the 1-D ops' kernel_size, strides, pool_size, dilation_rate. */
export function singleAttr(description: string, dflt?: number): JsonSchema {
  const s: JsonSchema = {
    title: "a positive integer or a list of 1 positive integer",
    description,
    type: ["integer", "array"],
    minimum: 1,
    maximum: MAX_DIM,
    items: { title: "a positive integer", type: "integer", minimum: 1, maximum: MAX_DIM },
    minItems: 1,
    maxItems: 1,
  };
  if (dflt !== undefined) s.default = dflt;
  return s;
}

/** int → v; [v] → v. */
export function single(v: unknown): number {
  return Array.isArray(v) ? Number(v[0]) : Number(v);
}

export function boolAttr(description: string, dflt: boolean): JsonSchema {
  return { title: "true or false", description, type: "boolean", default: dflt };
}

export function activationAttr(dflt: ActivationName = "linear"): JsonSchema {
  return {
    title: `one of ${ACTIVATIONS.map((a) => `"${a}"`).join(", ")}`,
    description: "Activation applied to the output; swish is an alias of silu, hard_swish of hard_silu.",
    enum: [...ACTIVATIONS],
    default: dflt,
  };
}

/** Most axes of one example's shape (the schema's limit on `shape`). */
export const MAX_RANK = 8;

/** Axis attribute schemas, so the v1 reader can find every axis attribute of every op. */
const AXIS_SCHEMAS = new WeakSet<JsonSchema>();

export function axisAttr(description: string): JsonSchema {
  const s: JsonSchema = {
    title: "an integer axis",
    description: `${description} Counts axes as Keras does: 0 is the batch axis (never allowed: it would span examples), 1 the first axis of the shape written in the graph, -1 the last.`,
    type: "integer",
    minimum: -(MAX_RANK + 1),
    maximum: MAX_RANK,
    default: -1,
  };
  AXIS_SCHEMAS.add(s);
  return s;
}

/**
 * Marks an attribute schema whose value holds axes (an axis, or a list of them) though it is not
 * made by axisAttr, so the v1 reader's note lists it too. Returns the schema.
 */
export function holdsAxes(schema: JsonSchema): JsonSchema {
  AXIS_SCHEMAS.add(schema);
  return schema;
}

/** Does this attribute schema hold axes (made by axisAttr, or marked by holdsAxes)? */
export function isAxisAttr(schema: JsonSchema): boolean {
  return AXIS_SCHEMAS.has(schema);
}

export function initAttr(dflt: InitializerName, what: string): JsonSchema {
  return {
    title: `an initializer name (${INITIALIZERS.map((a) => `"${a}"`).join(", ")})`,
    description: `Initializer of the ${what} (Keras default ${dflt}).`,
    enum: [...INITIALIZERS],
    default: dflt,
  };
}

/** A copy of `raw` restricted to the op's attributes, with every schema default filled in. */
export function withDefaults(attrs: Record<string, JsonSchema>, raw: Attrs): Attrs {
  const out: Attrs = {};
  for (const [key, schema] of Object.entries(attrs)) {
    const v = Object.hasOwn(raw, key) ? raw[key] : schema.default;
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** int → [v, v]; [h, w] stays. */
export function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)];
}

export function normActivation(v: unknown): ActivationName {
  return (v === "swish" ? "silu" : v === "hard_swish" ? "hard_silu" : v) as ActivationName;
}

/**
 * An axis attribute → its index into the per-example shape (batch axis excluded), or undefined
 * after reporting. kiln.graph/v2 counts as Keras: with `rank` axes per example, 1..rank and
 * -rank..-1 are valid, 0 and -(rank+1) name the batch axis. kiln.graph/v1 counted within one
 * example: 0..rank-1 and -rank..-1.
 */
export function normAxis(axis: number, rank: number, ctx: OpContext, attr = "axis"): number | undefined {
  if (ctx.axisCounting === "example") {
    const shape = fmtShape(ctx.inputShapes[0] ?? []);
    if (rank > 0 && axis >= -rank && axis < rank) return axis < 0 ? axis + rank : axis;
    const range = rank === 0 ? "none: the input is a scalar per example" : `${-rank}..${rank - 1}`;
    ctx.error(`axis ${axis} is out of range for input shape ${shape} (a kiln.graph/v1 file counts the axes of one example; valid: ${range})`, attr);
    return undefined;
  }
  if (rank > 0 && axis >= 1 && axis <= rank) return axis - 1;
  if (rank > 0 && axis >= -rank && axis <= -1) return axis + rank;
  const valid = rank === 0 ? "none: the input is a scalar per example, it has only the batch axis" : `1..${rank} or -${rank}..-1`;
  const batched = `[${["batch", ...(ctx.inputShapes[0] ?? [])].join(", ")}]`;
  const why = axis === 0 || axis === -(rank + 1)
    ? `axis ${axis} is the batch axis of input shape ${batched}: an axis may not span examples`
    : `axis ${axis} is out of range for input shape ${batched} (axes count as in Keras: 0 is the batch axis)`;
  ctx.error(`${why}; expected an axis of one example (valid: ${valid})`, attr);
  return undefined;
}

/** The Keras (kiln.graph/v2) number of a per-example axis index, for messages. */
export function kerasAxis(perExample: number): number {
  return perExample + 1;
}

/** Keras `compute_fans`: rank 1 → n, n; rank 2 → rows, cols; higher → receptive field × the last two. */
export function kerasFans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

export function initializer(name: unknown, shape: readonly number[], onesRange?: [number, number]): Initializer {
  const [fanIn, fanOut] = kerasFans(shape);
  const init: Initializer = { name: name as InitializerName, fanIn, fanOut };
  if (onesRange) init.onesRange = onesRange;
  return init;
}

/** "28x28x1" as Keras-minded people read an example shape; "scalar" for []. */
export function fmtDims(shape: readonly number[]): string {
  return shape.length ? shape.join("x") : "scalar";
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Checks an input has exactly `rank` axes; reports with the expected layout otherwise. */
export function expectRank(ctx: OpContext, op: string, layout: string, rank: number, index = 0): boolean {
  const s = ctx.inputShapes[index];
  if (s.length === rank) return true;
  ctx.error(`${op} expects an input of shape ${layout}; input "${ctx.inputNames[index]}" has shape ${fmtShape(s)}`, undefined, "shape");
  return false;
}

/** Product of dimensions, or Infinity once it leaves the safe-integer range (never a wrong number). */
export function checkedProduct(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return Infinity;
  }
  return n;
}
