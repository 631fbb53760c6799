/**
 * The float64 reference interpreter: runs a raw kiln.graph/v2 JSON graph (its own parsing and
 * defaults, nothing from compiler/) on the tape; a kiln.graph/v1 graph has its non-negative axis
 * attributes raised by one first (v1 did not count the batch axis). Layers are evaluated on demand in dependency
 * order; a missing `inputs` means the previous listed layer (the only graph input for the
 * first). Weights are keyed `<layer>/<weight>` in the spec's Keras layouts.
 */

import { ACTIVATION_LAYERS } from "./activation-layers.js";
import { ATTENTION_LAYERS } from "./attention.js";
import { MERGE_EXTRA_LAYERS } from "./merge-extra.js";
import { NOISE_LAYERS } from "./noise.js";
import { PREPROCESSING_LAYERS } from "./preprocessing.js";
import { RawLayer } from "./attrs.js";
import { BASIC_LAYERS, LayerContext, LayerFn } from "./layers.js";
import { RECURRENT_LAYERS } from "./recurrent.js";
import { SHAPE_LAYERS, timeDistributed } from "./shape-layers.js";
import { Tensor, sizeOf, tensor } from "./tensor.js";

export interface RefValueInfo {
  name: string;
  shape: number[];
  dtype?: "float32" | "int32";
}

export interface RefGraph {
  inputs: RefValueInfo[];
  targets?: RefValueInfo[];
  layers: RawLayer[];
  outputs?: string[];
  training?: {
    loss: { type: string; output: string; target: string; from_logits?: boolean };
    optimizer?: Record<string, unknown>;
    metrics?: string[];
  };
  [key: string]: unknown;
}

export interface RunOptions {
  training: boolean;
  /** Keep-masks (0 or 1 per element of the layer's output, batch included), by dropout layer name. */
  dropoutMasks?: Record<string, Float64Array>;
  /**
   * Per element of the layer's output, batch included, by layer name, when training: the added
   * noise of a gaussian_noise layer, the factor of a gaussian_dropout layer.
   */
  noise?: Record<string, Float64Array>;
  /** Make float graph inputs tape leaves so their gradients can be read. */
  inputGrads?: boolean;
}

export interface RunResult {
  /** The graph's outputs (default: the last layer), by layer name. */
  outputs: Record<string, Tensor>;
  /** Every graph input and evaluated layer, by name. */
  values: Record<string, Tensor>;
  /** Weight leaves used, by full name (trainable ones require gradients). */
  weights: Record<string, Tensor>;
  /** Input leaves, by name. */
  inputs: Record<string, Tensor>;
  /** Updated moving statistics after a training-mode forward, by full weight name. */
  state: Record<string, Float64Array>;
}

export const REF_LAYERS: Record<string, LayerFn> = {
  ...BASIC_LAYERS, ...RECURRENT_LAYERS, ...ATTENTION_LAYERS, ...SHAPE_LAYERS,
  time_distributed: (ctx) => timeDistributed(ctx, REF_LAYERS),
  ...ACTIVATION_LAYERS, ...MERGE_EXTRA_LAYERS, ...NOISE_LAYERS, ...PREPROCESSING_LAYERS,
};

/** Weights that never train: batch normalization's moving statistics, normalization's adapted ones. */
const NOT_TRAINABLE = new Set(["moving_mean", "moving_variance", "mean", "variance"]);

export function runReference(
  graph: RefGraph,
  weights: Record<string, Float64Array | Float32Array>,
  inputs: Record<string, ArrayLike<number>>,
  batch: number,
  opts: RunOptions,
): RunResult {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
  const res: RunResult = { outputs: {}, values: {}, weights: {}, inputs: {}, state: {} };
  for (const info of graph.inputs) {
    const data = inputs[info.name];
    const shape = [batch, ...info.shape];
    if (!data) throw new Error(`input "${info.name}" is missing`);
    if (data.length !== sizeOf(shape)) throw new Error(`input "${info.name}" has ${data.length} values, [${shape}] needs ${sizeOf(shape)}`);
    const t = tensor(shape, data, !!opts.inputGrads && info.dtype !== "int32");
    res.inputs[info.name] = res.values[info.name] = t;
  }
  const layers = graph.format === "kiln.graph/v1" ? graph.layers.map(fromV1) : graph.layers;
  const byName = new Map(layers.map((l, i) => [l.name, { layer: l, index: i }]));
  const inProgress = new Set<string>();

  const evaluate = (name: string): Tensor => {
    const done = res.values[name];
    if (done) return done;
    const entry = byName.get(name);
    if (!entry) throw new Error(`unknown tensor "${name}"`);
    if (inProgress.has(name)) throw new Error(`cycle through layer "${name}"`);
    inProgress.add(name);
    const value = runLayer(entry.layer, layerInputs(graph, entry.index).map(evaluate), weights, opts, res);
    inProgress.delete(name);
    return (res.values[name] = value);
  };

  for (const l of graph.layers) evaluate(l.name);
  const outs = graph.outputs ?? [graph.layers[graph.layers.length - 1].name];
  for (const o of outs) res.outputs[o] = evaluate(o);
  return res;
}

/** A v1 layer with its axis read as v2 (the only axis attribute any op has is `axis`). */
function fromV1(layer: RawLayer): RawLayer {
  return typeof layer.axis === "number" && layer.axis >= 0 ? { ...layer, axis: layer.axis + 1 } : layer;
}

function layerInputs(graph: RefGraph, index: number): string[] {
  const l = graph.layers[index];
  if (l.inputs) return l.inputs;
  if (index > 0) return [graph.layers[index - 1].name];
  if (graph.inputs.length !== 1) throw new Error(`layer "${l.name}" needs explicit inputs: the graph has ${graph.inputs.length} inputs`);
  return [graph.inputs[0].name];
}

function runLayer(
  layer: RawLayer,
  xs: Tensor[],
  weights: Record<string, Float64Array | Float32Array>,
  opts: RunOptions,
  res: RunResult,
): Tensor {
  const fn = REF_LAYERS[layer.op];
  if (!fn) throw new Error(`layer "${layer.name}": unknown op "${layer.op}" (known: ${Object.keys(REF_LAYERS).join(", ")})`);
  const trainable = layer.trainable !== false;
  const ctx: LayerContext = {
    layer,
    inputs: xs,
    // A frozen batch_normalization runs in inference mode, as in Keras.
    training: opts.training && (trainable || layer.op !== "batch_normalization"),
    dropoutMask: opts.dropoutMasks?.[layer.name],
    noise: opts.noise?.[layer.name],
    weight: (name, shape) => {
      const full = `${layer.name}/${name}`;
      const seen = res.weights[full];
      if (seen) return seen;
      const data = weights[full];
      if (!data) throw new Error(`weight "${full}" is missing`);
      if (data.length !== sizeOf(shape)) throw new Error(`weight "${full}" has ${data.length} values, [${shape}] needs ${sizeOf(shape)}`);
      // `name` may be `<inner>/moving_mean` (a layer wrapped by time_distributed).
      const t = tensor(shape, data, trainable && !NOT_TRAINABLE.has(name.split("/").at(-1)!));
      res.weights[full] = t;
      return t;
    },
    setState: (name, data) => {
      res.state[`${layer.name}/${name}`] = data;
    },
  };
  return fn(ctx);
}
