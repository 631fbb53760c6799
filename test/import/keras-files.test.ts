/**
 * Keras 3 `.keras` and Keras 2 `.h5` imports. The fixtures are written here following Keras's saving
 * code (see keras-fixtures.ts): they were NOT produced by Keras, as no Python runs here. Where TF.js
 * has the same layers, the fixture carries a TF.js model's weights and kiln's predictions are
 * compared with TF.js's (1e-4); for classes TF.js lacks (GRU reset_after, MultiHeadAttention,
 * PositionEmbedding, Subtract) with kiln's float64 reference interpreter (test/reference), fed the
 * weights the fixture put at each Keras variable path, so a weight landing in the wrong place fails.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { importModel, KilnError } from "../../compiler/index.js";
import { asFloat32, readSafetensors } from "../../runtime/safetensors.js";
import { runReference, type RefGraph } from "../reference/interpret.js";
import { relErr, rng } from "../compile/harness.js";
import { feedsFor, kilnModel, randomizeTf, tfPredict } from "./helpers.js";
import { k3layer, k3tensor, keras2H5, kerasWeightsH5, kerasZip, type H5Tensor, k2layer } from "./keras-fixtures.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const tensorOf = (t: tf.Tensor): H5Tensor => ({ shape: [...t.shape], data: new Float32Array(t.dataSync()) });
const init = (cls: string) => ({ module: "keras.initializers", class_name: cls, config: cls === "Zeros" || cls === "Ones" ? {} : { seed: null }, registered_name: null });
const noReg = (...keys: string[]) => Object.fromEntries(keys.flatMap((k) => [[`${k}_regularizer`, null], [`${k}_constraint`, null]]));

function randomTensor(shape: number[], next: () => number, scale = 0.5): H5Tensor {
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * scale) };
}

describe("Keras 3 .keras files (layout written from keras/src/saving/saving_lib.py)", () => {
  test("Sequential CNN with compile_config: predictions equal TF.js's with the same weights, training maps to kiln's", async () => {
    const tfm = tf.sequential();
    tfm.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: "same", activation: "relu" }));
    tfm.add(tf.layers.batchNormalization({}));
    tfm.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    tfm.add(tf.layers.flatten());
    tfm.add(tf.layers.dense({ units: 5, activation: "relu" }));
    tfm.add(tf.layers.dropout({ rate: 0.5 }));
    tfm.add(tf.layers.dense({ units: 3, activation: "softmax" }));
    randomizeTf(tfm, 31);
    const w = tfm.layers.map((l) => l.getWeights().map(tensorOf));
    const dense = (name: string, units: number, activation: string) => k3layer("Dense", {
      name, units, activation, use_bias: true, kernel_initializer: init("GlorotUniform"), bias_initializer: init("Zeros"), ...noReg("kernel", "bias"), activity_regularizer: null, lora_rank: null,
    });
    const config = {
      module: "keras", class_name: "Sequential", registered_name: null,
      config: {
        name: "sequential", trainable: true, build_input_shape: [null, 6, 6, 2],
        layers: [
          k3layer("InputLayer", { batch_shape: [null, 6, 6, 2], dtype: "float32", sparse: false, name: "input_layer" }),
          k3layer("Conv2D", {
            name: "conv2d", filters: 3, kernel_size: [3, 3], strides: [1, 1], padding: "same", data_format: "channels_last", dilation_rate: [1, 1], groups: 1,
            activation: "relu", use_bias: true, kernel_initializer: init("GlorotUniform"), bias_initializer: init("Zeros"), ...noReg("kernel", "bias"), activity_regularizer: null,
          }, { build_config: { input_shape: [null, 6, 6, 2] } }),
          k3layer("BatchNormalization", {
            name: "batch_normalization", axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true, synchronized: false,
            beta_initializer: init("Zeros"), gamma_initializer: init("Ones"), moving_mean_initializer: init("Zeros"), moving_variance_initializer: init("Ones"), ...noReg("beta", "gamma"),
          }),
          k3layer("MaxPooling2D", { name: "max_pooling2d", pool_size: [2, 2], padding: "valid", strides: [2, 2], data_format: "channels_last" }),
          k3layer("Flatten", { name: "flatten", data_format: "channels_last" }),
          dense("dense", 5, "relu"),
          k3layer("Dropout", { name: "dropout", rate: 0.5, seed: null, noise_shape: null }),
          dense("dense_1", 3, "softmax"),
        ],
      },
      compile_config: {
        optimizer: {
          module: "keras.optimizers", class_name: "Adam", registered_name: null,
          config: { name: "adam", learning_rate: 0.002, weight_decay: null, clipnorm: null, global_clipnorm: null, clipvalue: null, use_ema: false, ema_momentum: 0.99, ema_overwrite_frequency: null, loss_scale_factor: null, gradient_accumulation_steps: null, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
        },
        loss: "sparse_categorical_crossentropy", loss_weights: null, metrics: ["accuracy"], weighted_metrics: null, run_eagerly: false, steps_per_execution: 1, jit_compile: false,
      },
    };
    const vars = {
      "layers/conv2d/vars/0": w[0]![0]!, "layers/conv2d/vars/1": w[0]![1]!,
      "layers/batch_normalization/vars/0": w[1]![0]!, "layers/batch_normalization/vars/1": w[1]![1]!,
      "layers/batch_normalization/vars/2": w[1]![2]!, "layers/batch_normalization/vars/3": w[1]![3]!,
      "layers/dense/vars/0": w[4]![0]!, "layers/dense/vars/1": w[4]![1]!,
      "layers/dense_1/vars/0": w[6]![0]!, "layers/dense_1/vars/1": w[6]![1]!,
    };
    const file = kerasZip(config, await kerasWeightsH5(vars, ["layers/max_pooling2d", "layers/flatten", "layers/dropout"]));
    const imported = await importModel(file);
    expect(imported.notes).toEqual([]);
    expect(imported.graph.training).toEqual({
      loss: { type: "sparse_categorical_crossentropy", output: "dense_1", target: "dense_1_target" },
      optimizer: { type: "adam", learning_rate: 0.002, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
      metrics: ["accuracy"],
    });
    expect(imported.graph.targets).toEqual([{ name: "dense_1_target", shape: [], dtype: "int32" }]);
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 32);
    expect(relErr(kiln.predict(feeds).dense_1!, tfPredict(tfm, feeds, ["input_layer"], 3)[0]!)).toBeLessThan(1e-4);
  });

  test("DepthwiseConv2D (kernel named kernel), PReLU, SeparableConv2D, Conv2DTranspose, TimeDistributed (its Dense under layer/), LeakyReLU (negative_slope) as Keras 3 writes them predict as TF.js", async () => {
    const tfm = tf.sequential();
    tfm.add(tf.layers.depthwiseConv2d({ inputShape: [6, 6, 2], kernelSize: 3, depthMultiplier: 2, padding: "same", activation: "relu6" }));
    tfm.add(tf.layers.prelu({ sharedAxes: [1, 2] }));
    tfm.add(tf.layers.separableConv2d({ filters: 3, kernelSize: 2 }));
    tfm.add(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3 }));
    tfm.add(tf.layers.reshape({ targetShape: [49, 2] }));
    tfm.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3 }) }));
    tfm.add(tf.layers.leakyReLU({ alpha: 0.1 }));
    tfm.add(tf.layers.flatten());
    tfm.add(tf.layers.dense({ units: 2 }));
    randomizeTf(tfm, 35);
    const w = tfm.layers.map((l) => l.getWeights().map(tensorOf));
    const dense = (name: string, units: number) => ({
      name, units, activation: "linear", use_bias: true, kernel_initializer: init("GlorotUniform"), bias_initializer: init("Zeros"), ...noReg("kernel", "bias"), activity_regularizer: null, lora_rank: null,
    });
    const window = { strides: [1, 1], data_format: "channels_last", dilation_rate: [1, 1], use_bias: true, bias_initializer: init("Zeros"), bias_regularizer: null, bias_constraint: null, activity_regularizer: null };
    const config = {
      module: "keras", class_name: "Sequential", registered_name: null,
      config: {
        name: "mobile", layers: [
          k3layer("InputLayer", { batch_shape: [null, 6, 6, 2], dtype: "float32", sparse: false, name: "input_layer" }),
          k3layer("DepthwiseConv2D", { name: "depthwise_conv2d", ...window, depth_multiplier: 2, kernel_size: [3, 3], padding: "same", activation: "relu6", depthwise_initializer: init("GlorotUniform"), ...noReg("depthwise") }),
          k3layer("PReLU", { name: "p_re_lu", alpha_initializer: init("Zeros"), ...noReg("alpha"), shared_axes: [1, 2] }),
          k3layer("SeparableConv2D", {
            name: "separable_conv2d", ...window, filters: 3, kernel_size: [2, 2], padding: "valid", depth_multiplier: 1, activation: "linear",
            depthwise_initializer: init("GlorotUniform"), pointwise_initializer: init("GlorotUniform"), ...noReg("depthwise", "pointwise"),
          }),
          k3layer("Conv2DTranspose", { name: "conv2d_transpose", ...window, filters: 2, kernel_size: [3, 3], padding: "valid", output_padding: null, activation: "linear", kernel_initializer: init("GlorotUniform"), ...noReg("kernel") }),
          k3layer("Reshape", { name: "reshape", target_shape: [49, 2] }),
          k3layer("TimeDistributed", { name: "time_distributed", layer: k3layer("Dense", dense("dense", 3)) }),
          k3layer("LeakyReLU", { name: "leaky_re_lu", negative_slope: 0.1 }),
          k3layer("Flatten", { name: "flatten", data_format: "channels_last" }),
          k3layer("Dense", dense("dense_1", 2)),
        ],
      },
    };
    const vars = {
      "layers/depthwise_conv2d/vars/0": w[0]![0]!, "layers/depthwise_conv2d/vars/1": w[0]![1]!,
      "layers/p_re_lu/vars/0": w[1]![0]!,
      "layers/separable_conv2d/vars/0": w[2]![0]!, "layers/separable_conv2d/vars/1": w[2]![1]!, "layers/separable_conv2d/vars/2": w[2]![2]!,
      "layers/conv2d_transpose/vars/0": w[3]![0]!, "layers/conv2d_transpose/vars/1": w[3]![1]!,
      "layers/time_distributed/layer/vars/0": w[5]![0]!, "layers/time_distributed/layer/vars/1": w[5]![1]!,
      "layers/dense/vars/0": w[8]![0]!, "layers/dense/vars/1": w[8]![1]!,
    };
    const file = kerasZip(config, await kerasWeightsH5(vars, ["layers/reshape", "layers/leaky_re_lu", "layers/flatten"]));
    const imported = await importModel(file);
    expect(imported.notes).toEqual([]);
    expect((imported.graph.layers as { op: string }[]).map((l) => l.op)).toEqual([
      "depthwise_conv2d", "prelu", "separable_conv2d", "conv2d_transpose", "reshape", "time_distributed", "leaky_relu", "flatten", "dense",
    ]);
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 36);
    expect(relErr(kiln.predict(feeds).dense_1!, tfPredict(tfm, feeds, ["input_layer"], 3)[0]!)).toBeLessThan(1e-4);
  });

  test("recurrent layers keep their variables under cell/: LSTM and SimpleRNN predict as TF.js", async () => {
    const tfm = tf.sequential();
    tfm.add(tf.layers.lstm({ inputShape: [5, 3], units: 4, returnSequences: true, recurrentActivation: "sigmoid" }));
    tfm.add(tf.layers.simpleRNN({ units: 3 }));
    tfm.add(tf.layers.dense({ units: 2 }));
    randomizeTf(tfm, 33);
    const w = tfm.layers.map((l) => l.getWeights().map(tensorOf));
    const rnn = (cls: string, name: string, units: number, extra: Record<string, unknown>) => k3layer(cls, {
      name, units, activation: "tanh", use_bias: true, kernel_initializer: init("GlorotUniform"), recurrent_initializer: init("Orthogonal"), bias_initializer: init("Zeros"),
      ...noReg("kernel", "recurrent", "bias"), activity_regularizer: null, dropout: 0, recurrent_dropout: 0, seed: null,
      return_sequences: false, return_state: false, go_backwards: false, stateful: false, unroll: false, zero_output_for_mask: false, ...extra,
    });
    const config = {
      module: "keras", class_name: "Sequential", registered_name: null,
      config: {
        name: "rnn", layers: [
          k3layer("InputLayer", { batch_shape: [null, 5, 3], dtype: "float32", sparse: false, name: "input_layer" }),
          rnn("LSTM", "lstm", 4, { recurrent_activation: "sigmoid", unit_forget_bias: true, return_sequences: true, use_cudnn: "auto" }),
          rnn("SimpleRNN", "simple_rnn", 3, {}),
          k3layer("Dense", { name: "dense", units: 2, activation: "linear", use_bias: true }),
        ],
      },
    };
    const vars: Record<string, H5Tensor> = {};
    ["layers/lstm/cell", "layers/simple_rnn/cell", "layers/dense"].forEach((p, i) => w[i]!.forEach((t, j) => (vars[`${p}/vars/${j}`] = t)));
    const imported = await importModel(kerasZip(config, await kerasWeightsH5(vars)));
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 34);
    expect(relErr(kiln.predict(feeds).dense!, tfPredict(tfm, feeds, ["input_layer"], 3)[0]!)).toBeLessThan(1e-4);
  });

  test("functional model with classes TF.js lacks (PositionEmbedding, MultiHeadAttention with use_causal_mask, Subtract, GRU reset_after) against kiln's reference interpreter", async () => {
    const next = rng(35);
    const T = 6, D = 8, H = 2, K = 4, U = 5;
    const vars: Record<string, H5Tensor> = {
      "layers/embedding/vars/0": randomTensor([20, D], next),
      "layers/position_embedding/vars/0": randomTensor([T, D], next),
      "layers/multi_head_attention/_query_dense/vars/0": randomTensor([D, H, K], next),
      "layers/multi_head_attention/_query_dense/vars/1": randomTensor([H, K], next),
      "layers/multi_head_attention/_key_dense/vars/0": randomTensor([D, H, K], next),
      "layers/multi_head_attention/_key_dense/vars/1": randomTensor([H, K], next),
      "layers/multi_head_attention/_value_dense/vars/0": randomTensor([D, H, K], next),
      "layers/multi_head_attention/_value_dense/vars/1": randomTensor([H, K], next),
      "layers/multi_head_attention/_output_dense/vars/0": randomTensor([H, K, D], next),
      "layers/multi_head_attention/_output_dense/vars/1": randomTensor([D], next),
      "layers/layer_normalization/vars/0": randomTensor([D], next),
      "layers/layer_normalization/vars/1": randomTensor([D], next),
      "layers/gru/cell/vars/0": randomTensor([D, 3 * U], next),
      "layers/gru/cell/vars/1": randomTensor([U, 3 * U], next),
      "layers/gru/cell/vars/2": randomTensor([2, 3 * U], next),
      "layers/dense/vars/0": randomTensor([U, 3], next),
      "layers/dense/vars/1": randomTensor([3], next),
    };
    const node = (args: unknown[], kwargs: Record<string, unknown> = {}) => [{ args, kwargs }];
    const at = (cls: string, config: Record<string, unknown>, inbound: unknown, extra: Record<string, unknown> = {}) => ({ ...k3layer(cls, config, extra), name: config.name, inbound_nodes: inbound });
    const seq = [null, T, D];
    const config = {
      module: "keras.src.models.functional", class_name: "Functional", registered_name: "Functional",
      config: {
        name: "tiny_transformer", trainable: true,
        layers: [
          at("InputLayer", { batch_shape: [null, T], dtype: "int32", sparse: false, name: "tokens" }, []),
          at("Embedding", { name: "embedding", input_dim: 20, output_dim: D, embeddings_initializer: init("RandomUniform"), embeddings_regularizer: null, activity_regularizer: null, embeddings_constraint: null, mask_zero: false, lora_rank: null }, node([k3tensor("tokens", [null, T])])),
          at("PositionEmbedding", { name: "position_embedding", sequence_length: T, initializer: init("GlorotUniform") }, node([k3tensor("embedding", seq)]), { module: "keras_hub.layers", registered_name: "keras_hub>PositionEmbedding" }),
          at("Add", { name: "add" }, node([[k3tensor("embedding", seq), k3tensor("position_embedding", seq)]])),
          at("MultiHeadAttention", {
            name: "multi_head_attention", num_heads: H, key_dim: K, value_dim: K, dropout: 0, use_bias: true, output_shape: null, attention_axes: null,
            kernel_initializer: init("GlorotUniform"), bias_initializer: init("Zeros"), ...noReg("kernel", "bias"), activity_regularizer: null, seed: null,
          }, node([k3tensor("add", seq), k3tensor("add", seq)], { use_causal_mask: true })),
          at("Subtract", { name: "subtract" }, node([[k3tensor("multi_head_attention", seq), k3tensor("add", seq)]])),
          at("LayerNormalization", { name: "layer_normalization", axis: [-1], epsilon: 1e-6, center: true, scale: true, rms_scaling: false, beta_initializer: init("Zeros"), gamma_initializer: init("Ones"), ...noReg("beta", "gamma") }, node([k3tensor("subtract", seq)])),
          at("GRU", {
            name: "gru", units: U, activation: "tanh", recurrent_activation: "sigmoid", use_bias: true, reset_after: true, return_sequences: false, return_state: false,
            go_backwards: false, stateful: false, unroll: false, dropout: 0, recurrent_dropout: 0, seed: null, use_cudnn: "auto",
          }, node([k3tensor("layer_normalization", seq)])),
          at("Dense", { name: "dense", units: 3, activation: "softmax", use_bias: true }, node([k3tensor("gru", [null, U])])),
        ],
        input_layers: ["tokens", 0, 0],
        output_layers: ["dense", 0, 0],
      },
    };
    const imported = await importModel(kerasZip(config, await kerasWeightsH5(vars, ["layers/tokens", "layers/add", "layers/subtract"])));
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers.map((l) => l.op)).toEqual(["embedding", "position_embedding", "add", "multi_head_attention", "subtract", "layer_normalization", "gru", "dense"]);
    expect(layers[3]).toMatchObject({ name: "multi_head_attention", inputs: ["add"], num_heads: H, key_dim: K, value_dim: K, causal: true });
    const st = readSafetensors(imported.weights);
    const weights: Record<string, Float32Array> = {};
    for (const [name, t] of st.tensors) weights[name] = asFloat32(t, name);
    // The weights the fixture put at each Keras path, under the kiln name they must become.
    const expected: Record<string, string> = {
      "embedding/embeddings": "layers/embedding/vars/0", "position_embedding/embeddings": "layers/position_embedding/vars/0",
      "multi_head_attention/query/kernel": "layers/multi_head_attention/_query_dense/vars/0", "multi_head_attention/key/bias": "layers/multi_head_attention/_key_dense/vars/1",
      "multi_head_attention/attention_output/kernel": "layers/multi_head_attention/_output_dense/vars/0", "gru/bias": "layers/gru/cell/vars/2", "dense/kernel": "layers/dense/vars/0",
    };
    for (const [kiln, keras] of Object.entries(expected)) expect(Array.from(weights[kiln]!), kiln).toEqual(Array.from(vars[keras]!.data));
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 36, 20);
    const ref = runReference(imported.graph as unknown as RefGraph, weights, feeds, 3, { training: false });
    expect(relErr(kiln.predict(feeds).dense!, ref.outputs.dense!.data)).toBeLessThan(1e-4);
  });

  test("Sequential of 1-D shape layers (ZeroPadding1D, UpSampling1D, Cropping1D, causal Conv1D, bilinear UpSampling2D, Permute) against kiln's reference interpreter", async () => {
    const next = rng(38);
    const vars: Record<string, H5Tensor> = {
      "layers/conv1d/vars/0": randomTensor([3, 3, 2], next), "layers/conv1d/vars/1": randomTensor([2], next),
      "layers/dense/vars/0": randomTensor([120, 2], next), "layers/dense/vars/1": randomTensor([2], next),
    };
    const config = {
      module: "keras", class_name: "Sequential", registered_name: null,
      config: {
        name: "shapes", layers: [
          k3layer("InputLayer", { batch_shape: [null, 6, 3], dtype: "float32", sparse: false, name: "input_layer" }),
          k3layer("ZeroPadding1D", { name: "zero_padding1d", padding: [1, 2] }),
          k3layer("UpSampling1D", { name: "up_sampling1d", size: 2 }),
          k3layer("Cropping1D", { name: "cropping1d", cropping: [2, 1] }),
          k3layer("Conv1D", { name: "conv1d", filters: 2, kernel_size: [3], strides: [1], padding: "causal", data_format: "channels_last", dilation_rate: [1], groups: 1, activation: "tanh", use_bias: true }),
          k3layer("Reshape", { name: "reshape", target_shape: [15, 2, 1] }),
          k3layer("UpSampling2D", { name: "up_sampling2d", size: [2, 2], data_format: "channels_last", interpolation: "bilinear" }),
          k3layer("Permute", { name: "permute", dims: [2, 1, 3] }),
          k3layer("Flatten", { name: "flatten", data_format: "channels_last" }),
          k3layer("Dense", { name: "dense", units: 2, activation: "linear", use_bias: true }),
        ],
      },
    };
    const imported = await importModel(kerasZip(config, await kerasWeightsH5(vars)));
    expect((imported.graph.layers as { op: string }[]).map((l) => l.op)).toEqual(["zero_padding1d", "upsampling1d", "cropping1d", "conv1d", "reshape", "upsampling2d", "permute", "flatten", "dense"]);
    const st = readSafetensors(imported.weights);
    const weights: Record<string, Float32Array> = {};
    for (const [name, t] of st.tensors) weights[name] = asFloat32(t, name);
    expect(Array.from(weights["conv1d/kernel"]!)).toEqual(Array.from(vars["layers/conv1d/vars/0"]!.data));
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 39);
    const ref = runReference(imported.graph as unknown as RefGraph, weights, feeds, 3, { training: false });
    expect(relErr(kiln.predict(feeds).dense!, ref.outputs.dense!.data)).toBeLessThan(1e-4);
  });

  test("broken .keras files are KilnErrors: truncated zip, missing weights, garbage HDF5", async () => {
    const config = { class_name: "Sequential", config: { name: "s", layers: [k3layer("InputLayer", { batch_shape: [null, 2], name: "x" }), k3layer("Dense", { name: "dense", units: 1 })] } };
    const good = kerasZip(config, await kerasWeightsH5({ "layers/dense/vars/0": { shape: [2, 1], data: new Float32Array(2) }, "layers/dense/vars/1": { shape: [1], data: new Float32Array(1) } }));
    expect((await importModel(good)).graph.layers).toHaveLength(1);
    const cases: [Uint8Array, RegExp][] = [
      [good.slice(0, good.length >> 1), /model\.keras: not a readable \.keras zip/],
      [kerasZip(config, new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4])), /model\.keras\/model\.weights\.h5: cannot read the HDF5 file/],
      [kerasZip(config, await kerasWeightsH5({ "layers/dense/vars/0": { shape: [2, 1], data: new Float32Array(2) } })), /layer "dense" \(Dense\): weight "bias" .*the file has no dataset "layers\/dense\/vars\/1"/],
      [kerasZip({ class_name: "Sequential", config: { name: "s", layers: [k3layer("InputLayer", { batch_shape: [null, 2], name: "x" }), k3layer("Lambda", { name: "f", function: "..." })] } }, await kerasWeightsH5({})), /layer "f" \(Lambda\): kiln cannot import the Keras class "Lambda"/],
      [kerasZip({ class_name: "Sequential", config: { name: "s", layers: [k3layer("InputLayer", { batch_shape: [null, 2, 3], name: "x" }), k3layer("TimeDistributed", { name: "td", layer: { class_name: "LSTM", config: {} } })] } }, await kerasWeightsH5({})), /layer "td" \(TimeDistributed\): .*kiln's time_distributed wraps Dense, .*; got "LSTM"/],
    ];
    for (const [bytes, message] of cases) {
      const err = await importModel(bytes).then(() => undefined, (e) => e);
      expect(err).toBeInstanceOf(KilnError);
      expect((err as KilnError).message).toMatch(message);
    }
    // Byte flips anywhere: a KilnError or an import, never another exception.
    const next = rng(37);
    for (let i = 0; i < 60; i++) {
      const b = good.slice();
      for (let k = 0; k < 3; k++) b[4 + Math.floor(next() * (b.length - 4))] = Math.floor(next() * 256);
      await importModel(b).catch((e) => {
        if (!(e instanceof KilnError)) throw e;
      });
    }
  });
});

describe("Keras 2 .h5 full models (layout written from keras/src/legacy/saving/legacy_h5_format.py)", () => {
  test("functional model: weights found by weight_names, training_config mapped, predictions equal TF.js's", async () => {
    const a = tf.input({ shape: [4], name: "a" });
    const b = tf.input({ shape: [3], name: "b" });
    const da = tf.layers.dense({ units: 5, activation: "relu", name: "dense" }).apply(a) as tf.SymbolicTensor;
    const db = tf.layers.dense({ units: 5, activation: "tanh", name: "dense_1" }).apply(b) as tf.SymbolicTensor;
    const m = tf.layers.multiply({ name: "multiply" }).apply([da, db]) as tf.SymbolicTensor;
    const c = tf.layers.concatenate({ name: "concatenate" }).apply([da, m]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, name: "out" }).apply(c) as tf.SymbolicTensor;
    const tfm = tf.model({ inputs: [a, b], outputs: out });
    randomizeTf(tfm, 41);
    const wOf = (name: string) => tfm.getLayer(name).getWeights().map(tensorOf);
    const denseCfg = (units: number, activation: string) => ({ units, activation, use_bias: true, kernel_initializer: { class_name: "GlorotUniform", config: { seed: null } }, bias_initializer: { class_name: "Zeros", config: {} }, ...noReg("kernel", "bias"), activity_regularizer: null });
    const modelConfig = {
      class_name: "Functional",
      config: {
        name: "model", layers: [
          k2layer("InputLayer", "a", { batch_input_shape: [null, 4], sparse: false, ragged: false }, []),
          k2layer("InputLayer", "b", { batch_input_shape: [null, 3], sparse: false, ragged: false }, []),
          k2layer("Dense", "dense", denseCfg(5, "relu"), ["a"]),
          k2layer("Dense", "dense_1", denseCfg(5, "tanh"), ["b"]),
          k2layer("Multiply", "multiply", {}, ["dense", "dense_1"]),
          k2layer("Concatenate", "concatenate", { axis: -1 }, ["dense", "multiply"]),
          k2layer("Dense", "out", denseCfg(2, "linear"), ["concatenate"]),
        ],
        input_layers: [["a", 0, 0], ["b", 0, 0]], output_layers: [["out", 0, 0]],
      },
    };
    const trainingConfig = { loss: "mse", metrics: [["mae"]], weighted_metrics: null, loss_weights: null, optimizer_config: { class_name: "SGD", config: { name: "SGD", learning_rate: 0.05, decay: 0, momentum: 0.9, nesterov: true } } };
    const layerWeights = (name: string) => Object.fromEntries(wOf(name).map((t, i) => [`${name}/${["kernel", "bias"][i]}:0`, t]));
    const file = await keras2H5(modelConfig, trainingConfig, [
      { name: "a", weights: {} }, { name: "b", weights: {} }, { name: "dense", weights: layerWeights("dense") }, { name: "dense_1", weights: layerWeights("dense_1") },
      { name: "multiply", weights: {} }, { name: "concatenate", weights: {} }, { name: "out", weights: layerWeights("out") },
    ]);
    const imported = await importModel(file);
    expect(imported.graph.training).toEqual({
      loss: { type: "mean_squared_error", output: "out", target: "out_target" },
      optimizer: { type: "sgd", learning_rate: 0.05, momentum: 0.9, nesterov: true },
      metrics: ["mean_absolute_error"],
    });
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 42);
    expect(relErr(kiln.predict(feeds).out!, tfPredict(tfm, feeds, ["a", "b"], 3)[0]!)).toBeLessThan(1e-4);
  });

  test("DepthwiseConv2D (depthwise_kernel:0) and TimeDistributed(Dense) (weights directly under the wrapper), as Keras 2 names them: predictions equal TF.js's", async () => {
    const x = tf.input({ shape: [5, 5, 2], name: "x" });
    const dw = tf.layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, activation: "relu6", name: "depthwise_conv2d" }).apply(x) as tf.SymbolicTensor;
    const seq = tf.layers.reshape({ targetShape: [16, 4], name: "reshape" }).apply(dw) as tf.SymbolicTensor;
    const td = tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, name: "dense" }), name: "time_distributed" }).apply(seq) as tf.SymbolicTensor;
    const tfm = tf.model({ inputs: x, outputs: td });
    randomizeTf(tfm, 43);
    const wOf = (name: string) => tfm.getLayer(name).getWeights().map(tensorOf);
    const modelConfig = {
      class_name: "Functional",
      config: {
        name: "model", layers: [
          k2layer("InputLayer", "x", { batch_input_shape: [null, 5, 5, 2], sparse: false, ragged: false }, []),
          k2layer("DepthwiseConv2D", "depthwise_conv2d", {
            kernel_size: [2, 2], strides: [1, 1], padding: "valid", data_format: "channels_last", dilation_rate: [1, 1], groups: 1, activation: "relu6", use_bias: true,
            bias_initializer: { class_name: "Zeros", config: {} }, bias_regularizer: null, activity_regularizer: null, bias_constraint: null,
            depth_multiplier: 2, depthwise_initializer: { class_name: "GlorotUniform", config: { seed: null } }, depthwise_regularizer: null, depthwise_constraint: null,
          }, ["x"]),
          k2layer("Reshape", "reshape", { target_shape: [16, 4] }, ["depthwise_conv2d"]),
          k2layer("TimeDistributed", "time_distributed", { layer: { class_name: "Dense", config: { name: "dense", trainable: true, dtype: "float32", units: 3, activation: "linear", use_bias: true, ...noReg("kernel", "bias"), activity_regularizer: null } } }, ["reshape"]),
        ],
        input_layers: [["x", 0, 0]], output_layers: [["time_distributed", 0, 0]],
      },
    };
    const [dk, db] = wOf("depthwise_conv2d"), [tk, tb] = wOf("time_distributed");
    const file = await keras2H5(modelConfig, null, [
      { name: "x", weights: {} },
      { name: "depthwise_conv2d", weights: { "depthwise_conv2d/depthwise_kernel:0": dk!, "depthwise_conv2d/bias:0": db! } },
      { name: "reshape", weights: {} },
      { name: "time_distributed", weights: { "time_distributed/kernel:0": tk!, "time_distributed/bias:0": tb! } },
    ]);
    const imported = await importModel(file);
    expect((imported.graph.layers as { op: string }[]).map((l) => l.op)).toEqual(["depthwise_conv2d", "reshape", "time_distributed"]);
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 3, 44);
    expect(relErr(kiln.predict(feeds).time_distributed!, tfPredict(tfm, feeds, ["x"], 3)[0]!)).toBeLessThan(1e-4);
  });

  test("a weights-only .h5 is refused with what kiln needs", async () => {
    const { writeH5 } = await import("./keras-fixtures.js");
    const bytes = await writeH5((f) => f.create_group("dense"));
    await expect(importModel(bytes)).rejects.toThrow(/model\.h5: a weights-only \.h5 \(no model_config attribute\): kiln needs the full model/);
  });
});
