/**
 * Every optimizer of spec §4 (and clipnorm / global_clipnorm): three compiled train steps from the
 * same weights and batches as the float64 Keras 3 update rules applied to the reference's
 * gradients. Weights must match within 1e-5 relative, the weight changes themselves within 1e-4,
 * and the saved optimizer state (slots, step) must match the reference's state.
 */
import { describe, expect, it } from "vitest";
import { readSafetensors, asFloat32, asInt32 } from "../../runtime/safetensors.js";
import { newOptimizerState, optimizerStep, referenceGradients, type OptimizerConfig, type RefGraph } from "../reference/index.js";
import { build, f64, norm, randomizeWeights, relErr, uniform, type Feeds } from "./helpers.js";

const CONFIGS: [string, OptimizerConfig][] = [
  ["sgd", { type: "sgd", learning_rate: 0.1 }],
  ["sgd defaults", { type: "sgd" }],
  ["sgd momentum", { type: "sgd", learning_rate: 0.1, momentum: 0.9 }],
  ["sgd nesterov", { type: "sgd", learning_rate: 0.1, momentum: 0.8, nesterov: true }],
  ["adam", { type: "adam", learning_rate: 0.01 }],
  ["adam, non-default betas and epsilon", { type: "adam", learning_rate: 0.02, beta_1: 0.8, beta_2: 0.99, epsilon: 1e-3 }],
  ["adamw", { type: "adamw", learning_rate: 0.01, weight_decay: 0.1 }],
  ["adamw defaults", { type: "adamw" }],
  ["rmsprop", { type: "rmsprop", learning_rate: 0.01 }],
  ["rmsprop momentum", { type: "rmsprop", learning_rate: 0.01, rho: 0.8, momentum: 0.5 }],
  ["sgd momentum, clipnorm", { type: "sgd", learning_rate: 0.1, momentum: 0.9, clipnorm: 0.05 }],
  ["adam, global_clipnorm", { type: "adam", learning_rate: 0.01, global_clipnorm: 0.1 }],
  ["rmsprop, global_clipnorm", { type: "rmsprop", learning_rate: 0.01, global_clipnorm: 0.05 }],
];

const BATCH = 4;
const STEPS = 3;

const graphFor = (optimizer: OptimizerConfig): RefGraph => ({
  format: "kiln.graph/v2",
  name: "opt",
  seed: 2,
  inputs: [{ name: "x", shape: [3] }],
  targets: [{ name: "y", shape: [2] }],
  layers: [
    { name: "h", op: "dense", units: 4, activation: "tanh" },
    { name: "out", op: "dense", units: 2 },
  ],
  training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { ...optimizer } },
});

const batchFor = (step: number): Feeds => ({ x: uniform(BATCH * 3, 500 + step), y: uniform(BATCH * 2, 600 + step, -2, 2) });

/** Slots Keras keeps for a configuration. */
function expectedSlots(cfg: OptimizerConfig): string[] {
  if (cfg.type === "sgd") return (cfg.momentum ?? 0) > 0 ? ["momentum"] : [];
  if (cfg.type === "rmsprop") return (cfg.momentum ?? 0) > 0 ? ["momentum", "velocity"] : ["velocity"];
  return ["momentum", "velocity"];
}

describe("optimizers: 3 compiled steps vs Keras 3 rules in float64", () => {
  for (const [label, cfg] of CONFIGS) {
    it(label, async () => {
      const graph = graphFor(cfg);
      const { model } = await build(graph);
      const w0 = randomizeWeights(model, 8, 0.7);
      const ref = f64(w0);
      const state = newOptimizerState();
      let firstNorm = 0, largest = 0;
      for (let s = 0; s < STEPS; s++) {
        const feeds = batchFor(s);
        const r = referenceGradients(graph, ref, feeds, feeds, BATCH);
        if (s === 0) {
          firstNorm = Math.sqrt(Object.values(r.grads).reduce((a, g) => a + norm(g) ** 2, 0));
          largest = Math.max(...Object.values(r.grads).map(norm));
        }
        const step = model.trainStep(feeds);
        expect(Math.abs(step.loss - r.loss) / r.loss, `loss at step ${s + 1}`).toBeLessThan(1e-4);
        optimizerStep(cfg, ref, r.grads, state);
      }
      // The clipping cases are only meaningful when the gradients are above the threshold.
      if (cfg.global_clipnorm !== undefined) expect(firstNorm).toBeGreaterThan(2 * cfg.global_clipnorm);
      if (cfg.clipnorm !== undefined) expect(largest).toBeGreaterThan(2 * cfg.clipnorm);

      const w3 = model.getWeights();
      for (const [name, want] of Object.entries(ref)) {
        expect(relErr(w3[name]!, want), `${name}`).toBeLessThan(1e-5);
        const delta = (a: ArrayLike<number>) => Array.from(a, (v, i) => v - w0[name]![i]!);
        expect(norm(delta(want))).toBeGreaterThan(0);
        expect(relErr(delta(w3[name]!), delta(want)), `${name} change`).toBeLessThan(1e-4);
      }

      const saved = readSafetensors(model.saveWeights()).tensors;
      expect(asInt32(saved.get("optimizer/step")!, "step")[0]).toBe(STEPS);
      const slots = [...saved.keys()].filter((k) => k.startsWith("optimizer/") && k !== "optimizer/step");
      const want = expectedSlots(cfg).flatMap((slot) => Object.keys(ref).map((w) => `optimizer/${slot}/${w}`));
      expect(slots.sort()).toEqual(want.sort());
      for (const key of slots) {
        const [, slot, ...rest] = key.split("/");
        const expected = state[slot as "momentum" | "velocity"][rest.join("/")]!;
        expect(relErr(asFloat32(saved.get(key)!, key), expected), key).toBeLessThan(1e-4);
      }
    });
  }
});
