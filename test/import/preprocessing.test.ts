/**
 * Keras Rescaling and Normalization through the importer and the exporters (issue 18): TF.js
 * models built and saved in the test (TF.js's own model.save into memory; Normalization is
 * KerasNormalization, written from Keras 3's source, since tfjs-layers has none), imported and
 * compared with TF.js's predictions at 1e-4, three SGD steps against TF.js's, exported back to
 * TF.js (Rescaling) or refused there (Normalization), and through .keras both ways. The
 * acceptance model is a small EfficientNet-style network: Keras 3's stem preprocessing, MBConv
 * blocks with squeeze-and-excitation, swish.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { exportKeras, exportTfjs, importModel, KilnError } from "../../compiler/index.js";
import { checkGraph } from "../../compiler/frontend/index.js";
import { strFromU8, unzipSync } from "fflate";
import h5wasm from "h5wasm";
import { relErr, rng } from "../compile/harness.js";
import { kilnModel, randomizeTf, saveArtifacts, tfjsFromFiles, tfPredict, toFiles, trainBoth } from "./helpers.js";
import { B0_STAGES, efficientNet, efficientNetStyle, positiveVariances, preprocessingCnn } from "./efficientnet-models.js";
import { countParams } from "../../compiler/frontend/params.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const BATCH = 3;

/** Seeded images in 0–255, as EfficientNet takes them. */
function pixels(shape: number[], batch: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: batch * shape.reduce((a, b) => a * b, 1) }, () => Math.floor(next() * 256));
}

async function imported(model: tf.LayersModel, seed: number) {
  randomizeTf(model, seed);
  positiveVariances(model, seed);
  return importModel(toFiles(await saveArtifacts(model)));
}

describe("Keras Rescaling and Normalization import from TF.js model.json and predict as TF.js", () => {
  test("a small EfficientNet-style model (Rescaling, Normalization, per-channel Rescaling, MBConv with SE, swish) predicts as TF.js within 1e-4", async () => {
    const model = efficientNetStyle();
    const result = await imported(model, 31);
    const layers = result.graph.layers as Record<string, unknown>[];
    expect(layers.slice(0, 3)).toMatchObject([
      { name: "rescaling", op: "rescaling", scale: 1 / 255, offset: 0 },
      { name: "normalization", op: "normalization", axis: [-1], mean: null, variance: null, invert: false },
      { name: "rescaling_1", op: "rescaling", scale: [0.229, 0.224, 0.225].map((s) => 1 / Math.sqrt(s)) },
    ]);
    const ops = new Set(layers.map((l) => l.op));
    for (const op of ["multiply", "reshape", "depthwise_conv2d", "zero_padding2d", "add", "dropout"]) expect(ops, op).toContain(op);
    // Normalization's count is read (and left: kiln has no use for it); the noise-shaped dropout is noted.
    expect(result.notes.join("\n")).not.toMatch(/left out: .*count/);
    expect(result.notes.join("\n")).toMatch(/block2b_drop.*noise_shape=\[null,1,1,1\] left out/);
    const kiln = await kilnModel(result);
    const feeds = { input_layer: pixels([16, 16, 3], BATCH, 32) };
    const ours = kiln.predict(feeds).predictions!;
    const theirs = tfPredict(model, feeds, ["input_layer"], BATCH)[0]!;
    expect(relErr(ours, theirs)).toBeLessThan(1e-4);
    // The softmax is not flat: the preprocessing and the blocks decide something.
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-3);
  });

  test("EfficientNetB0 at 224×224 as Keras 3's efficientnet.py builds it: Keras's parameter counts, and predictions as TF.js's within 1e-4", async () => {
    const model = efficientNet(224, 32, B0_STAGES, 1280, 1000, "efficientnetb0");
    const result = await imported(model, 39);
    // Keras's summary of EfficientNetB0: 5,330,571 parameters, 5,288,548 trainable, 42,023 not
    // (batch-normalization moving statistics, and the Normalization's mean, variance and count).
    expect(countParams(checkGraph(result.graph))).toEqual({ trainable: 5_288_548, nonTrainable: 42_023, total: 5_330_571 });
    const kiln = await kilnModel(result, 1);
    const feeds = { input_layer: pixels([224, 224, 3], 1, 40) };
    const theirs = tfPredict(model, feeds, ["input_layer"], 1)[0]!;
    expect(relErr(kiln.predict(feeds).predictions!, theirs)).toBeLessThan(1e-4);
    expect(Math.max(...theirs)).toBeGreaterThan(10 * Math.min(...theirs));
  });

  test("the EfficientNet-style model saved with uint8-quantized weights predicts as TF.js loading the same files", async () => {
    const model = efficientNetStyle();
    randomizeTf(model, 37);
    positiveVariances(model, 37);
    const files = toFiles(await saveArtifacts(model), { quantization: "uint8" });
    const kiln = await kilnModel(await importModel(files));
    const theirs = await tfjsFromFiles(files);
    const feeds = { input_layer: pixels([16, 16, 3], BATCH, 38) };
    expect(relErr(kiln.predict(feeds).predictions!, tfPredict(theirs, feeds, ["input_layer"], BATCH)[0]!)).toBeLessThan(1e-4);
  });

  test("Rescaling with per-channel lists and Normalization's adapted weights: predictions, then three SGD steps as TF.js takes them", async () => {
    const model = preprocessingCnn(true);
    const result = await imported(model, 33);
    expect((result.graph.layers as Record<string, unknown>[])[0]).toMatchObject({ op: "rescaling", scale: [0.5, -1.5, 2], offset: [0.25, 0, -0.5] });
    const kiln = await kilnModel(result);
    const feeds = { img: pixels([5, 5, 3], BATCH, 34).map((v) => v / 255) };
    expect(relErr(kiln.predict(feeds).out!, tfPredict(model, feeds, ["img"], BATCH)[0]!)).toBeLessThan(1e-4);
    const both = await trainBoth(model, result, 35);
    both.kilnLosses.forEach((l, i) => expect(Math.abs(l - both.tfLosses[i]!) / Math.abs(both.tfLosses[i]!), `loss ${i}`).toBeLessThan(1e-4));
    for (const w of both.weights) {
      expect(relErr(w.kiln, w.tf), w.name).toBeLessThan(1e-3);
      // Normalization's statistics never train (in TF.js and in kiln); the conv and dense weights do.
      if (w.name.startsWith("norm/")) expect(Array.from(w.kiln), w.name).toEqual(Array.from(w.initial));
    }
    expect(both.weights.map((w) => w.name)).toEqual(expect.arrayContaining(["norm/mean", "norm/variance", "conv/kernel", "out/kernel"]));
  });
});

describe("Rescaling and Normalization export", () => {
  test("to TF.js: Rescaling (numbers and per-channel lists) goes out and TF.js predicts what kiln predicts", async () => {
    const model = preprocessingCnn(false);
    const result = await imported(model, 41);
    const kiln = await kilnModel(result);
    const out = exportTfjs(result.graph, result.weights);
    const json = JSON.parse(out.modelJson);
    expect(json.modelTopology.config.layers.filter((l: { class_name: string }) => l.class_name === "Rescaling").map((l: { config: unknown }) => l.config))
      .toMatchObject([{ scale: [0.5, -1.5, 2], offset: [0.25, 0, -0.5] }, { scale: 1 / 127.5, offset: -1 }]);
    const back = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: out.shard.slice().buffer }));
    const feeds = { img: pixels([5, 5, 3], BATCH, 42).map((v) => v / 255) };
    expect(relErr(tfPredict(back, feeds, ["img"], BATCH)[0]!, kiln.predict(feeds).out!)).toBeLessThan(1e-4);
  });

  test("to TF.js: Normalization is refused, naming the layer (tfjs-layers has no such layer); nothing is written", async () => {
    const result = await imported(efficientNetStyle(), 43);
    let err: unknown;
    try {
      exportTfjs(result.graph, result.weights);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).message).toBe("/layers/1, layer normalization: cannot export normalization to TF.js: TF.js has no Normalization layer");
  });

  test("to .keras and back: the EfficientNet-style model keeps its graph, weights and predictions; count is stored as Keras 3 keeps it (vars/2)", async () => {
    const result = await imported(efficientNetStyle(), 45);
    const file = await exportKeras(result.graph, result.weights);
    const zip = unzipSync(file);
    const config = JSON.parse(strFromU8(zip["config.json"]!));
    const norm = config.config.layers.find((l: { name: string }) => l.name === "normalization");
    expect(norm).toMatchObject({ class_name: "Normalization", config: { axis: [3], mean: null, variance: null, invert: false } });
    const { FS } = (await h5wasm.ready) as unknown as { FS: { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void } };
    FS.writeFile("/preprocessing-export.h5", zip["model.weights.h5"]!);
    const f = new h5wasm.File("/preprocessing-export.h5", "r");
    try {
      expect((f.get("layers/normalization/vars") as InstanceType<typeof h5wasm.Group>).keys().sort()).toEqual(["0", "1", "2"]);
      const count = f.get("layers/normalization/vars/2") as { shape: number[]; dtype: string; value: unknown };
      expect([count.shape, count.dtype, count.value]).toEqual([[], "<q", 0n]);
      expect((f.get("layers/rescaling_1/vars") as InstanceType<typeof h5wasm.Group>).keys()).toEqual([]);
    } finally {
      f.close();
      FS.unlink("/preprocessing-export.h5");
    }
    const back = await importModel(file);
    // Every layer and attribute as kiln normalizes it (initializers are not exported: the weights are).
    const attrs = (graph: unknown) => Object.fromEntries(checkGraph(graph).layers.map((l) => [l.name, [l.op, Object.fromEntries(Object.entries(l.attrs).filter(([k]) => !k.endsWith("_initializer")))]]));
    expect(attrs(back.graph)).toEqual(attrs(result.graph));
    expect(back.weights).toEqual(result.weights);
    expect(back.notes.join("\n")).not.toMatch(/left out: .*count/);
    const feeds = { input_layer: pixels([16, 16, 3], 2, 46) };
    const [a, b] = [await kilnModel(result), await kilnModel(back)];
    expect(Array.from(b.predict(feeds).predictions!)).toEqual(Array.from(a.predict(feeds).predictions!));
  });
});
