/**
 * Learning-rate schedules in imported training configurations: each of Keras's five schedule
 * classes, as Keras 3 serializes it (`compile_config` in a .keras file: {module, class_name, config,
 * registered_name}) and as Keras 2 does (`training_config` of a model.json the TF.js converter wrote:
 * {class_name, config}), becomes kiln's schedule with Keras's arguments, and the compiled module's
 * SGD update at each step is −lr(step)·g with lr from Keras's formula (test/kernels/schedule-ref.ts,
 * g measured by a twin module with lr = 1 at the same weights). Keras 2's legacy `decay` becomes an
 * inverse-time decay; schedules kiln lacks are named.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, importModel, type ImportResult } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { kerasLearningRate, type ScheduleArgs } from "../kernels/schedule-ref.js";
import { rng } from "../compile/harness.js";
import { randomizeTf, saveArtifacts, toFiles } from "./helpers.js";
import { k3layer, kerasWeightsH5, kerasZip } from "./keras-fixtures.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Keras class, its serialized config (Keras's own keys, `name` included), the kiln schedule expected. */
const SCHEDULES: [string, Record<string, unknown>, ScheduleArgs][] = [
  ["ExponentialDecay", { initial_learning_rate: 0.1, decay_steps: 3, decay_rate: 0.5, staircase: false, name: "ExponentialDecay" },
    { schedule: "exponential_decay", initial_learning_rate: 0.1, decay_steps: 3, decay_rate: 0.5, staircase: false }],
  ["ExponentialDecay", { initial_learning_rate: 0.2, decay_steps: 2, decay_rate: 0.3, staircase: true, name: "ExponentialDecay" },
    { schedule: "exponential_decay", initial_learning_rate: 0.2, decay_steps: 2, decay_rate: 0.3, staircase: true }],
  ["CosineDecay", { initial_learning_rate: 0.0, decay_steps: 4, alpha: 0.1, name: "CosineDecay", warmup_target: 0.2, warmup_steps: 2 },
    { schedule: "cosine_decay", initial_learning_rate: 0.0, decay_steps: 4, alpha: 0.1, warmup_target: 0.2, warmup_steps: 2 }],
  ["CosineDecay", { initial_learning_rate: 0.1, decay_steps: 5, alpha: 0.0, name: "CosineDecay", warmup_target: null, warmup_steps: 0 },
    { schedule: "cosine_decay", initial_learning_rate: 0.1, decay_steps: 5, alpha: 0.0, warmup_steps: 0 }],
  ["PiecewiseConstantDecay", { boundaries: [1, 3], values: [0.1, 0.05, 0.01], name: "PiecewiseConstant" },
    { schedule: "piecewise_constant", boundaries: [1, 3], values: [0.1, 0.05, 0.01] }],
  ["InverseTimeDecay", { initial_learning_rate: 0.1, decay_steps: 2, decay_rate: 0.5, staircase: true, name: "InverseTimeDecay" },
    { schedule: "inverse_time_decay", initial_learning_rate: 0.1, decay_steps: 2, decay_rate: 0.5, staircase: true }],
  ["PolynomialDecay", { initial_learning_rate: 0.1, decay_steps: 3, end_learning_rate: 0.01, power: 2.0, cycle: true, name: "PolynomialDecay" },
    { schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 3, end_learning_rate: 0.01, power: 2.0, cycle: true }],
  ["PolynomialDecay", { initial_learning_rate: 0.1, decay_steps: 3, end_learning_rate: 0.0001, power: 1.0, cycle: false, name: "PolynomialDecay" },
    { schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 3, end_learning_rate: 0.0001, power: 1.0, cycle: false }],
];
const STEPS = 8;

/** Keras 3's SGD config (get_config of keras/src/optimizers/sgd.py and base_optimizer.py). */
const keras3Sgd = (learning_rate: unknown) => ({
  module: "keras.optimizers", class_name: "SGD", registered_name: null,
  config: {
    name: "SGD", learning_rate, weight_decay: null, clipnorm: null, global_clipnorm: null, clipvalue: null, use_ema: false, ema_momentum: 0.99,
    ema_overwrite_frequency: null, loss_scale_factor: null, gradient_accumulation_steps: null, momentum: 0.0, nesterov: false,
  },
});
/** Keras 2's legacy SGD config (tf.keras.optimizers.legacy.SGD.get_config). */
const keras2Sgd = (learning_rate: unknown, decay = 0.0) => ({ class_name: "SGD", config: { name: "SGD", learning_rate, decay, momentum: 0.0, nesterov: false } });

/** A .keras file: Dense(2) on 3 inputs, compiled with `optimizer` and mse. */
async function keras3File(optimizer: unknown): Promise<Uint8Array> {
  const next = rng(3);
  const t = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() - 0.5) });
  const config = {
    module: "keras", class_name: "Sequential", registered_name: null,
    config: {
      name: "sequential", trainable: true,
      layers: [k3layer("InputLayer", { batch_shape: [null, 3], dtype: "float32", sparse: false, name: "input_layer" }), k3layer("Dense", { name: "dense", units: 2, activation: "linear", use_bias: true })],
    },
    compile_config: { optimizer, loss: "mean_squared_error", loss_weights: null, metrics: null, weighted_metrics: null, run_eagerly: false, steps_per_execution: 1, jit_compile: false },
  };
  return kerasZip(config, await kerasWeightsH5({ "layers/dense/vars/0": t([3, 2]), "layers/dense/vars/1": t([2]) }));
}

/** A model.json as the TF.js converter writes a Keras 2 .h5: modelTopology {model_config, training_config, keras_version}. */
async function keras2ModelJson(optimizer_config: unknown) {
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, name: "dense" })] });
  randomizeTf(m, 4);
  const files = toFiles(await saveArtifacts(m));
  const json = JSON.parse(files["model.json"] as string);
  json.modelTopology = { model_config: json.modelTopology, training_config: { loss: "mse", metrics: ["mae"], weighted_metrics: null, loss_weights: null, optimizer_config }, keras_version: "2.15.0", backend: "tensorflow" };
  return { ...files, "model.json": JSON.stringify(json) };
}

/** Every SGD update of the imported model equals −lr(step)·g, lr = Keras's formula for `expected`. */
async function expectScheduledUpdates(r: ImportResult, expected: ScheduleArgs): Promise<void> {
  const graph = r.graph as any;
  const scheduled = await loadModel((await compile(JSON.stringify(graph), { maxBatch: 4, weights: r.weights })).wasm);
  const unitGraph = { ...graph, training: { ...graph.training, optimizer: { type: "sgd", learning_rate: 1 } } };
  const unit = await loadModel((await compile(JSON.stringify(unitGraph), { maxBatch: 4 })).wasm);
  const next = rng(9);
  const target = graph.training.loss.target as string;
  for (let step = 0; step < STEPS; step++) {
    const feeds = { [graph.inputs[0].name]: Float32Array.from({ length: 12 }, () => next() * 2 - 1), [target]: Float32Array.from({ length: 8 }, () => next() * 2 - 1) };
    const w0 = scheduled.getWeights();
    unit.setWeights(w0);
    unit.trainStep(feeds);
    scheduled.trainStep(feeds);
    const g = unit.getWeights(), w1 = scheduled.getWeights(), lr = kerasLearningRate(expected, step);
    for (const name of Object.keys(w0)) {
      w0[name]!.forEach((x, i) => {
        const want = lr * (g[name]![i]! - x);
        expect(Math.abs(w1[name]![i]! - x - want), `${expected.schedule} ${name}[${i}] at step ${step} (lr ${lr})`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(x)));
      });
    }
  }
}

describe("learning-rate schedules in imported training configurations", () => {
  for (const [cls, config, expected] of SCHEDULES) {
    const label = `${cls} ${JSON.stringify(config).slice(0, 70)}`;
    test(`Keras 3 .keras compile_config: ${label}`, async () => {
      const r = await importModel(await keras3File(keras3Sgd({ module: "keras.optimizers.schedules", class_name: cls, config, registered_name: null })));
      expect((r.graph as any).training.optimizer).toEqual({ type: "sgd", learning_rate: expected, momentum: 0, nesterov: false });
      await expectScheduledUpdates(r, expected);
    });

    test(`Keras 2 training_config in a converted model.json: ${label}`, async () => {
      const r = await importModel(await keras2ModelJson(keras2Sgd({ class_name: cls, config })));
      expect((r.graph as any).training.optimizer).toEqual({ type: "sgd", learning_rate: expected, momentum: 0, nesterov: false });
      expect((r.graph as any).training.metrics).toEqual(["mean_absolute_error"]);
      await expectScheduledUpdates(r, expected);
    });
  }

  test("Keras 2's legacy decay (lr / (1 + decay·iterations)) is an inverse-time decay with decay_steps 1", async () => {
    const r = await importModel(await keras2ModelJson(keras2Sgd(0.2, 0.5)));
    const expected: ScheduleArgs = { schedule: "inverse_time_decay", initial_learning_rate: 0.2, decay_steps: 1, decay_rate: 0.5 };
    expect((r.graph as any).training.optimizer.learning_rate).toEqual(expected);
    await expectScheduledUpdates(r, expected);
  });

  test("schedules and schedule arguments kiln lacks are named and leave the graph inference-only", async () => {
    const cases: [unknown, RegExp][] = [
      [keras3Sgd({ module: "keras.optimizers.schedules", class_name: "CosineDecayRestarts", config: { initial_learning_rate: 0.1, first_decay_steps: 10 }, registered_name: null }),
        /learning-rate schedule "CosineDecayRestarts" is not one kiln has \(ExponentialDecay, InverseTimeDecay, PolynomialDecay, CosineDecay, PiecewiseConstantDecay\)/],
      [keras3Sgd({ module: null, class_name: "MyWarmup", config: {}, registered_name: "Custom>MyWarmup" }), /learning-rate schedule "MyWarmup" is not one kiln has/],
      [keras3Sgd({ class_name: "ExponentialDecay", config: { initial_learning_rate: 0.1, decay_steps: 3, decay_rate: 0.5, offset: 2 } }), /schedule ExponentialDecay offset=2 \(kiln's exponential_decay has no such argument\)/],
      [keras3Sgd({ class_name: "ExponentialDecay", config: { initial_learning_rate: 0.1, decay_steps: 0, decay_rate: 0.5 } }), /kiln refuses it .*learning_rate\/decay_steps/],
      // Keras 3 has no legacy decay: the key is named as a setting kiln's Adam lacks.
      [{ class_name: "Adam", config: { learning_rate: 0.1, decay: 0.1 } }, /optimizer Adam decay=0.1 \(kiln's adam has no such setting\)/],
    ];
    for (const [optimizer, why] of cases) {
      const r = await importModel(await keras3File(optimizer));
      expect(r.graph.training).toBeUndefined();
      expect(r.notes.join("\n")).toMatch(/training configuration left out, the graph compiles for inference only/);
      expect(r.notes.join("\n")).toMatch(why);
    }
    const keras2: [unknown, RegExp][] = [
      [{ class_name: "Adam", config: { learning_rate: { class_name: "ExponentialDecay", config: { initial_learning_rate: 0.1, decay_steps: 3, decay_rate: 0.5 } }, decay: 0.1 } }, /optimizer Adam decay=0.1 on top of a schedule/],
      [{ class_name: "Nadam", config: { learning_rate: 0.1 } }, /optimizer "Nadam" is not one kiln has/],
    ];
    for (const [optimizer, why] of keras2) {
      const r = await importModel(await keras2ModelJson(optimizer));
      expect(r.graph.training).toBeUndefined();
      expect(r.notes.join("\n")).toMatch(/training configuration left out, the graph compiles for inference only/);
      expect(r.notes.join("\n")).toMatch(why);
    }
  });
});
