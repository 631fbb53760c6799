/**
 * Wrappers: `time_distributed` applies its inner layer (`layer`, a layer config without inputs) to
 * every step of [T, ...] independently, with one set of weights, as Keras 3 TimeDistributed. The
 * inner op is `dense`, whose product on the last axis already is per step, so it lowers as that
 * dense layer. Weights are named as Keras names them: `<wrapper>/<inner name>/kernel`.
 */
import type { Attrs } from "../graph-types.js";
import type { OpContext, OpDef } from "./op.js";
import { fmtShape } from "./attrs.js";
import { dense } from "./dense.js";
import { lowerTimeDistributed } from "../../passes/lower/layers.js";

/** Ops time_distributed can wrap (each whose per-step application is the op on the whole sequence). */
const INNER: Record<string, OpDef> = Object.assign(Object.create(null), { dense });

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

export const time_distributed: OpDef = {
  lower: lowerTimeDistributed,
  name: "time_distributed",
  description: "Applies its inner layer (`layer`: a dense layer config) to every step: [T, ..., d] -> [T, ..., units], one set of weights.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    layer: {
      title: 'a layer config {op: "dense", name?, units, ...}',
      description: 'The wrapped layer, as Keras TimeDistributed(layer): op "dense" with its attributes; name (default "dense") names its weights <wrapper>/<name>/kernel.',
      type: "object",
      properties: {
        op: { title: '"dense"', description: "The wrapped op.", enum: Object.keys(INNER) },
        name: { $ref: "#/$defs/name" },
        ...dense.attrs,
      },
      required: ["op", ...(dense.required ?? [])],
      additionalProperties: false,
    },
  },
  required: ["layer"],
  normalize(raw, ctx) {
    const layer = raw.layer as Attrs;
    const inner = INNER[layer.op as string]!;
    const x = ctx.inputShapes[0]!;
    const attrs = inner.normalize(innerRaw(layer), innerContext(ctx, [x.slice(1)]));
    return attrs && { layer: { op: inner.name, name: (layer.name as string | undefined) ?? inner.name, ...attrs } };
  },
  shape([x], a, ctx) {
    if (x.length < 2) {
      ctx.error(`time_distributed expects an input with a time axis and at least one more [T, ..., d]; input "${ctx.inputNames[0]}" has shape ${fmtShape(x)}`);
      return undefined;
    }
    const layer = a.layer as Attrs;
    const step = INNER[layer.op as string]!.shape([x.slice(1)], layer, innerContext(ctx, [x.slice(1)]));
    return step && [x[0]!, ...step];
  },
  weights([x], a) {
    const layer = a.layer as Attrs;
    return INNER[layer.op as string]!.weights([x.slice(1)], layer).map((w) => ({ ...w, name: `${layer.name}/${w.name}` }));
  },
};
