/**
 * The op registry: the single place an op is defined. Everything else (schema generation,
 * validation, shape inference, parameter counting, later lowering) looks ops up here.
 */
import type { OpDef } from "./op.js";
import { dense } from "./dense.js";
import { conv1d, conv2d } from "./conv.js";
import {
  average_pooling1d, average_pooling2d, global_average_pooling1d, global_average_pooling2d, global_max_pooling1d, global_max_pooling2d,
  max_pooling1d, max_pooling2d,
} from "./pooling.js";
import { flatten, permute, repeat_vector, reshape } from "./reshape.js";
import { cropping1d, cropping2d, upsampling1d, upsampling2d, zero_padding1d, zero_padding2d } from "./spatial.js";
import { time_distributed } from "./wrappers.js";
import { depthwise_conv2d, separable_conv2d } from "./depthwise.js";
import { conv2d_transpose } from "./conv-transpose.js";
import { activation, softmax } from "./activation.js";
import { dropout } from "./dropout.js";
import { batch_normalization, group_normalization, layer_normalization } from "./normalization.js";
import { embedding, position_embedding } from "./embedding.js";
import { gru, lstm, simple_rnn } from "./recurrent.js";
import { bidirectional } from "./bidirectional.js";
import { multi_head_attention } from "./attention.js";
import { elu, leaky_relu, prelu, relu } from "./activation-layers.js";
import { dot } from "./dot.js";
import { gaussian_dropout, gaussian_noise, spatial_dropout1d, spatial_dropout2d } from "./noise.js";
import { normalization, rescaling } from "./preprocessing.js";
import { add, average, concatenate, maximum, minimum, multiply, subtract } from "./merge.js";

export type { OpDef, OpContext, WeightDecl, JsonSchema } from "./op.js";

/**
 * Every op, by its name in graph files. `OpName` is derived from these keys, so adding an op is
 * its OpDef plus one entry here; each entry's `name` must equal its key (checked at load).
 */
const REGISTRY = {
  dense, conv2d, max_pooling2d, average_pooling2d, global_average_pooling2d, global_max_pooling2d,
  flatten, reshape, activation, softmax, dropout, batch_normalization, layer_normalization,
  embedding, position_embedding, simple_rnn, lstm, gru, bidirectional, multi_head_attention,
  add, multiply, average, maximum, minimum, subtract, concatenate,
  conv1d, max_pooling1d, average_pooling1d, global_average_pooling1d, global_max_pooling1d,
  upsampling2d, upsampling1d, zero_padding2d, zero_padding1d, cropping2d, cropping1d, repeat_vector, permute, time_distributed,
  depthwise_conv2d, separable_conv2d, conv2d_transpose,
  relu, leaky_relu, prelu, elu, group_normalization, dot,
  spatial_dropout1d, spatial_dropout2d, gaussian_noise, gaussian_dropout,
  rescaling, normalization,
} satisfies Record<string, OpDef>;

export type OpName = keyof typeof REGISTRY;
export const OPS: Readonly<Record<OpName, OpDef>> = REGISTRY;
for (const [key, def] of Object.entries(OPS)) if (def.name !== key) throw new Error(`internal: op registry key ${key} holds the OpDef of ${def.name}`);

export const OP_NAMES = Object.keys(OPS) as OpName[];

/** The OpDef for a name from a graph file, or undefined (never an Object.prototype member). */
export function lookupOp(name: unknown): OpDef | undefined {
  return typeof name === "string" && Object.hasOwn(OPS, name) ? OPS[name as OpName] : undefined;
}
