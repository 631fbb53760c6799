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
      [{ loss: "mse", optimizer_config: { class_name: "Adam", config: { learning_rate: { class_name: "ExponentialDecay", config: {} } } } }, /learning_rate=.* \(a schedule or object; kiln takes a constant\)/],
      [{ loss: "mse", optimizer_config: { class_name: "Adagrad", config: {} } }, /optimizer "Adagrad" is not one kiln has/],
    ];
    for (const [trainingConfig, why] of cases) {
      const r = await importModel({ ...files, "model.json": JSON.stringify({ ...json, trainingConfig }) });
      expect(r.graph.training).toBeUndefined();
      expect(r.notes.join("\n")).toMatch(/training configuration left out, the graph compiles for inference only/);
      expect(r.notes.join("\n")).toMatch(why);
    }
  });
});
