/**
 * importModel on TF.js layers models built and saved in the test (tfjs-layers' own model.save into
 * memory, nothing downloaded): Sequential and functional models covering every Keras class kiln
 * maps that TF.js has, imported, compiled and predicted by kiln, against TF.js's predict on the same
 * inputs (1e-4 relative ‖kiln − tf‖/‖tf‖). Quantized shards (uint8, uint16, float16) are written per
 * the TF.js weights format and compared against TF.js loading the same quantized files.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { exportTfjs, importModel, KilnError } from "../../compiler/index.js";
import { readSafetensors, asFloat32 } from "../../runtime/safetensors.js";
import { relErr } from "../compile/harness.js";
import { activationLayers, cnn, convolutions, functional, mobileNetBlock, normalizations, recurrentWrappers, sequence, spatial, wrappersAndNoise } from "./models.js";
import { feedsFor, kilnModel, quantize, randomizeTf, saveArtifacts, tfjsFromFiles, tfPredict, toFiles, trainBoth, type Quantization } from "./helpers.js";

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

  test("TimeDistributed(Dense), Dot (axes and normalize), SpatialDropout1D, GaussianNoise, GaussianDropout", async () => {
    const { imported, errs } = await roundTrip(wrappersAndNoise(), 11);
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers[0]).toMatchObject({ op: "time_distributed", layer: { op: "dense", units: 3, activation: "tanh" } });
    expect(layers.filter((l) => l.op === "dot")).toMatchObject([{ axes: [2, 2], normalize: false }, { axes: 1, normalize: true }]);
    for (const op of ["spatial_dropout1d", "gaussian_noise", "gaussian_dropout"]) expect(layers.map((l) => l.op), op).toContain(op);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("BatchNormalization center=false and LayerNormalization scale=false: no beta / gamma weight in kiln either", async () => {
    const { imported, errs } = await roundTrip(normalizations(), 14);
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers[1]).toMatchObject({ op: "batch_normalization", center: false, scale: true, momentum: 0.9 });
    expect(layers[2]).toMatchObject({ op: "layer_normalization", center: true, scale: false });
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  test("a MobileNetV2 inverted-residual block (DepthwiseConv2D, ReLU max_value 6, BatchNormalization, residual Add)", async () => {
    const { imported, errs } = await roundTrip(mobileNetBlock(), 15);
    const ops = (imported.graph.layers as { op: string }[]).map((l) => l.op);
    expect(ops.filter((op) => op === "depthwise_conv2d")).toHaveLength(2);
    expect((imported.graph.layers as Record<string, unknown>[]).filter((l) => l.op === "relu").every((l) => l.max_value === 6)).toBe(true);
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

describe("imported models train as TF.js does: three SGD steps from the same weights", () => {
  const TRAINED: [string, () => tf.LayersModel][] = [
    ["DepthwiseConv2D, SeparableConv2D, Conv2DTranspose", () => convolutions(true)],
    ["ReLU, LeakyReLU, ELU, PReLU and activation names", () => activationLayers(true)],
    ["TimeDistributed(Dense) and Dot", () => wrappersAndNoise(false)],
    ["a MobileNetV2 block (BatchNormalization in training mode)", mobileNetBlock],
  ];
  for (const [what, build] of TRAINED) {
    test(`${what}: losses within 1e-4, weights within 1e-3`, async () => {
      const model = build();
      randomizeTf(model, 31);
      const imported = await importModel(toFiles(await saveArtifacts(model)));
      const { kilnLosses, tfLosses, weights } = await trainBoth(model, imported, 32);
      expect(kilnLosses).toHaveLength(3);
      kilnLosses.forEach((l, i) => expect(Math.abs(l - tfLosses[i]!) / tfLosses[i]!, `step ${i + 1}: kiln ${l}, TF.js ${tfLosses[i]}`).toBeLessThan(1e-4));
      expect(tfLosses[2]).toBeLessThan(tfLosses[0]!); // the steps did train
      expect(weights.length).toBe(model.weights.length);
      const delta = (after: Float32Array, before: Float32Array) => after.map((v, i) => v - before[i]!);
      for (const w of weights) {
        expect(relErr(w.kiln, w.tf), w.name).toBeLessThan(1e-3);
        expect(relErr(delta(w.kiln, w.initial), delta(w.tf, w.initial)), `${w.name}: the change the steps made`).toBeLessThan(1e-3);
      }
    });
  }
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

describe("a quantized conv model (uint8): DepthwiseConv2D, SeparableConv2D, Conv2DTranspose", () => {
  test("imports and predicts as TF.js loading the same uint8 files; exported back, TF.js predicts what kiln predicts", async () => {
    const { imported, errs, ours } = await roundTrip(convolutions(), 12, { quantization: "uint8" });
    for (const e of errs) expect(e).toBeLessThan(1e-4);
    const out = exportTfjs(imported.graph, imported.weights);
    const json = JSON.parse(out.modelJson);
    const back = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: out.shard.slice().buffer }));
    const feeds = feedsFor(imported.graph, BATCH, 13, 11);
    const again = tfPredict(back, feeds, (imported.graph.inputs as { name: string }[]).map((i) => i.name), BATCH);
    expect(relErr(again[0]!, ours[(imported.graph.outputs as string[])[0]!]!)).toBeLessThan(1e-4);
  });
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

  test("AlphaDropout, TimeDistributed over a class kiln's wrapper lacks, and a dilated DepthwiseConv2D from TF.js are refused, each with what would work", async () => {
    const m = tf.sequential();
    m.add(tf.layers.depthwiseConv2d({ inputShape: [6, 6, 2], kernelSize: 2, dilationRate: 2 })); // tfjs-layers computes it undilated
    m.add(tf.layers.alphaDropout({ rate: 0.1 }));
    m.add(tf.layers.reshape({ targetShape: [4, 4, 2, 1] }));
    m.add(tf.layers.timeDistributed({ layer: tf.layers.batchNormalization() })); // per-step batch statistics: kiln's wrapper does not do it
    const err = await importModel(toFiles(await saveArtifacts(m))).catch((e) => e);
    expect(err).toBeInstanceOf(KilnError);
    const lines = (err as KilnError).message.split("\n");
    expect(lines, lines.join("\n")).toHaveLength(3);
    expect(lines[0]).toMatch(/\(DepthwiseConv2D\): dilation_rate=\[2,2\] from TF\.js is not supported: tfjs-layers' DepthwiseConv2D ignores dilation_rate/);
    expect(lines[1]).toMatch(/\(AlphaDropout\): kiln cannot import the Keras class "AlphaDropout": kiln has no alpha dropout .* removing the layer keeps predictions/);
    expect(lines[2]).toMatch(/\(TimeDistributed\): kiln's time_distributed wraps Dense, Conv2D, .*UpSampling2D, .*; got "BatchNormalization"/);
  });

  test("LeakyReLU: Keras 3's negative_slope or the older alpha (Keras 3 still takes it), 0.3 when neither is set; the two disagreeing is refused", async () => {
    const leaky = (config: Record<string, unknown>) => JSON.stringify({
      modelTopology: {
        keras_version: "3.6.0", backend: "jax",
        model_config: { class_name: "Sequential", config: { name: "s", layers: [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3], dtype: "float32" } },
          { class_name: "LeakyReLU", config: { name: "l", ...config } },
        ] } },
      },
      weightsManifest: [],
    });
    for (const [config, slope] of [[{ negative_slope: 0.1 }, 0.1], [{ alpha: 0.25 }, 0.25], [{}, 0.3], [{ alpha: 0.1, negative_slope: 0.1 }, 0.1]] as const) {
      const { graph } = await importModel(leaky(config));
      expect((graph.layers as Record<string, unknown>[])[0], JSON.stringify(config)).toMatchObject({ op: "leaky_relu", negative_slope: slope });
    }
    const err = await importModel(leaky({ alpha: 0.1, negative_slope: 0.2 })).catch((e) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).message).toMatch(/layer "l" \(LeakyReLU\): alpha=0.1 and negative_slope=0.2 disagree/);
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
