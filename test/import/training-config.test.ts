/**
 * Training configurations: what TF.js's own model.save writes for a compiled model (trainingConfig,
 * camel-case optimizer config), and Keras-side configs kiln trains differently (inference only,
 * with a note saying why).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { importModel } from "../../compiler/index.js";
import { saveArtifacts, toFiles } from "./helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function small(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [4], units: 3, activation: "softmax", name: "probs" }));
  return m;
}

describe("training configuration", () => {
  test("TF.js's saved trainingConfig (Adam, categorical crossentropy, accuracy) becomes kiln's training section", async () => {
    const m = small();
    m.compile({ optimizer: tf.train.adam(0.01, 0.8, 0.99), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    const files = toFiles(await saveArtifacts(m, true));
    expect(JSON.parse(files["model.json"] as string).trainingConfig.optimizer_config.config).toMatchObject({ learningRate: 0.01, beta1: 0.8 });
    const r = await importModel(files);
    expect(r.graph.training).toEqual({
      loss: { type: "categorical_crossentropy", output: "probs", target: "probs_target" },
      optimizer: { type: "adam", learning_rate: 0.01, beta_1: 0.8, beta_2: 0.99, epsilon: 1e-7 },
      metrics: ["accuracy"],
    });
    expect(r.graph.targets).toEqual([{ name: "probs_target", shape: [3] }]);
    expect(r.notes.join("\n")).toMatch(/integer or boolean tensor\(s\) stepped over/);
  });

  test("TF.js's momentum optimizer is kiln's sgd with momentum", async () => {
    const m = small();
    m.compile({ optimizer: tf.train.momentum(0.1, 0.9, true), loss: "meanSquaredError" });
    const r = await importModel(toFiles(await saveArtifacts(m, true)));
    expect(r.graph.training).toMatchObject({ optimizer: { type: "sgd", learning_rate: 0.1, momentum: 0.9, nesterov: true } });
  });

  test("what kiln trains differently leaves the graph inference-only and says why", async () => {
    const m = small();
    const files = toFiles(await saveArtifacts(m));
    const json = JSON.parse(files["model.json"] as string);
    const cases: [unknown, RegExp][] = [
      [{ loss: "hinge", optimizer_config: { class_name: "SGD", config: {} } }, /loss "hinge" is not one kiln has/],
      [{ loss: "mse", optimizer_config: { class_name: "RMSprop", config: { learning_rate: 0.01, centered: true } } }, /optimizer RMSprop centered=true \(kiln's rmsprop has no such setting\)/],
      [{ loss: "mse", optimizer_config: { class_name: "Adam", config: { learning_rate: { class_name: "CosineDecayRestarts", config: {} } } } }, /learning-rate schedule "CosineDecayRestarts" is not one kiln has/],
      [{ loss: "mse", optimizer_config: { class_name: "Adam", config: { beta_1: { class_name: "Foo", config: {} } } } }, /optimizer beta_1=.* \(kiln takes a number here\)/],
      [{ loss: "mse", loss_weights: [0.5], optimizer_config: { class_name: "SGD", config: {} } }, /loss_weights \[0.5\] \(kiln's loss is unweighted\)/],
      [{ loss: { module: "keras.losses", class_name: "function", config: "huber", registered_name: "huber" }, optimizer_config: { class_name: "SGD", config: {} } }, /loss .*"huber".* is not one kiln has/],
      [{ loss: "mse", optimizer_config: { class_name: "SGD", config: { learning_rate: 0.1, weight_decay: 0.01 } } }, /optimizer SGD weight_decay=0.01 \(kiln's sgd has no such setting\)/],
      [{ loss: "mse", optimizer_config: { class_name: "Adagrad", config: {} } }, /optimizer "Adagrad" is not one kiln has/],
    ];
    for (const [trainingConfig, why] of cases) {
      const r = await importModel({ ...files, "model.json": JSON.stringify({ ...json, trainingConfig }) });
      expect(r.graph.training).toBeUndefined();
      expect(r.notes.join("\n")).toMatch(/training configuration left out, the graph compiles for inference only/);
      expect(r.notes.join("\n")).toMatch(why);
    }
  });

  test("each file format's spellings of losses, metrics and optimizer settings map, and what does not map is named", async () => {
    const files = toFiles(await saveArtifacts(small()));
    const json = JSON.parse(files["model.json"] as string);
    const imported = async (trainingConfig: unknown, keras_version?: string) => {
      const topology = keras_version ? { model_config: json.modelTopology, keras_version, backend: "tensorflow", training_config: trainingConfig } : json.modelTopology;
      return importModel({ ...files, "model.json": JSON.stringify({ ...json, modelTopology: topology, ...(keras_version ? {} : { trainingConfig }) }) });
    };
    // Keras 3 serialized functions and classes for the loss and metrics; Adam with weight_decay is AdamW (Keras applies it in the base optimizer).
    const k3 = await imported({
      loss: { module: "keras.losses", class_name: "function", config: "categorical_crossentropy", registered_name: "categorical_crossentropy" },
      metrics: [{ module: "keras.metrics", class_name: "CategoricalAccuracy", config: { name: "categorical_accuracy", dtype: "float32" }, registered_name: null }, { module: "keras.metrics", class_name: "function", config: "mae", registered_name: "mae" }, "AUC",
        { module: "keras.metrics", class_name: "AUC", config: { name: "pr", num_thresholds: 50, curve: "PR", summation_method: "interpolation", multi_label: false, num_labels: null, label_weights: null, thresholds: null, from_logits: false }, registered_name: null },
        { module: "keras.metrics", class_name: "Precision", config: { name: "p", thresholds: [0.3], top_k: null, class_id: null }, registered_name: null },
        { module: "keras.metrics", class_name: "Recall", config: { name: "r", thresholds: null, top_k: 2, class_id: null }, registered_name: null },
        { module: "keras.metrics", class_name: "TopKCategoricalAccuracy", config: { name: "top3", k: 3 }, registered_name: null }, "hinge"],
      weighted_metrics: ["accuracy"], loss_weights: null,
      optimizer: { module: "keras.optimizers", class_name: "Adam", config: { name: "adam", learning_rate: 0.01, weight_decay: 0.02, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false, clipnorm: null, global_clipnorm: null, clipvalue: null, use_ema: false }, registered_name: null },
    }, "3.6.0");
    expect(k3.graph.training).toMatchObject({ loss: { type: "categorical_crossentropy" }, optimizer: { type: "adamw", learning_rate: 0.01, weight_decay: 0.02 }, metrics: [
      "accuracy", "mean_absolute_error", "auc",
      { type: "auc", num_thresholds: 50, curve: "PR", summation_method: "interpolation", from_logits: false },
      { type: "precision", thresholds: 0.3 },
      { type: "top_k_categorical_accuracy", k: 3 },
    ] });
    // What kiln's metrics lack is named, one note each.
    expect(k3.notes.join("\n")).toMatch(/metric \{.* left out: kiln's recall has no top_k 2/);
    expect(k3.notes.join("\n")).toMatch(/metric "hinge" left out: kiln imports accuracy, .*r2_score from training configurations/);
    expect(k3.notes.join("\n")).toMatch(/weighted_metrics \["accuracy"\] left out: kiln's metrics ignore sample weights/);
    // TF.js's RMSProp calls rho "decay"; Keras 2's legacy RMSprop has both, decay being a time decay of the rate.
    const tfjs = await imported({ loss: "mean_squared_error", metrics: ["MSE"], optimizer_config: { class_name: "RMSProp", config: { learningRate: 0.01, decay: 0.8, momentum: 0.1, epsilon: 1e-6, centered: false } } });
    expect(tfjs.graph.training).toMatchObject({ optimizer: { type: "rmsprop", learning_rate: 0.01, rho: 0.8, momentum: 0.1, epsilon: 1e-6 }, metrics: ["mean_squared_error"] });
    const k2 = await imported({ loss: "mse", optimizer_config: { class_name: "RMSprop", config: { name: "RMSprop", learning_rate: 0.01, decay: 0.0, rho: 0.8, momentum: 0.0, epsilon: 1e-7, centered: false } } }, "2.15.0");
    expect((k2.graph.training as any).optimizer).toEqual({ type: "rmsprop", learning_rate: 0.01, rho: 0.8, momentum: 0, epsilon: 1e-7 });
    const k2decay = await imported({ loss: "mse", optimizer_config: { class_name: "RMSprop", config: { name: "RMSprop", decay: 0.25, rho: 0.8 } } }, "2.15.0");
    expect((k2decay.graph.training as any).optimizer).toEqual({ type: "rmsprop", learning_rate: { schedule: "inverse_time_decay", initial_learning_rate: 0.001, decay_steps: 1, decay_rate: 0.25 }, rho: 0.8 });
    // A prototype key in the file is a setting kiln lacks, not a lookup into Object.prototype.
    const proto = await imported({ loss: "mse", optimizer_config: { class_name: "SGD", config: JSON.parse('{"constructor": 1, "learning_rate": 0.1}') } }, "3.6.0");
    expect(proto.graph.training).toBeUndefined();
    expect(proto.notes.join("\n")).toMatch(/optimizer SGD constructor=1 \(kiln's sgd has no such setting\)/);
  });
});
