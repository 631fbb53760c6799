/**
 * Wrappers: `time_distributed` applies its inner layer (`layer`, a layer config without inputs) to
 * every step of [T, ...] independently, with one set of weights, as Keras 3 TimeDistributed (which
 * calls the inner layer on each step [batch, ...] in turn). Weights are named as
 * Keras names them: `<wrapper>/<inner name>/kernel`. How each inner op lowers: passes/lower/wrappers.ts.
 */
import type { Attrs } from "../graph-types.js";
import type { JsonSchema, OpContext, OpDef } from "./op.js";
import { fmtShape } from "./attrs.js";
import { dense } from "./dense.js";
import { conv1d, conv2d } from "./conv.js";
import {
  average_pooling1d, average_pooling2d, global_average_pooling1d, global_average_pooling2d, global_max_pooling1d, global_max_pooling2d,
  max_pooling1d, max_pooling2d,
} from "./pooling.js";
import { flatten } from "./reshape.js";
import { activation } from "./activation.js";
import { dropout } from "./dropout.js";
import { cropping2d, upsampling2d, zero_padding2d } from "./spatial.js";
import { elu, leaky_relu, relu } from "./activation-layers.js";
import { lowerTimeDistributed } from "../../passes/lower/wrappers.js";

/**
 * Ops time_distributed can wrap: Keras wraps any layer; these are kiln's ops whose per-step
 * application is defined on one step's shape (no recurrent or merging layer, no attention).
 * Not batch_normalization: Keras 3 (and TF.js) normalize each step with that step's batch
 * statistics and update the moving statistics T times in a row, which kiln does not lower.
 */
export const TIME_DISTRIBUTED_INNER: Readonly<Record<string, OpDef>> = Object.assign(Object.create(null), {
  dense, conv2d, conv1d, max_pooling2d, average_pooling2d, global_average_pooling2d, global_max_pooling2d,
  max_pooling1d, average_pooling1d, global_average_pooling1d, global_max_pooling1d, flatten, activation, relu, leaky_relu, elu,
  dropout, zero_padding2d, cropping2d, upsampling2d,
});
const INNER_OPS = Object.keys(TIME_DISTRIBUTED_INNER);
const innerOf = (layer: Attrs): OpDef => TIME_DISTRIBUTED_INNER[layer.op as string]!;

/** Problems of the inner layer are reported under the wrapper's `layer` attribute. */
function innerContext(ctx: OpContext, innerShapes: readonly (readonly number[])[]): OpContext {
  return {
    ...ctx,
    inputShapes: innerShapes,
    error: (message, attr, code) => ctx.error(`inner layer: ${message}`, attr === undefined ? "layer" : `layer/${attr}`, code),
  };
}

/** The inner op's own attributes: the config minus `op` and `name`. */
function innerRaw(layer: Attrs): Attrs {
  // Null prototype: a key from the file (even "__proto__") stays a plain own entry.
  const raw: Attrs = Object.create(null);
  for (const [k, v] of Object.entries(layer)) if (k !== "op" && k !== "name") raw[k] = v;
  return raw;
}

/** The `layer` attribute: one layer config whose attributes are checked as that op's own. */
function innerLayerSchema(): JsonSchema {
  return {
    title: `a layer config {op, name?, ...} with op one of ${INNER_OPS.map((o) => `"${o}"`).join(", ")}`,
    description: 'The wrapped layer, as Keras TimeDistributed(layer): one of the listed ops with its attributes; name (default: the op) names its weights <wrapper>/<name>/kernel.',
    type: "object",
    properties: { op: { title: `one of ${INNER_OPS.map((o) => `"${o}"`).join(", ")}`, description: "The wrapped op.", enum: INNER_OPS } },
    required: ["op"],
    allOf: INNER_OPS.map((op) => ({
      if: { properties: { op: { const: op } }, required: ["op"] },
      then: {
        properties: { op: { const: op }, name: { $ref: "#/$defs/name" }, ...TIME_DISTRIBUTED_INNER[op]!.attrs },
        required: ["op", ...(TIME_DISTRIBUTED_INNER[op]!.required ?? [])],
        additionalProperties: false,
      },
    })),
  };
}

export const time_distributed: OpDef = {
  lower: lowerTimeDistributed,
  name: "time_distributed",
  description: "Applies its inner layer (`layer`: a layer config) to every step of [T, ...]: [T, ...step] -> [T, ...inner output], one set of weights.",
  minInputs: 1,
  maxInputs: 1,
  attrs: { layer: innerLayerSchema() },
  required: ["layer"],
  normalize(raw, ctx) {
    const layer = raw.layer as Attrs;
    const inner = innerOf(layer);
    const x = ctx.inputShapes[0]!;
    if (x.length < 2) {
      ctx.error(`time_distributed expects an input with a time axis and at least one more [T, ..., d]; input "${ctx.inputNames[0]}" has shape ${fmtShape(x)}`);
      return undefined;
    }
    const attrs = inner.normalize(innerRaw(layer), innerContext(ctx, [x.slice(1)]));
    return attrs && { layer: { op: inner.name, name: (layer.name as string | undefined) ?? inner.name, ...attrs } };
  },
  shape([x], a, ctx) {
    const layer = a.layer as Attrs;
    const step = innerOf(layer).shape([x.slice(1)], layer, innerContext(ctx, [x.slice(1)]));
    return step && [x[0]!, ...step];
  },
  weights([x], a) {
    const layer = a.layer as Attrs;
    return innerOf(layer).weights([x.slice(1)], layer).map((w) => ({ ...w, name: `${layer.name}/${w.name}` }));
  },
};
