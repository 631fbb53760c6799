/**
 * Lookup ops: `embedding` (int32 token ids [...] -> [..., output_dim]) and `position_embedding`
 * (learned vectors for positions 0..T-1 of a [T, D] input, as keras_hub PositionEmbedding).
 */
import type { OpDef } from "./op.js";
import { expectRank, initAttr, initializer, sizeAttr, withDefaults } from "./attrs.js";
import { lowerEmbedding, lowerPositionEmbedding } from "../../passes/lower/layers.js";

export const embedding: OpDef = {
  lower: lowerEmbedding,
  name: "embedding",
  description: "Looks up int32 token ids in a table: [T] -> [T, output_dim].",
  minInputs: 1,
  maxInputs: 1,
  inputDtype: "int32",
  attrs: {
    input_dim: sizeAttr("Vocabulary size: token ids lie in [0, input_dim)."),
    output_dim: sizeAttr("Length of each embedding vector."),
    embeddings_initializer: initAttr("uniform", "embedding table"),
  },
  required: ["input_dim", "output_dim"],
  normalize(raw) {
    return withDefaults(this.attrs, raw);
  },
  shape: ([x], a) => [...x, a.output_dim as number],
  weights(_x, a) {
    const shape = [a.input_dim as number, a.output_dim as number];
    return [{ name: "embeddings", shape, initializer: initializer(a.embeddings_initializer, shape) }];
  },
};

export const position_embedding: OpDef = {
  lower: lowerPositionEmbedding,
  name: "position_embedding",
  description: "Learned position vectors for positions 0..T-1 of a [T, D] input (add them with `add`).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    sequence_length: sizeAttr("Longest sequence supported; the input length T must not exceed it."),
    initializer: initAttr("glorot_uniform", "position table"),
  },
  required: ["sequence_length"],
  normalize(raw) {
    return withDefaults(this.attrs, raw);
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "position_embedding", "[T, D]", 2)) return undefined;
    if (x[0] > (a.sequence_length as number)) {
      ctx.error(`input "${ctx.inputNames[0]}" has ${x[0]} positions but sequence_length is ${a.sequence_length as number}`, "sequence_length");
      return undefined;
    }
    return [...x];
  },
  weights([x], a) {
    const shape = [a.sequence_length as number, x[1]];
    return [{ name: "embeddings", shape, initializer: initializer(a.initializer, shape) }];
  },
};
