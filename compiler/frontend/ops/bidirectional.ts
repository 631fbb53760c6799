/**
 * bidirectional: Keras's wrapper of one recurrent layer (`layer`: a simple_rnn, lstm or gru config).
 * A forward copy reads the sequence as the inner layer does, a backward copy with go_backwards
 * flipped; with return_sequences the backward states are flipped back to input order, then the two
 * are merged (`merge_mode`). Weights `forward_<inner name>/…` and `backward_<inner name>/…`.
 */
import type { Attrs } from "../graph-types.js";
import type { JsonSchema, OpDef } from "./op.js";
import { expectRank, withDefaults } from "./attrs.js";
import { RECURRENT_KINDS, checkSteps, gru, lstm, recurrentWeights, simple_rnn, type RecurrentKind } from "./recurrent.js";
import { lowerBidirectional, type InnerLayer } from "../../passes/lower/recurrent.js";

const INNER: Record<RecurrentKind, OpDef> = { simple_rnn, lstm, gru };
export const MERGE_MODES = ["concat", "sum", "mul", "ave"] as const;

/** The `layer` attribute: one recurrent layer config, its attributes checked as the op's own. */
function innerLayerSchema(): JsonSchema {
  const kinds = RECURRENT_KINDS.map((k) => `"${k}"`).join(", ");
  return {
    title: `a recurrent layer object {op, units, ...} with op ${kinds}`,
    description: "The wrapped recurrent layer's config (its `name` defaults to its op, as Keras's first layer of that kind is named).",
    type: "object",
    properties: { op: { title: `one of ${kinds}`, enum: [...RECURRENT_KINDS] } },
    required: ["op"],
    allOf: RECURRENT_KINDS.map((k) => ({
      if: { properties: { op: { const: k } }, required: ["op"] },
      then: {
        properties: { name: { $ref: "#/$defs/name" }, op: { const: k }, ...INNER[k].attrs },
        required: INNER[k].required ?? [],
        additionalProperties: false,
      },
    })),
  };
}

const innerOf = (a: Attrs): InnerLayer => a.layer as InnerLayer;

export const bidirectional: OpDef = {
  lower: lowerBidirectional,
  name: "bidirectional",
  description: "Runs a recurrent layer forwards and backwards over [T, F] and merges the two outputs (Keras Bidirectional).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    layer: innerLayerSchema(),
    merge_mode: {
      title: `one of ${MERGE_MODES.map((m) => `"${m}"`).join(", ")} (null, Keras's list of both outputs, is refused)`,
      description: "How the forward and backward outputs combine: concat (last axis), sum, mul, ave.",
      enum: [...MERGE_MODES, null],
      default: "concat",
    },
  },
  required: ["layer"],
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    if (a.merge_mode === null) {
      ctx.error("merge_mode null (Keras returns the forward and backward outputs as a list of two tensors) is not supported: a kiln layer has one output; use \"concat\", or two recurrent layers on the same input, one with go_backwards: true", "merge_mode");
      return undefined;
    }
    const { op, name, ...rest } = a.layer as Attrs;
    const kind = op as RecurrentKind;
    const attrs = INNER[kind].normalize(rest, ctx);
    if (!attrs) return undefined;
    const inner: InnerLayer = { op: kind, name: typeof name === "string" ? name : kind, attrs };
    return { layer: inner, merge_mode: a.merge_mode };
  },
  shape([x], a, ctx) {
    const inner = innerOf(a);
    if (!expectRank(ctx, `bidirectional(${inner.op})`, "[T, F]", 2)) return undefined;
    if (!checkSteps(inner.op, inner.attrs, x[0]!, ctx, `bidirectional(${inner.op})`)) return undefined;
    const u = inner.attrs.units as number;
    const last = a.merge_mode === "concat" ? 2 * u : u;
    return inner.attrs.return_sequences ? [x[0]!, last] : [last];
  },
  weights([x], a) {
    const inner = innerOf(a);
    const decls = recurrentWeights(inner.op, x[1]!, inner.attrs);
    return ["forward", "backward"].flatMap((dir) => decls.map((w) => ({ ...w, name: `${dir}_${inner.name}/${w.name}` })));
  },
};
