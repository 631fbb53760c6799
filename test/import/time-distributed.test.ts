/**
 * TimeDistributed over every inner layer kiln's time_distributed wraps (Dense, Conv2D, Conv1D, the
 * 1-D and 2-D pools and global pools, Flatten, Activation, ReLU, ThresholdedReLU, LeakyReLU, ELU,
 * Dropout, ZeroPadding2D, Cropping2D, UpSampling2D), in and out: models built with
 * tf.layers.timeDistributed and saved by TF.js itself (into memory) import and predict as TF.js
 * does (1e-4) and train as it does (three SGD steps); kiln's TF.js export loads back into TF.js and
 * predicts the same, with the inner weights under TF.js's names (`<wrapper>/kernel`); the Keras 3
 * export stores them as Keras 3 does (`layers/time_distributed_<n>/layer/vars/<i>`) and imports back
 * unchanged.
 */
import * as tf from "@tensorflow/tfjs";
import { strFromU8, unzipSync } from "fflate";
import h5wasm from "h5wasm";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, exportKeras, exportTfjs, importModel } from "../../compiler/index.js";
import type { ImportResult } from "../../compiler/index.js";
import { checkGraph } from "../../compiler/frontend/index.js";
import { loadModel } from "../../runtime/index.js";
import { relErr } from "../compile/harness.js";
import { keras2H5 } from "./keras-fixtures.js";
import { feedsFor, kilnModel, randomizeTf, saveArtifacts, tfPredict, toFiles, trainBoth } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const td = (layer: tf.layers.Layer, name: string) => tf.layers.timeDistributed({ layer, name });
const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;

/**
 * Frames [3, 8, 8, 2] through TimeDistributed 2-D layers: padding, convolution, cropping,
 * upsampling, both pools, the activation layers, both global pools, Flatten and Dense. With
 * forTraining, three are left out: Dropout (random in training), ThresholdedReLU (TF.js has no
 * gradient for it) and UpSampling2D (tfjs-core 4.22's cpu gradient of resizeNearestNeighbor is
 * wrong for a batch of more than one image: measured against the exact sum over each 2×2 block,
 * off by up to 8 for [2, 6, 6, 1], right for one image).
 */
function video(forTraining = false): tf.LayersModel {
  const x = tf.input({ shape: [3, 8, 8, 2], name: "frames" });
  let h = apply(td(tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }), "td_pad"), x); // [3, 9, 9, 2]
  h = apply(td(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: "relu", name: "frame_conv" }), "td_conv"), h); // [3, 7, 7, 3]
  h = apply(td(tf.layers.cropping2D({ cropping: [[1, 0], [0, 1]] }), "td_crop"), h); // [3, 6, 6, 3]
  if (!forTraining) h = apply(td(tf.layers.upSampling2d({ size: [2, 2] }), "td_up"), h); // [3, 12, 12, 3]
  h = apply(td(tf.layers.maxPooling2d({ poolSize: 2 }), "td_max"), h); // [3, 6, 6, 3]
  h = apply(td(tf.layers.averagePooling2d({ poolSize: 3, strides: 1 }), "td_avg"), h); // [3, 4, 4, 3]
  h = apply(td(tf.layers.leakyReLU({ alpha: 0.1 }), "td_leaky"), h);
  const elu = apply(td(tf.layers.elu(), "td_elu"), h);
  h = forTraining ? elu : apply(td(tf.layers.dropout({ rate: 0.3 }), "td_drop"), elu);
  h = apply(td(tf.layers.activation({ activation: "tanh" }), "td_tanh"), h);
  h = apply(td(tf.layers.reLU({ maxValue: 0.5 }), "td_relu"), h);
  if (!forTraining) h = apply(td(tf.layers.thresholdedReLU({ theta: 0.05 }), "td_thresh"), h);
  const gap = apply(td(tf.layers.globalAveragePooling2d({}), "td_gap"), h); // [3, 3]
  const gmp = apply(td(tf.layers.globalMaxPooling2d({}), "td_gmp"), elu); // [3, 3]
  const flat = apply(td(tf.layers.flatten(), "td_flat"), h); // [3, 48]
  const dense = apply(td(tf.layers.dense({ units: 4, activation: "sigmoid", name: "frame_dense" }), "td_dense"), flat); // [3, 4]
  const cat = apply(tf.layers.concatenate(), [gap, gmp, dense]); // [3, 10]
  return tf.model({ inputs: x, outputs: apply(td(tf.layers.dense({ units: 2 }), "td_out"), cat) });
}

/** Sequences of sequences [3, 7, 4] through TimeDistributed 1-D layers: Conv1D, both pools and both global pools. */
function sequences(): tf.LayersModel {
  const x = tf.input({ shape: [3, 7, 4], name: "seqs" });
  const c = apply(td(tf.layers.conv1d({ filters: 3, kernelSize: 3, activation: "elu" }), "td_conv1d"), x); // [3, 5, 3]
  const mp = apply(td(tf.layers.maxPooling1d({ poolSize: 2, strides: 1 }), "td_max1d"), c); // [3, 4, 3]
  const ap = apply(td(tf.layers.averagePooling1d({ poolSize: 2 }), "td_avg1d"), mp); // [3, 2, 3]
  const gap = apply(td(tf.layers.globalAveragePooling1d({}), "td_gap1d"), c); // [3, 3]
  const gmp = apply(td(tf.layers.globalMaxPooling1d({}), "td_gmp1d"), ap); // [3, 3]
  const cat = apply(tf.layers.concatenate(), [gap, gmp]); // [3, 6]
  return tf.model({ inputs: x, outputs: apply(td(tf.layers.dense({ units: 2, activation: "tanh" }), "td_out"), cat) });
}

/** Each wrapper's inner kiln op and Keras class. */
const WRAPPED: Record<"video" | "sequences", Record<string, [string, string]>> = {
  video: {
    td_pad: ["zero_padding2d", "ZeroPadding2D"], td_conv: ["conv2d", "Conv2D"], td_crop: ["cropping2d", "Cropping2D"], td_up: ["upsampling2d", "UpSampling2D"],
    td_max: ["max_pooling2d", "MaxPooling2D"], td_avg: ["average_pooling2d", "AveragePooling2D"], td_leaky: ["leaky_relu", "LeakyReLU"], td_elu: ["elu", "ELU"],
    td_drop: ["dropout", "Dropout"], td_tanh: ["activation", "Activation"], td_relu: ["relu", "ReLU"], td_thresh: ["relu", "ReLU"],
    td_gap: ["global_average_pooling2d", "GlobalAveragePooling2D"], td_gmp: ["global_max_pooling2d", "GlobalMaxPooling2D"], td_flat: ["flatten", "Flatten"],
    td_dense: ["dense", "Dense"], td_out: ["dense", "Dense"],
  },
  sequences: {
    td_conv1d: ["conv1d", "Conv1D"], td_max1d: ["max_pooling1d", "MaxPooling1D"], td_avg1d: ["average_pooling1d", "AveragePooling1D"],
    td_gap1d: ["global_average_pooling1d", "GlobalAveragePooling1D"], td_gmp1d: ["global_max_pooling1d", "GlobalMaxPooling1D"], td_out: ["dense", "Dense"],
  },
};
const wrapped = (what: "video" | "sequences", k: 0 | 1) => Object.fromEntries(Object.entries(WRAPPED[what]).map(([name, v]) => [name, v[k]]));

const MODELS = [["video", video], ["sequences", sequences]] as const;

/** kiln's predictions and TF.js's for the same seeded inputs (3 examples). */
function predictBoth(kiln: Awaited<ReturnType<typeof kilnModel>>, reference: tf.LayersModel, graph: Record<string, unknown>, seed: number) {
  const feeds = feedsFor(graph, 3, seed);
  const output = (graph.outputs as string[])[0]!;
  const inputs = (graph.inputs as { name: string }[]).map((i) => i.name);
  return { ours: kiln.predict(feeds)[output]!, theirs: tfPredict(reference, feeds, inputs, 3)[0]! };
}

/**
 * A graph's layers by name as kiln normalizes them (defaults filled in), without initializers,
 * which the weights in the file make moot and the Keras export does not write.
 */
function layersOf(graph: unknown): Record<string, unknown> {
  const noInit = (a: object) => Object.fromEntries(Object.entries(a).filter(([k]) => !k.endsWith("_initializer")));
  return Object.fromEntries(checkGraph(graph).layers.map((l) => [l.name, {
    op: l.op, inputs: l.inputs, attrs: noInit({ ...l.attrs, ...(l.attrs.layer ? { layer: noInit(l.attrs.layer as object) } : {}) }),
  }]));
}

async function imported(build: () => tf.LayersModel, seed: number): Promise<{ model: tf.LayersModel; result: ImportResult }> {
  const model = build();
  randomizeTf(model, seed);
  return { model, result: await importModel(toFiles(await saveArtifacts(model))) };
}

describe("TimeDistributed over every layer kiln's time_distributed wraps", () => {
  for (const [what, build] of MODELS) {
    test(`${what}: TF.js → kiln imports every wrapped class and predicts as TF.js (1e-4)`, async () => {
      const { model, result } = await imported(build, 41);
      const layers = result.graph.layers as { name: string; op: string; layer?: { op: string } }[];
      expect(Object.fromEntries(layers.filter((l) => l.op === "time_distributed").map((l) => [l.name, l.layer!.op]))).toEqual(wrapped(what, 0));
      const { ours, theirs } = predictBoth(await kilnModel(result), model, result.graph, 42);
      expect(relErr(ours, theirs)).toBeLessThan(1e-4);
    });

    test(`${what}: kiln → TF.js export loads in TF.js, inner weights under TF.js's names, same predictions (1e-4)`, async () => {
      const { result } = await imported(build, 43);
      const out = exportTfjs(result.graph, result.weights);
      const json = JSON.parse(out.modelJson);
      const names = (json.weightsManifest[0].weights as { name: string }[]).map((w) => w.name);
      const wrappersWithWeights = what === "video" ? ["td_conv", "td_dense", "td_out"] : ["td_conv1d", "td_out"];
      expect(names).toEqual(wrappersWithWeights.flatMap((l) => [`${l}/kernel`, `${l}/bias`]));
      const back = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: out.shard.slice().buffer }));
      expect(back.layers.filter((l) => l.getClassName() === "TimeDistributed")).toHaveLength(Object.keys(WRAPPED[what]).length);
      const { ours, theirs } = predictBoth(await kilnModel(result), back, result.graph, 44);
      expect(relErr(theirs, ours)).toBeLessThan(1e-4);
    });

    test(`${what}: kiln → .keras → kiln stores the inner weights at layers/time_distributed_<n>/layer/vars/<i> and comes back unchanged`, async () => {
      const { result } = await imported(build, 45);
      const file = await exportKeras(result.graph, result.weights);
      const zip = unzipSync(file);
      const config = JSON.parse(strFromU8(zip["config.json"]!));
      const wrappers = (config.config.layers as { class_name: string; name: string; config: { layer?: { class_name: string } } }[]).filter((l) => l.class_name === "TimeDistributed");
      expect(Object.fromEntries(wrappers.map((l) => [l.name, l.config.layer!.class_name]))).toEqual(wrapped(what, 1));
      const { FS } = (await h5wasm.ready) as unknown as { FS: { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void } };
      FS.writeFile("/td-export.h5", zip["model.weights.h5"]!);
      const f = new h5wasm.File("/td-export.h5", "r");
      // Keras 3's store path: the n-th TimeDistributed (from 0) is layers/time_distributed_<n> (no suffix for the first).
      const n = wrappers.findIndex((l) => l.name === (what === "video" ? "td_conv" : "td_conv1d"));
      const conv = n ? `layers/time_distributed_${n}` : "layers/time_distributed";
      const shape = (p: string) => (f.get(p) as { shape: number[] } | null)?.shape;
      expect([shape(`${conv}/layer/vars/0`), shape(`${conv}/layer/vars/1`)]).toEqual(what === "video" ? [[3, 3, 2, 3], [3]] : [[3, 4, 3], [3]]);
      f.close();
      FS.unlink("/td-export.h5");
      const back = await importModel(file);
      expect(back.weights).toEqual(result.weights);
      expect(layersOf(back.graph)).toEqual(layersOf(result.graph));
      const { wasm } = await compile(JSON.stringify(back.graph), { maxBatch: 3, weights: back.weights });
      const again = await loadModel(wasm);
      const feeds = feedsFor(result.graph, 3, 46);
      const output = (result.graph.outputs as string[])[0]!;
      expect(Array.from(again.predict(feeds)[output]!)).toEqual(Array.from((await kilnModel(result)).predict(feeds)[output]!));
    });
  }

  test("sequences as a Keras 2 full-model .h5 (the Keras-2-style config TF.js saves; the inner weights under the wrapper, <wrapper>/kernel:0) predict as TF.js", async () => {
    const model = sequences();
    randomizeTf(model, 49);
    const artifacts = await saveArtifacts(model);
    const tensorOf = (t: tf.Tensor) => ({ shape: [...t.shape], data: new Float32Array(t.dataSync()) });
    const file = await keras2H5(artifacts.modelTopology, null, model.layers.map((l) => ({
      name: l.name,
      weights: Object.fromEntries(l.weights.map((w, i) => [`${w.originalName}:0`, tensorOf(l.getWeights()[i]!)])),
    })));
    const result = await importModel(file);
    expect(Object.keys(result.graph.layers as object[]).length).toBe(model.layers.length - 1);
    const { ours, theirs } = predictBoth(await kilnModel(result), model, result.graph, 50);
    expect(relErr(ours, theirs)).toBeLessThan(1e-4);
  });

  for (const [what, build] of [["video without Dropout, ThresholdedReLU and UpSampling2D", () => video(true)], ["sequences", sequences]] as const) {
    test(`${what}: three SGD steps as TF.js (losses 1e-4, weights 1e-3)`, async () => {
      const { model, result } = await imported(build, 47);
      const { kilnLosses, tfLosses, weights } = await trainBoth(model, result, 48);
      kilnLosses.forEach((l, i) => expect(Math.abs(l - tfLosses[i]!) / tfLosses[i]!, `step ${i + 1}: kiln ${l}, TF.js ${tfLosses[i]}`).toBeLessThan(1e-4));
      expect(tfLosses[2]).toBeLessThan(tfLosses[0]!);
      expect(weights.length).toBe(model.weights.length);
      for (const w of weights) expect(relErr(w.kiln, w.tf), w.name).toBeLessThan(1e-3);
    });
  }
});
