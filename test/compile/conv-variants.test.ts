/**
 * The convolutions of issue 17 (depthwise_conv2d, separable_conv2d, conv2d_transpose) beyond the
 * per-op cases of cases.ts: (1) a MobileNet/U-Net-shaped chain of all three at batch 64 (the
 * default maximum), forward and gradients against the float64 reference; (2) each op's compiled
 * weight and input gradients against TensorFlow.js's (tf.grads of the same mean-squared-error
 * loss through tf.depthwiseConv2d / tf.separableConv2d / tf.conv2dTranspose, the ops the TF.js
 * layers call), within 1e-4 relative.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { referenceGradients } from "../reference/gradients.js";
import { build, comparePredict, randomFeeds, randomizeWeights, relErr } from "./harness.js";
import { withTraining } from "./training-graph.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const chain = {
  format: "kiln.graph/v2", name: "chain", seed: 3,
  inputs: [{ name: "x", shape: [8, 8, 3] }],
  layers: [
    { name: "dw", op: "depthwise_conv2d", kernel_size: 3, strides: 2, padding: "same", depth_multiplier: 2, activation: "relu" },
    { name: "sep", op: "separable_conv2d", filters: 5, kernel_size: 3, padding: "same", activation: "tanh" },
    { name: "up", op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: 2, padding: "same", output_padding: 1 },
  ],
};

describe("depthwise, separable and transposed convolutions at batch 64", () => {
  it("forward and gradients against the float64 reference", async () => {
    const graph = withTraining(chain);
    const { model } = await build(graph, { maxBatch: 64, debug: false });
    const batch = 64;
    const weights = randomizeWeights(model, 5, 0.5);
    const errs = comparePredict(graph, model, weights, batch, 7);
    for (const [name, e] of Object.entries(errs)) expect(e, name).toBeLessThan(1e-4);
    const feeds = { ...randomFeeds(model.inputs as never, batch, 8), ...randomFeeds(model.targets as never, batch, 9) };
    const step = model.trainStep(feeds);
    const w1 = model.getWeights();
    const ref = referenceGradients(graph, weights, feeds, feeds, batch);
    expect(Math.abs(step.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    for (const [name, g] of Object.entries(ref.grads)) {
      expect(relErr(weights[name]!.map((v, i) => v - w1[name]![i]!), g), name).toBeLessThan(1e-4);
    }
  }, 120_000);
});

/** One op on [H, W, C]: the kiln layer and the TF.js computation over (x, ...weights in kiln order). */
interface TfCase {
  name: string;
  input: [number, number, number];
  layer: Record<string, unknown>;
  tf: (x: tf.Tensor4D, w: tf.Tensor[]) => tf.Tensor;
}

const TF_CASES: TfCase[] = [
  {
    name: "depthwise_conv2d depth_multiplier 2, stride 2 same",
    input: [7, 6, 3],
    layer: { op: "depthwise_conv2d", kernel_size: 3, strides: 2, padding: "same", depth_multiplier: 2 },
    tf: (x, [k, b]) => tf.add(tf.depthwiseConv2d(x, k as tf.Tensor4D, 2, "same"), b!),
  },
  // (TF.js 4.22 has no gradient for a dilated depthwise conv: the float64 reference checks those)
  {
    name: "depthwise_conv2d depth_multiplier 3, [5,3] valid, 5 channels",
    input: [8, 7, 5],
    layer: { op: "depthwise_conv2d", kernel_size: [5, 3], depth_multiplier: 3 },
    tf: (x, [k, b]) => tf.add(tf.depthwiseConv2d(x, k as tf.Tensor4D, 1, "valid"), b!),
  },
  {
    name: "separable_conv2d depth_multiplier 2, valid",
    input: [6, 7, 3],
    layer: { op: "separable_conv2d", filters: 4, kernel_size: 3, depth_multiplier: 2 },
    tf: (x, [dk, pk, b]) => tf.add(tf.separableConv2d(x, dk as tf.Tensor4D, pk as tf.Tensor4D, 1, "valid"), b!),
  },
  {
    name: "conv2d_transpose 3x3 stride 2 same",
    input: [4, 5, 3],
    layer: { op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: 2, padding: "same" },
    tf: (x, [k, b]) => tf.add(tf.conv2dTranspose(x, k as tf.Tensor4D, [x.shape[0], 8, 10, 4], 2, "same"), b!),
  },
  {
    name: "conv2d_transpose 3x3 same, 8 filters (Winograd)",
    input: [6, 6, 4],
    layer: { op: "conv2d_transpose", filters: 8, kernel_size: 3, padding: "same" },
    tf: (x, [k, b]) => tf.add(tf.conv2dTranspose(x, k as tf.Tensor4D, [x.shape[0], 6, 6, 8], 1, "same"), b!),
  },
  {
    name: "conv2d_transpose [2,3] strides [2,3] valid, output_padding [1,2]",
    input: [3, 4, 2],
    layer: { op: "conv2d_transpose", filters: 3, kernel_size: [2, 3], strides: [2, 3], output_padding: [1, 2] },
    tf: (x, [k, b]) => tf.add(tf.conv2dTranspose(x, k as tf.Tensor4D, [x.shape[0], 7, 14, 3], [2, 3], "valid"), b!),
  },
];

describe("compiled gradients against TF.js (cpu)", () => {
  for (const c of TF_CASES) {
    it(c.name, async () => {
      // A dense layer in front (withTraining) makes its kernel's gradient check the op's input gradient.
      const graph = withTraining({ format: "kiln.graph/v2", name: "t", seed: 1, inputs: [{ name: "x", shape: c.input }], layers: [{ name: "l", ...c.layer }] });
      const { model } = await build(graph, { maxBatch: 9 });
      const batch = 9;
      const w0 = randomizeWeights(model, 31, 0.5);
      const feeds = { ...randomFeeds(model.inputs as never, batch, 32), ...randomFeeds(model.targets as never, batch, 33) };
      const step = model.trainStep(feeds);
      const w1 = model.getWeights();
      const names = model.weights.map((w) => w.name);
      const shapes = Object.fromEntries(model.weights.map((w) => [w.name, w.shape]));
      const target = tf.tensor(feeds.y as Float32Array, [batch, ...model.targets[0]!.shape]);
      const x = tf.tensor(feeds.x as Float32Array, [batch, ...c.input]);
      const lossOf = (...ws: tf.Tensor[]) => {
        const byName = Object.fromEntries(names.map((n, i) => [n, ws[i]!]));
        // the input projection (a dense layer over the last axis), then the op, then Keras's mean squared error
        const pre = tf.add(tf.matMul(tf.reshape(x, [-1, c.input[2]]), byName["pre_x/kernel"]!), byName["pre_x/bias"]!);
        const y = c.tf(tf.reshape(pre, [batch, ...c.input]) as tf.Tensor4D, names.filter((n) => n.startsWith("l/")).map((n) => byName[n]!));
        return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
      };
      const vars = names.map((n) => tf.tensor(w0[n]!, shapes[n]));
      const { value, grads } = tf.valueAndGrads(lossOf)(vars);
      expect(Math.abs(step.loss - value.dataSync()[0]!) / value.dataSync()[0]!).toBeLessThan(1e-4);
      names.forEach((n, i) => {
        const got = w0[n]!.map((v, j) => v - w1[n]![j]!);
        expect(relErr(got, grads[i]!.dataSync()), n).toBeLessThan(1e-4);
      });
    }, 60_000);
  }
});
