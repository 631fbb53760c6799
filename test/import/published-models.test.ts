/**
 * Acceptance on real, published Keras-trained models: the `nsfwjs` npm package (Infinite Red, MIT)
 * ships two Keras 2.2.4 models fine-tuned for its five-class image classifier, converted to
 * TensorFlow.js layers format with uint8-quantized weights — MobileNetV2 (162 layers, 224×224) and
 * InceptionV3 (318 layers, 299×299). The package wraps each model.json and weight shard in a
 * browserify bundle (the JSON object, and the shard as base64 text); the test unwraps them with a
 * plain require, hands the bytes to importModel exactly as the shard files would be, compiles the
 * graph, and compares kiln's predictions with TF.js's own loadLayersModel of the same files on the
 * cpu backend (1e-4 relative). Nothing is downloaded: the package is a devDependency.
 */
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, importModel } from "../../compiler/index.js";
import type { ImportFiles } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { relErr, rng } from "../compile/harness.js";
import { mnistDigits } from "../training/mnist-data.js";
import { tfjsFromFiles } from "./helpers.js";

const require = createRequire(import.meta.url);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

interface BundledModel {
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
}

/** model.json and its shards as files, from nsfwjs's bundled copies (shard modules export base64 text). */
function nsfwjsFiles(model: "mobilenet_v2" | "inception_v3"): ImportFiles {
  // The package's "exports" map hides dist/models: resolve the package entry and go beside it.
  const dir = join(dirname(require.resolve("nsfwjs")), "..", "models", model);
  const json = require(`${dir}/model.min.js`) as BundledModel;
  const files: ImportFiles = { "model.json": JSON.stringify(json) };
  for (const path of json.weightsManifest.flatMap((g) => g.paths)) {
    const base64 = require(`${dir}/${path}.min.js`) as string;
    files[path] = new Uint8Array(Buffer.from(base64, "base64"));
  }
  return files;
}

/**
 * RGB images of side `size` in [0, 1] (nsfwjs feeds pixels / 255): `digits` real MNIST digits scaled
 * up (nearest neighbour) into the three channels, then `noise` images of seeded uniform noise.
 */
function images(size: number, digits: number, noise: number, seed: number): Float32Array {
  const { image } = mnistDigits(1);
  const count = digits + noise;
  const out = new Float32Array(count * size * size * 3);
  for (let n = 0; n < digits; n++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = image[n * 784 + Math.floor((y * 28) / size) * 28 + Math.floor((x * 28) / size)]!;
        const at = ((n * size + y) * size + x) * 3;
        out[at] = v, out[at + 1] = v * 0.8, out[at + 2] = 1 - v;
      }
    }
  }
  const next = rng(seed);
  for (let i = digits * size * size * 3; i < out.length; i++) out[i] = next();
  return out;
}

/** kiln's and TF.js's class probabilities for the same images, both from the package's files. */
async function compareWithTfjs(model: "mobilenet_v2" | "inception_v3", size: number, digits: number, noise: number) {
  const files = nsfwjsFiles(model);
  const imported = await importModel(files);
  const batch = digits + noise;
  const { wasm } = await compile(JSON.stringify(imported.graph), { maxBatch: batch, weights: imported.weights });
  const kiln = await loadModel(wasm);
  const input = (imported.graph.inputs as { name: string }[])[0]!.name;
  const output = (imported.graph.outputs as string[])[0]!;
  const x = images(size, digits, noise, 7);
  const ours = kiln.predict({ [input]: x })[output]!;
  const reference = await tfjsFromFiles(files);
  const y = reference.predict(tf.tensor(x, [batch, size, size, 3])) as tf.Tensor;
  const theirs = y.dataSync() as Float32Array;
  return { imported, ours, theirs, batch };
}

describe("published Keras-trained models (nsfwjs) import and predict as TF.js does", () => {
  // MobileNetV2 on three digits and one noise image; InceptionV3 (TF.js's cpu backend takes about a
  // minute per 299×299 image on this machine) on one digit.
  test.each([
    { model: "mobilenet_v2" as const, keras: "MobileNetV2", size: 224, digits: 3, noise: 1, layers: 162 },
    { model: "inception_v3" as const, keras: "InceptionV3", size: 299, digits: 1, noise: 0, layers: 318 },
  ])("nsfwjs $keras (Keras 2.2.4, $layers layers, uint8-quantized)", async ({ model, size, digits, noise, layers }) => {
    const { imported, ours, theirs, batch } = await compareWithTfjs(model, size, digits, noise);
    // Every layer but the InputLayer becomes a kiln layer.
    expect((imported.graph.layers as unknown[]).length).toBe(layers - 1);
    // Keras 2.2.4's training_config (SGD with "lr", momentum) becomes the training section; the L2
    // kernel regularizer kiln lacks is named in a note; the frozen backbone stays frozen.
    expect(imported.graph.training).toMatchObject({ loss: { type: "categorical_crossentropy" }, optimizer: { type: "sgd", nesterov: false }, metrics: ["accuracy"] });
    expect(imported.notes.join("\n")).toMatch(/layer "dense_1" \(Dense\): kernel_regularizer=.*L1L2.* left out/);
    expect((imported.graph.layers as { trainable?: boolean }[]).some((l) => l.trainable === false)).toBe(true);
    expect(ours).toHaveLength(batch * 5);
    for (let n = 0; n < batch; n++) expect(relErr(ours.subarray(n * 5, n * 5 + 5), theirs.subarray(n * 5, n * 5 + 5)), `image ${n}`).toBeLessThan(1e-4);
  }, 600_000);
});
