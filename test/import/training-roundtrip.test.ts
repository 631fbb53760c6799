/**
 * Training round trips (issue 18 item 3): a TF.js layers model, saved with tfjs-layers' own
 * model.save and imported, trains in kiln as it trains in TF.js on its cpu backend. Three steps on
 * the same batch: kiln's trainStep losses equal TF.js's trainOnBatch losses (1e-4 relative) and the
 * weights after them equal TF.js's (1e-3 relative, per weight; TF.js's trained weights are brought
 * to kiln's names by importing the trained model again). Dropout is set to rate 0 on both sides
 * (the two engines draw different masks); BatchNormalization trains on batch statistics and updates
 * its moving statistics in both. Then models compiled in TF.js and saved with their optimizer
 * (includeOptimizer): the imported training section (Adam, momentum SGD, RMSProp and their
 * hyper-parameters, the loss) trains as TF.js's compiled model does.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, importModel } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { readSafetensors, asFloat32 } from "../../runtime/safetensors.js";
import { relErr, rng } from "../compile/harness.js";
import { cnn, recurrentWrappers, sequence, spatial } from "./models.js";
import { feedsFor, randomizeTf, saveArtifacts, toFiles } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const BATCH = 4;
const STEPS = 3;

/** Dropout off in both engines: their random masks cannot agree. */
function noDropout(model: tf.LayersModel, graph: Record<string, any>): void {
  for (const l of model.layers) if (l.getClassName() === "Dropout") (l as unknown as { rate: number }).rate = 0;
  for (const l of graph.layers) if (l.op === "dropout") l.rate = 0;
}

/** The TF.js model's current weights in kiln's names (by importing it again). */
async function tfWeightsInKilnNames(model: tf.LayersModel): Promise<Record<string, Float32Array>> {
  const r = await importModel(toFiles(await saveArtifacts(model)));
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of readSafetensors(r.weights).tensors) out[name] = asFloat32(t, name);
  return out;
}

/** Random targets for the output: one-hot rows for a categorical loss, else values in [-1, 1). */
function targetsFor(shape: number[], seed: number, oneHot: boolean): Float32Array {
  const next = rng(seed);
  const n = BATCH * shape.reduce((a, b) => a * b, 1), k = shape[shape.length - 1]!;
  if (!oneHot) return Float32Array.from({ length: n }, () => next() * 2 - 1);
  const y = new Float32Array(n);
  for (let r = 0; r < n / k; r++) y[r * k + Math.floor(next() * k)] = 1;
  return y;
}

/**
 * Imports `model` (its training section from the file when it was compiled, else `training`
 * added), trains STEPS steps in kiln and in TF.js on one batch, and returns both sides' losses and
 * the largest per-weight relative error after the steps.
 */
async function trainBoth(model: tf.LayersModel, seed: number, opts: { training?: { loss: string; optimizer: Record<string, unknown> }; tfCompile?: () => void }) {
  const r = await importModel(toFiles(await saveArtifacts(model, opts.tfCompile !== undefined)));
  const graph = JSON.parse(JSON.stringify(r.graph));
  noDropout(model, graph);
  const output = graph.outputs[0] as string;
  if (opts.training) {
    const shape = model.outputs[0]!.shape.slice(1) as number[];
    graph.targets = [{ name: `${output}_target`, shape }];
    graph.training = { loss: { type: opts.training.loss, output, target: `${output}_target` }, optimizer: opts.training.optimizer };
  }
  expect(graph.training, `training section of ${model.name}`).toBeDefined();
  const target = graph.targets[0];
  const feeds = feedsFor(graph, BATCH, seed, 11);
  const y = targetsFor(target.shape, seed + 1, graph.training.loss.type === "categorical_crossentropy");
  const kiln = await loadModel((await compile(JSON.stringify(graph), { maxBatch: BATCH, weights: r.weights })).wasm);
  const kilnLosses = Array.from({ length: STEPS }, () => kiln.trainStep({ ...feeds, [target.name]: y }).loss);

  if (!opts.tfCompile) {
    const lossName = graph.training.loss.type === "mean_squared_error" ? "meanSquaredError" : "categoricalCrossentropy";
    model.compile({ optimizer: tf.train.sgd(graph.training.optimizer.learning_rate), loss: lossName });
  }
  const xs = model.inputs.map((inp, k) => tf.tensor(Array.from(feeds[graph.inputs[k].name]!), [BATCH, ...(inp.shape.slice(1) as number[])]));
  const ys = tf.tensor(Array.from(y), [BATCH, ...target.shape]);
  const tfLosses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const l = await model.trainOnBatch(xs.length === 1 ? xs[0]! : xs, ys);
    tfLosses.push(Array.isArray(l) ? l[0]! : l);
  }
  const theirs = await tfWeightsInKilnNames(model);
  const ours = kiln.getWeights();
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
  const weightErrs = Object.fromEntries(Object.keys(ours).map((n) => [n, relErr(ours[n]!, theirs[n]!)]));
  return { graph, kilnLosses, tfLosses, weightErrs, r };
}

function expectSame({ kilnLosses, tfLosses, weightErrs }: Awaited<ReturnType<typeof trainBoth>>): void {
  for (let s = 0; s < STEPS; s++) expect(Math.abs(kilnLosses[s]! - tfLosses[s]!) / Math.abs(tfLosses[s]!), `loss at step ${s}: kiln ${kilnLosses[s]}, TF.js ${tfLosses[s]}`).toBeLessThan(1e-4);
  // The steps must move the loss, or equal weights would prove nothing.
  expect(Math.abs(kilnLosses[STEPS - 1]! - kilnLosses[0]!)).toBeGreaterThan(1e-4 * Math.abs(kilnLosses[0]!));
  for (const [name, e] of Object.entries(weightErrs)) expect(e, `weight ${name}`).toBeLessThan(1e-3);
}

// TF.js cannot take gradients of dilated convolutions ("dilation rates greater than 1 are not yet
// supported in gradients"): models.ts's CNN and shape-layer model are built with dilationRate 1 here.

describe("imported TF.js models train in kiln as in TF.js (three SGD steps, one batch)", () => {
  const sgd = { loss: "mean_squared_error", optimizer: { type: "sgd", learning_rate: 0.05 } };
  const cases: [string, () => tf.LayersModel, typeof sgd][] = [
    ["Sequential CNN (Conv2D, BatchNormalization, pools, activation layers, Reshape, Dense, Softmax), categorical crossentropy", () => cnn({ dilationRate: 1 }), { loss: "categorical_crossentropy", optimizer: { type: "sgd", learning_rate: 0.1 } }],
    ["sequence model (Embedding, SimpleRNN, LSTM, Dense)", sequence, sgd],
    ["1-D and 2-D shape layers (Conv1D, pools, Permute, ZeroPadding2D, UpSampling2D, Cropping2D, RepeatVector)", () => spatial({ dilationRate: 1 }), sgd],
    ["recurrent wrappers (Bidirectional LSTM and SimpleRNN, backwards GRU)", recurrentWrappers, sgd],
  ];
  for (const [label, build, training] of cases) {
    test(label, async () => {
      const model = build();
      randomizeTf(model, 21, 0.4);
      expectSame(await trainBoth(model, 22, { training }));
    });
  }
});

describe("models compiled in TF.js, imported with their optimizer, train as TF.js trains them", () => {
  const dense = () => {
    const m = tf.sequential({ name: "mlp" });
    m.add(tf.layers.dense({ inputShape: [5], units: 6, activation: "tanh" }));
    m.add(tf.layers.batchNormalization({}));
    m.add(tf.layers.dense({ units: 3, activation: "softmax" }));
    return m;
  };
  const optimizers: [string, () => tf.Optimizer, Record<string, unknown>][] = [
    ["Adam", () => tf.train.adam(0.02, 0.8, 0.99), { type: "adam", learning_rate: 0.02, beta_1: 0.8, beta_2: 0.99 }],
    ["momentum SGD (Nesterov)", () => tf.train.momentum(0.05, 0.9, true), { type: "sgd", learning_rate: 0.05, momentum: 0.9, nesterov: true }],
    ["RMSProp with momentum", () => tf.train.rmsprop(0.01, 0.8, 0.5), { type: "rmsprop", learning_rate: 0.01, rho: 0.8, momentum: 0.5 }],
    ["plain SGD", () => tf.train.sgd(0.3), { type: "sgd", learning_rate: 0.3 }],
  ];
  for (const [label, optimizer, expected] of optimizers) {
    test(`${label}, categorical crossentropy: the imported training section, three steps`, async () => {
      const model = dense();
      randomizeTf(model, 31, 0.5);
      const tfCompile = () => model.compile({ optimizer: optimizer(), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
      tfCompile();
      const run = await trainBoth(model, 32, { tfCompile });
      expect(run.graph.training.optimizer).toMatchObject(expected);
      expect(run.graph.training.loss.type).toBe("categorical_crossentropy");
      expectSame(run);
    });
  }
});
