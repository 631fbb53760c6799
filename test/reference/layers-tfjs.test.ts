/**
 * Every layer op of the reference that TF.js also has, against tfjs-layers on the cpu backend:
 * same seeded weights via setWeights (never tfjs initializers: orthogonal crashes under Node),
 * compared within 1e-4 relative ‖out − ref‖/‖ref‖. kiln.graph/v2 counts axes as TF.js does
 * (0 is the batch axis), so the same axis number goes to both.
 */

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { RawLayer } from "./attrs.js";
import { RefGraph, runReference } from "./interpret.js";
import { makeRng } from "./prng.js";
import { sizeOf } from "./tensor.js";

const rng = makeRng(99);
const BATCH = 3;

beforeAll(async () => {
  await tf.setBackend("cpu");
});

interface LayerCase {
  /** The kiln layer (name is filled in). */
  layer: Omit<RawLayer, "name">;
  /** Factory for the equivalent tfjs layer. */
  tfLayer: () => tf.layers.Layer;
  /** Per-example input shapes. */
  inputs: number[][];
  /** Kiln weight short names and shapes, in tfjs getWeights() order. */
  weights?: [string, number[]][];
  intInputs?: number;
  training?: boolean;
  positive?: string[];
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

function compare(c: LayerCase): { ref: Float64Array; tfOut: Float32Array; state: Record<string, Float64Array>; tfWeights: Float32Array[] } {
  const names = c.inputs.map((_s, i) => `x${i}`);
  const graph: RefGraph = {
    inputs: c.inputs.map((shape, i) => ({ name: names[i], shape, dtype: c.intInputs ? "int32" : "float32" })),
    layers: [{ ...c.layer, name: "l", inputs: names } as RawLayer],
  };
  // Float32-representable data so both sides see identical inputs and weights.
  const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  const inputs: Record<string, Float64Array> = {};
  c.inputs.forEach((s, i) => {
    const n = BATCH * sizeOf(s);
    inputs[names[i]] = c.intInputs ? Float64Array.from({ length: n }, () => rng.int(c.intInputs!)) : f32(rng.array(n, -2, 2));
  });
  const weights: Record<string, Float64Array> = {};
  for (const [w, shape] of c.weights ?? []) {
    const positive = c.positive?.includes(w);
    weights[`l/${w}`] = f32(rng.array(sizeOf(shape), positive ? 0.5 : -0.7, positive ? 1.5 : 0.7));
  }
  const res = runReference(graph, weights, inputs, BATCH, { training: !!c.training });

  const xs = c.inputs.map((s, i) => tf.tensor(Float32Array.from(inputs[names[i]]), [BATCH, ...s], c.intInputs ? "int32" : "float32"));
  const layer = c.tfLayer();
  const arg = xs.length === 1 ? xs[0] : xs;
  layer.apply(arg); // builds the layer
  if (c.weights) layer.setWeights(c.weights.map(([w, shape]) => tf.tensor(Float32Array.from(weights[`l/${w}`]), shape)));
  const out = layer.apply(arg, { training: !!c.training }) as tf.Tensor;
  expect(out.shape).toEqual(res.outputs.l.shape);
  const tfWeights = layer.getWeights().map((w) => w.dataSync() as Float32Array);
  return { ref: res.outputs.l.data, tfOut: out.dataSync() as Float32Array, state: res.state, tfWeights };
}

function check(c: LayerCase): void {
  const { ref, tfOut } = compare(c);
  expect(ref.some((v) => v !== 0)).toBe(true);
  expect(relErr(ref, tfOut)).toBeLessThan(1e-4);
}

/** A tfjs layer applied to permuted input (perm must be its own inverse), output permuted back. */
function transposed(inner: tf.layers.Layer, perm: number[]): tf.layers.Layer {
  return {
    apply: (x: tf.Tensor, kw?: Record<string, unknown>) => tf.transpose(inner.apply(tf.transpose(x, perm), kw) as tf.Tensor, perm),
    setWeights: (ws: tf.Tensor[]) => inner.setWeights(ws),
    getWeights: () => inner.getWeights(),
  } as unknown as tf.layers.Layer;
}

const dense = (units: number, activation = "linear") => ({
  layer: { op: "dense", units, activation },
  tfLayer: () => tf.layers.dense({ units, activation: activation as never }),
  inputs: [[5]],
  weights: [["kernel", [5, units]], ["bias", [units]]] as [string, number[]][],
});

describe("reference layers vs TF.js cpu", () => {
  it("dense, also on a rank-3 input (last axis)", () => {
    check(dense(4, "relu"));
    check({ ...dense(3), inputs: [[2, 5]] });
    check({
      layer: { op: "dense", units: 3, use_bias: false },
      tfLayer: () => tf.layers.dense({ units: 3, useBias: false }),
      inputs: [[4]],
      weights: [["kernel", [4, 3]]],
    });
  });

  const convCases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["valid", { kernel_size: 3 }, { kernelSize: 3 }],
    ["same", { kernel_size: [3, 2], padding: "same" }, { kernelSize: [3, 2], padding: "same" }],
    ["same, stride 2 (odd pixel bottom/right)", { kernel_size: 3, strides: 2, padding: "same" }, { kernelSize: 3, strides: 2, padding: "same" }],
    ["valid, stride 2", { kernel_size: 2, strides: [2, 1] }, { kernelSize: 2, strides: [2, 1] }],
    ["dilation 2, same", { kernel_size: 3, dilation_rate: 2, padding: "same" }, { kernelSize: 3, dilationRate: 2, padding: "same" }],
    ["dilation 2, valid", { kernel_size: 2, dilation_rate: 2, activation: "tanh" }, { kernelSize: 2, dilationRate: 2, activation: "tanh" }],
  ];
  for (const [label, kiln, tfa] of convCases) {
    it(`conv2d ${label}`, () => {
      const k = typeof kiln.kernel_size === "number" ? [kiln.kernel_size, kiln.kernel_size] : (kiln.kernel_size as number[]);
      check({
        layer: { op: "conv2d", filters: 4, ...kiln },
        tfLayer: () => tf.layers.conv2d({ filters: 4, ...(tfa as { kernelSize: number }) }),
        inputs: [[8, 7, 3]],
        weights: [["kernel", [k[0], k[1], 3, 4]], ["bias", [4]]],
      });
    });
  }

  const poolCases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["default 2x2 valid", {}, {}],
    ["3x3 stride 2 same", { pool_size: 3, strides: 2, padding: "same" }, { poolSize: 3, strides: 2, padding: "same" }],
    ["2x2 stride 2 same (odd input)", { pool_size: 2, padding: "same" }, { poolSize: 2, padding: "same" }],
    ["[3,2] stride 1 valid", { pool_size: [3, 2], strides: 1 }, { poolSize: [3, 2], strides: 1 }],
  ];
  for (const [label, kiln, tfa] of poolCases) {
    it(`max and average pooling ${label}`, () => {
      const tfArgs = { poolSize: 2, ...tfa } as { poolSize: number };
      check({ layer: { op: "max_pooling2d", ...kiln }, tfLayer: () => tf.layers.maxPooling2d(tfArgs), inputs: [[7, 5, 2]] });
      check({ layer: { op: "average_pooling2d", ...kiln }, tfLayer: () => tf.layers.averagePooling2d(tfArgs), inputs: [[7, 5, 2]] });
    });
  }

  it("global average and max pooling", () => {
    check({ layer: { op: "global_average_pooling2d" }, tfLayer: () => tf.layers.globalAveragePooling2d({}), inputs: [[4, 3, 5]] });
    check({ layer: { op: "global_max_pooling2d" }, tfLayer: () => tf.layers.globalMaxPooling2d({}), inputs: [[4, 3, 5]] });
  });

  it("flatten and reshape", () => {
    check({ layer: { op: "flatten" }, tfLayer: () => tf.layers.flatten(), inputs: [[2, 3, 2]] });
    check({ layer: { op: "reshape", target_shape: [3, -1] }, tfLayer: () => tf.layers.reshape({ targetShape: [3, 4] }), inputs: [[2, 6]] });
  });

  // TF.js's batchNorm kernel (cpu and wasm backends) broadcasts mean, variance, gamma and beta
  // over the last axis whatever the layer's axis (tensorflow/tfjs#1106: ~0.2 relative error on
  // [4, 3] with axis 1), so for another axis the output is checked against tfjs normalizing the
  // transposed input (the channel axis last, where its kernel is right). The moving statistics
  // tf.layers.batchNormalization({ axis }) itself computes with tf.moments over every other axis
  // are right, and are checked against it directly.
  const BN_SHAPE = [4, 3, 2];
  /** perm: the transposition that puts `axis` last (its own inverse); none for the last axis. */
  const bn = (training: boolean, axis?: number, perm?: number[]) => {
    const c = BN_SHAPE.at(axis === undefined ? -1 : axis < 0 ? axis : axis - 1)!;
    return {
      layer: { op: "batch_normalization", momentum: 0.9, ...(axis === undefined ? {} : { axis }) },
      tfLayer: () => {
        const inner = tf.layers.batchNormalization({ momentum: 0.9 });
        return perm ? transposed(inner, perm) : inner;
      },
      inputs: [BN_SHAPE],
      weights: ["gamma", "beta", "moving_mean", "moving_variance"].map((w) => [w, [c]]) as [string, number[]][],
      positive: ["moving_variance"],
      training,
    };
  };
  /** Keras axes of [batch, 4, 3, 2] and the swap of that axis with the last. */
  const AXES: [number | undefined, number[] | undefined][] = [[undefined, undefined], [-1, undefined], [1, [0, 3, 2, 1]], [2, [0, 1, 3, 2]], [-2, [0, 1, 3, 2]], [-3, [0, 3, 2, 1]]];

  it("batch_normalization in inference mode (moving statistics), on every axis", () => {
    for (const [axis, perm] of AXES) check(bn(false, axis, perm));
  });

  it("batch_normalization in training mode, with the moving-statistics update, on every axis", () => {
    for (const [axis, perm] of AXES) {
      const { ref, tfOut, state, tfWeights } = compare(bn(true, axis, perm));
      expect(relErr(ref, tfOut), `axis ${axis}`).toBeLessThan(1e-4);
      expect(relErr(state["l/moving_mean"], tfWeights[2])).toBeLessThan(1e-5);
      expect(relErr(state["l/moving_variance"], tfWeights[3])).toBeLessThan(1e-5);
    }
  });

  it("batch_normalization moving statistics against tf.layers.batchNormalization({ axis }) itself", () => {
    for (const axis of [1, 2, -2, -3]) {
      const c = bn(true, axis);
      const { state, tfWeights } = compare({ ...c, tfLayer: () => tf.layers.batchNormalization({ axis, momentum: 0.9 }) });
      expect(relErr(state["l/moving_mean"], tfWeights[2]), `axis ${axis}`).toBeLessThan(1e-5);
      expect(relErr(state["l/moving_variance"], tfWeights[3]), `axis ${axis}`).toBeLessThan(1e-5);
    }
  });

  it("layer_normalization", () => {
    check({
      layer: { op: "layer_normalization" },
      tfLayer: () => tf.layers.layerNormalization({ epsilon: 0.001 }),
      inputs: [[3, 5]],
      weights: [["gamma", [5]], ["beta", [5]]],
    });
  });

  it("embedding", () => {
    check({
      layer: { op: "embedding", input_dim: 7, output_dim: 4 },
      tfLayer: () => tf.layers.embedding({ inputDim: 7, outputDim: 4 }),
      inputs: [[5]],
      intInputs: 7,
      weights: [["embeddings", [7, 4]]],
    });
  });

  for (const rs of [false, true]) {
    it(`simple_rnn and lstm (return_sequences=${rs})`, () => {
      check({
        layer: { op: "simple_rnn", units: 4, return_sequences: rs },
        tfLayer: () => tf.layers.simpleRNN({ units: 4, returnSequences: rs, recurrentInitializer: "zeros" }),
        inputs: [[5, 3]],
        weights: [["kernel", [3, 4]], ["recurrent_kernel", [4, 4]], ["bias", [4]]],
      });
      check({
        layer: { op: "lstm", units: 3, return_sequences: rs },
        tfLayer: () => tf.layers.lstm({ units: 3, returnSequences: rs, recurrentActivation: "sigmoid", unitForgetBias: true, recurrentInitializer: "zeros" }),
        inputs: [[6, 2]],
        weights: [["kernel", [2, 12]], ["recurrent_kernel", [3, 12]], ["bias", [12]]],
      });
    });
  }

  it("merges: add, multiply, average, maximum, minimum (3 inputs)", () => {
    const merges: [string, () => tf.layers.Layer][] = [
      ["add", () => tf.layers.add()], ["multiply", () => tf.layers.multiply()], ["average", () => tf.layers.average()],
      ["maximum", () => tf.layers.maximum()], ["minimum", () => tf.layers.minimum()],
    ];
    for (const [op, f] of merges) check({ layer: { op }, tfLayer: f, inputs: [[2, 3], [2, 3], [2, 3]] });
  });

  it("subtract (TF.js has no layer: tf.sub)", () => {
    const { ref, tfOut } = compare({
      layer: { op: "subtract" },
      tfLayer: () => ({ apply: (xs: tf.Tensor[]) => tf.sub(xs[0], xs[1]), setWeights() {}, getWeights: () => [] }) as unknown as tf.layers.Layer,
      inputs: [[4], [4]],
    });
    expect(relErr(ref, tfOut)).toBeLessThan(1e-6);
  });

  it("concatenate on the last and on a middle axis", () => {
    check({ layer: { op: "concatenate" }, tfLayer: () => tf.layers.concatenate(), inputs: [[2, 3], [2, 1], [2, 2]] });
    check({ layer: { op: "concatenate", axis: 1 }, tfLayer: () => tf.layers.concatenate({ axis: 1 }), inputs: [[2, 3], [1, 3]] });
  });

  it("activations, including exact gelu", () => {
    const names: [string, string][] = [
      ["relu", "relu"], ["sigmoid", "sigmoid"], ["tanh", "tanh"], ["softmax", "softmax"], ["gelu", "gelu"],
      ["elu", "elu"], ["softplus", "softplus"], ["silu", "swish"], ["swish", "swish"], ["linear", "linear"],
    ];
    for (const [kiln, tfName] of names) {
      check({ layer: { op: "activation", activation: kiln }, tfLayer: () => tf.layers.activation({ activation: tfName as never }), inputs: [[2, 5]] });
    }
    check({ layer: { op: "activation", activation: "leaky_relu" }, tfLayer: () => tf.layers.leakyReLU({ alpha: 0.2 }), inputs: [[6]] });
  });

  it("softmax layer on the default and a middle axis", () => {
    check({ layer: { op: "softmax" }, tfLayer: () => tf.layers.softmax({ axis: -1 }), inputs: [[3, 4]] });
    // tfjs softmax supports only the last axis: transpose around it.
    check({ layer: { op: "softmax", axis: 1 }, tfLayer: () => transposed(tf.layers.softmax({ axis: -1 }), [0, 2, 1]), inputs: [[3, 4]] });
  });
});
