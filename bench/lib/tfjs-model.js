/**
 * TensorFlow.js models for the bench: Keras-equivalent tf.Sequential models built from the same
 * graph JSON and given kiln's weights (same layouts). Imports tfjs-core and tfjs-layers only (the
 * two packages a tfjs app that builds a model needs), so the start-up children add just the one
 * backend they measure (startup/tfjs.js); lib/tfjs.js adds both backends for the workloads. Both
 * are @tensorflow/tfjs 4.22.0's own dependencies (the same copies the umbrella package loads).
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as core from "@tensorflow/tfjs-core";
import * as tfLayers from "@tensorflow/tfjs-layers";

/** The tfjs namespace as `@tensorflow/tfjs` exports it, without converter, data and webgl. */
export const tf = { ...core, ...tfLayers };
const require = createRequire(import.meta.url);

/** The wasm backend's settings (lib/tfjs.js and startup/tfjs.js; `setPaths`: the backend's setWasmPaths): SIMD on, threads off (as in Node), the package's own binaries. */
export function wasmSettings(setPaths) {
  core.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  core.env().set("WASM_HAS_SIMD_SUPPORT", true);
  setPaths(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm")) + "/");
}

/** Switches the global tfjs backend (models keep their variables on the backend they were built on). */
export async function use(backend) {
  if (core.getBackend() !== backend) await core.setBackend(backend);
}

const ACT = { linear: "linear", relu: "relu", softmax: "softmax", sigmoid: "sigmoid", tanh: "tanh" };

/** A tf.Sequential equivalent to a sequential kiln graph (conv2d, max_pooling2d, flatten, dense, embedding, lstm). */
export function buildSequential(graph) {
  const layers = [];
  const input = graph.inputs[0];
  for (const [i, l] of graph.layers.entries()) {
    const first = i === 0 ? { inputShape: input.shape } : {};
    const activation = ACT[l.activation ?? "linear"];
    if (l.op === "conv2d") layers.push(tf.layers.conv2d({ ...first, filters: l.filters, kernelSize: l.kernel_size, activation, padding: l.padding ?? "valid" }));
    else if (l.op === "max_pooling2d") layers.push(tf.layers.maxPooling2d({ ...first, poolSize: l.pool_size ?? 2 }));
    else if (l.op === "flatten") layers.push(tf.layers.flatten(first));
    else if (l.op === "dense") layers.push(tf.layers.dense({ ...first, units: l.units, activation, useBias: l.use_bias ?? true }));
    else if (l.op === "embedding") layers.push(tf.layers.embedding({ ...first, inputDim: l.input_dim, outputDim: l.output_dim, inputLength: input.shape[0] }));
    // Keras 3's LSTM: sigmoid (not tfjs's hard_sigmoid) recurrent activation, forget bias 1.
    else if (l.op === "lstm") layers.push(tf.layers.lstm({ ...first, units: l.units, recurrentActivation: "sigmoid", unitForgetBias: true, returnSequences: !!l.return_sequences, recurrentInitializer: "glorotUniform" }));
    else throw new Error(`buildSequential: op ${l.op} has no tfjs equivalent here`);
  }
  const model = tf.sequential({ layers });
  const t = graph.training;
  if (t) {
    const lr = t.optimizer.learning_rate;
    const optimizer = t.optimizer.type === "adam" ? tf.train.adam(lr ?? 0.001, 0.9, 0.999, 1e-7) : tf.train.sgd(lr ?? 0.01);
    const loss = { sparse_categorical_crossentropy: "sparseCategoricalCrossentropy", binary_crossentropy: "binaryCrossentropy" }[t.loss.type];
    model.compile({ optimizer, loss });
  }
  return model;
}

/** Gives a tfjs model kiln's weights: per layer, in tfjs's order (kernel, recurrent kernel, bias). */
export function copyWeights(model, graph, kilnWeights) {
  const order = { dense: ["kernel", "bias"], conv2d: ["kernel", "bias"], embedding: ["embeddings"], lstm: ["kernel", "recurrent_kernel", "bias"] };
  const withWeights = graph.layers.filter((l) => order[l.op]);
  const tfLayers = model.layers.filter((l) => l.getWeights().length > 0);
  withWeights.forEach((l, i) => {
    const names = order[l.op].filter((w) => kilnWeights[`${l.name}/${w}`]);
    const current = tfLayers[i].getWeights();
    tfLayers[i].setWeights(names.map((w, j) => tf.tensor(kilnWeights[`${l.name}/${w}`], current[j].shape)));
  });
}

