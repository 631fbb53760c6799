/**
 * importModel on TF.js layers models built and saved in the test (tfjs-layers' own model.save into
 * memory, nothing downloaded): Sequential and functional models covering every Keras class kiln
 * maps that TF.js has, imported, compiled and predicted by kiln, against TF.js's predict on the same
 * inputs (1e-4 relative ‖kiln − tf‖/‖tf‖). Quantized shards (uint8, uint16, float16) are written per
 * the TF.js weights format and compared against TF.js loading the same quantized files.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { importModel, KilnError } from "../../compiler/index.js";
import { readSafetensors, asFloat32 } from "../../runtime/safetensors.js";
import { relErr } from "../compile/harness.js";
import { activationLayers, cnn, convolutions, functional, recurrentWrappers, sequence, spatial } from "./models.js";
import { feedsFor, kilnModel, quantize, randomizeTf, saveArtifacts, tfjsFromFiles, tfPredict, toFiles, type Quantization } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const BATCH = 3;

async function roundTrip(model: tf.LayersModel, seed: number, opts: { quantization?: Quantization; shards?: number } = {}) {
  randomizeTf(model, seed);
  const files = toFiles(await saveArtifacts(model), opts);
  const imported = await importModel(files);
  const kiln = await kilnModel(imported);
  const reference = opts.quantization ? await tfjsFromFiles(files) : model;
  const graph = imported.graph;
  const feeds = feedsFor(graph, BATCH, seed + 1, 11);
  const ours = kiln.predict(feeds);
  const theirs = tfPredict(reference, feeds, (graph.inputs as { name: string }[]).map((i) => i.name), BATCH);
  const outputs = graph.outputs as string[];
  return { imported, errs: outputs.map((o, k) => relErr(ours[o]!, theirs[k]!)), ours, theirs };
}

describe("TF.js layers models import and predict as TF.js does", () => {
  test("Sequential CNN (Conv2D, BatchNormalization, pools, activation layers, Reshape, Dropout, Flatten, Dense, Softmax)", async () => {
    const { imported, errs } = await roundTrip(cnn(), 1);
    const ops = (imported.graph.layers as { op: string }[]).map((l) => l.op);
    expect(ops).toEqual(["conv2d", "batch_normalization", "conv2d", "relu", "max_pooling2d", "conv2d", "leaky_relu", "average_pooling2d", "elu", "activation", "reshape", "dropout", "flatten", "dense", "dense", "softmax"]);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("functional model with three inputs, two outputs, merges, global pools, LayerNormalization and a nested Sequential (flattened)", async () => {
    const { imported, errs } = await roundTrip(functional(), 2);
    const layers = imported.graph.layers as { name: string; op: string; inputs: string[] }[];
    expect(layers.some((l) => l.op === "sequential")).toBe(false);
    expect(imported.graph.inputs).toEqual([{ name: "a", shape: [6] }, { name: "b", shape: [6] }, { name: "img", shape: [5, 5, 2] }]);
    expect(imported.graph.outputs).toEqual(["probs", "value"]);
    expect(errs).toHaveLength(2);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("sequence model (Embedding with a float input made int32, SimpleRNN, LSTM, Dense)", async () => {
    const { imported, errs } = await roundTrip(sequence(), 3);
    expect((imported.graph.inputs as { dtype?: string }[])[0]!.dtype).toBe("int32");
    expect(imported.notes.join("\n")).toMatch(/Embedding and becomes int32/);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("shape layers (Conv1D valid/same, 1-D pools, global 1-D pools, Permute, ZeroPadding2D, UpSampling2D, Cropping2D, RepeatVector)", async () => {
    const { imported, errs } = await roundTrip(spatial(), 7);
    const ops = new Set((imported.graph.layers as { op: string }[]).map((l) => l.op));
    for (const op of ["conv1d", "max_pooling1d", "average_pooling1d", "global_max_pooling1d", "global_average_pooling1d", "permute", "zero_padding2d", "upsampling2d", "cropping2d", "repeat_vector"]) expect(ops, op).toContain(op);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("Bidirectional (LSTM sum, SimpleRNN concat) and a backwards GRU with reset_after=false", async () => {
    const { imported, errs } = await roundTrip(recurrentWrappers(), 8);
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers[0]).toMatchObject({ op: "bidirectional", merge_mode: "sum", layer: { op: "lstm", units: 3, return_sequences: true } });
    expect(layers[1]).toMatchObject({ op: "gru", reset_after: false, go_backwards: true });
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("depthwise, separable and transposed convolutions (DepthwiseConv2D, SeparableConv2D, Conv2DTranspose)", async () => {
    const { imported, errs } = await roundTrip(convolutions(), 9);
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers.map((l) => l.op)).toEqual(["depthwise_conv2d", "depthwise_conv2d", "separable_conv2d", "separable_conv2d", "conv2d_transpose", "conv2d_transpose", "flatten", "dense"]);
    expect(layers[0]).toMatchObject({ depth_multiplier: 2, strides: [2, 2], padding: "same", activation: "relu6" });
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("activation layers (ReLU, ThresholdedReLU, LeakyReLU alpha default 0.3 and set, ELU, PReLU) and activation names (relu6, selu, mish, logSoftmax, hardSigmoid, swish, gelu)", async () => {
    const { imported, errs } = await roundTrip(activationLayers(), 10);
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers.filter((l) => ["relu", "leaky_relu", "elu", "prelu"].includes(l.op as string))).toMatchObject([
      { op: "relu", max_value: 0.8, negative_slope: 0, threshold: 0 }, { op: "prelu", shared_axes: [1, 2] }, { op: "relu", threshold: 0.1 },
      { op: "leaky_relu", negative_slope: 0.3 }, { op: "elu", alpha: 1 }, { op: "prelu", shared_axes: null }, { op: "leaky_relu", negative_slope: 0.1 },
    ]);
    expect(layers.filter((l) => l.op === "dense").map((l) => l.activation)).toEqual(["relu6", "selu", "mish", "log_softmax", "hard_sigmoid_legacy", "silu", "gelu", "softplus", "linear"]);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("weights split over 3 shards import the same bytes as one shard", async () => {
    const model = cnn();
    randomizeTf(model, 4);
    const a = await saveArtifacts(model);
    const one = await importModel(toFiles(a));
    const three = await importModel(toFiles(a, { shards: 3 }));
    expect(three.weights).toEqual(one.weights);
  });
});

describe("quantized weights dequantize exactly as TF.js's decodeWeights", () => {
  for (const q of ["uint8", "uint16", "float16"] as const) {
    test(`${q}: every weight equals TF.js's decodeWeights bit for bit, and predictions equal TF.js loading the same files`, async () => {
      const model = functional();
      randomizeTf(model, 5);
      const a = await saveArtifacts(model);
      const files = toFiles(a, { quantization: q });
      const imported = await importModel(files);
      const { specs, data } = quantize(a, q);
      const decoded = tf.io.decodeWeights(data.buffer as ArrayBuffer, specs);
      const st = readSafetensors(imported.weights);
      let checked = 0;
      for (const [tfName, tensor] of Object.entries(decoded)) {
        const layer = tfName.split("/")[0]!;
        const kilnName = `${layer}/${tfName.split("/").pop()}`;
        const ours = asFloat32(st.tensors.get(kilnName)!, kilnName);
        expect(Array.from(ours), tfName).toEqual(Array.from(tensor.dataSync()));
        checked++;
      }
      expect(checked).toBe(specs.length);
      const kiln = await kilnModel(imported);
      const reference = await tfjsFromFiles(files);
      const feeds = feedsFor(imported.graph, BATCH, 6);
      const ours = kiln.predict(feeds);
      const theirs = tfPredict(reference, feeds, ["a", "b", "img"], BATCH);
      expect(relErr(ours.probs!, theirs[0]!)).toBeLessThan(1e-4);
      expect(relErr(ours.value!, theirs[1]!)).toBeLessThan(1e-4);
    });
  }
});

describe("what kiln cannot represent stops the import with every problem named", () => {
  test("unsupported classes, arguments and activations are all listed, one line each, with the Keras name and class", async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv1d({ inputShape: [8, 2], filters: 2, kernelSize: 2 })); // made channels_first in the file below
    m.add(tf.layers.conv1d({ filters: 2, kernelSize: 2, padding: "causal" }));
    m.add(tf.layers.lstm({ units: 2, returnSequences: true })); // TF.js default recurrent activation: hard_sigmoid
    m.add(tf.layers.flatten());
    const files = toFiles(await saveArtifacts(m));
    const json = JSON.parse(files["model.json"] as string);
    json.modelTopology.config.layers[0].config.data_format = "channels_first";
    const err = await importModel({ ...files, "model.json": JSON.stringify(json) }).catch((e) => e);
    expect(err).toBeInstanceOf(KilnError);
    const lines = (err as KilnError).message.split("\n");
    expect(lines, lines.join("\n")).toHaveLength(3);
    expect(lines[0]).toMatch(/layer "conv1d_Conv1D\d+" \(Conv1D\): data_format="channels_first" is not supported: kiln supports "channels_last" only/);
    expect(lines[1]).toMatch(/\(Conv1D\): padding="causal" from TF\.js is not supported: tfjs-layers gives it the output length of "valid"/);
    lines.splice(1, 1);
    expect(lines[1]).toMatch(/layer "lstm_LSTM\d+" \(LSTM\): recurrent_activation="hard_sigmoid" is not supported/);
  });

  test("a Keras 3 source's hard_sigmoid is Keras 3's (relu6(x + 3) / 6): kiln's hard_sigmoid", async () => {
    const json = {
      modelTopology: {
        keras_version: "3.6.0", backend: "jax",
        model_config: { class_name: "Sequential", config: { name: "s", layers: [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3], dtype: "float32" } },
          { class_name: "Activation", config: { name: "d", activation: "hard_sigmoid" } },
        ] } },
      },
      weightsManifest: [],
    };
    const { graph } = await importModel(JSON.stringify(json));
    expect((graph.layers as { activation?: string }[]).map((l) => l.activation)).toEqual(["hard_sigmoid"]);
  });

  test("a TF.js source's hardSigmoid is TF.js's (clip(0.2·x + 0.5, 0, 1)): kiln's hard_sigmoid_legacy, predicting as TF.js", async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [3], units: 4, activation: "hardSigmoid" }));
    const { imported, errs } = await roundTrip(m, 7);
    expect((imported.graph.layers as { activation?: string }[]).map((l) => l.activation)).toEqual(["hard_sigmoid_legacy"]);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });
});
