/**
 * The seed CNN (examples/mnist-cnn/graph.json) against TensorFlow.js: the gradients of one
 * compiled training step on real MNIST digits equal tf.variableGrads of the same tfjs-layers
 * network (cpu backend, same initial weights, same batch, the spec §3 sparse cross-entropy)
 * within 1e-4. The optimizer is swapped for sgd with learning rate 1 so that Δw = −g.
 */
import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { build, compiledGradients, gradientErrors, norm } from "./helpers.js";
import { mnistDigits } from "./mnist-data.js";

const seed = JSON.parse(readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));
const GRAPH = { ...seed, training: { ...seed.training, optimizer: { type: "sgd", learning_rate: 1 } } };
const BATCH = 6;

/** The same network in tfjs-layers, as [kiln layer name, tfjs layer]. */
function tfNetwork(): [string, tf.layers.Layer][] {
  return [
    ["conv1", tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: "relu" })],
    ["pool1", tf.layers.maxPooling2d({ poolSize: 2 })],
    ["conv2", tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" })],
    ["pool2", tf.layers.maxPooling2d({ poolSize: 2 })],
    ["conv3", tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" })],
    ["flat", tf.layers.flatten()],
    ["fc1", tf.layers.dense({ units: 64, activation: "relu" })],
    ["probs", tf.layers.dense({ units: 10, activation: "softmax" })],
  ];
}

/** Spec §3 sparse categorical cross-entropy on probabilities: normalize, clip, log, mean. */
function sparseCE(probs: tf.Tensor, labels: Int32Array): tf.Scalar {
  const p = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), 1e-7, 1 - 1e-7);
  const oneHot = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(p)), -1))) as tf.Scalar;
}

let kiln: { loss: number; grads: Record<string, Float32Array>; metrics: Record<string, number> };
let tfLoss: number;
let tfGrads: Record<string, Float32Array>;

beforeAll(async () => {
  await tf.setBackend("cpu");
  const { model } = await build(GRAPH, { maxBatch: BATCH });
  const weights = model.getWeights(); // the seeded initial weights
  const data = mnistDigits(1);
  const image = data.image.subarray(0, BATCH * 784), label = data.label.subarray(0, BATCH);
  kiln = compiledGradients(model, { image, label });

  const net = tfNetwork();
  const x = tf.tensor4d(image, [BATCH, 28, 28, 1]);
  const forward = () => net.reduce((h, [, l]) => l.apply(h) as tf.Tensor, x as tf.Tensor);
  forward(); // builds every layer
  const vars: tf.Variable[] = [];
  const names = new Map<string, string>();
  for (const [name, l] of net) {
    const own = ["kernel", "bias"].filter((w) => weights[`${name}/${w}`]);
    if (!own.length) continue;
    l.setWeights(own.map((w) => tf.tensor(weights[`${name}/${w}`]!, model.weights.find((m) => m.name === `${name}/${w}`)!.shape)));
    l.trainableWeights.forEach((lv, i) => {
      const v = (lv as unknown as { val: tf.Variable }).val;
      vars.push(v);
      names.set(v.name, `${name}/${own[i]}`);
    });
  }
  const { value, grads } = tf.variableGrads(() => sparseCE(forward(), label), vars);
  tfLoss = value.dataSync()[0]!;
  tfGrads = Object.fromEntries(Object.entries(grads).map(([k, g]) => [names.get(k)!, g.dataSync() as Float32Array]));
}, 180_000);

describe("seed CNN: one compiled training step vs TensorFlow.js gradients", () => {
  it("covers every weight of the graph", () => {
    expect(Object.keys(tfGrads).sort()).toEqual(Object.keys(kiln.grads).sort());
    expect(Object.keys(kiln.grads)).toHaveLength(10);
  });

  it("the loss matches", () => {
    expect(tfLoss).toBeGreaterThan(1);
    expect(Math.abs(kiln.loss - tfLoss) / tfLoss).toBeLessThan(1e-4);
  });

  it("every gradient matches within 1e-4", () => {
    for (const [name, g] of Object.entries(tfGrads)) expect(norm(g), name).toBeGreaterThan(0);
    for (const [name, e] of Object.entries(gradientErrors(kiln.grads, tfGrads))) expect(e, name).toBeLessThan(1e-4);
  });
});
