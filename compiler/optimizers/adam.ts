/**
 * Adam, Keras 3: m += (g − m)(1 − β1); v += (g² − v)(1 − β2); w −= m·α / (√v + ε) with
 * α = lr·√(1 − β2^t)/(1 − β1^t) computed once per step (epsilon outside the square root).
 * AdamW (adamw.ts) is this rule with decoupled weight decay.
 */
import { f64lit } from "../emit/code.js";
import { epsilon, learningRate, unit } from "./attrs.js";
import type { OptimizerDef, RuleOps } from "./optimizer.js";

export interface AdamAttrs { [k: string]: unknown; beta_1: number; beta_2: number; epsilon: number }

export const ADAM_ATTRS = {
  learning_rate: learningRate(0.001),
  beta_1: unit("Decay of the first moment.", 0.9),
  beta_2: unit("Decay of the second moment.", 0.999),
  epsilon,
};

/** Adam's bias correction √(1 − β2^t)/(1 − β1^t), in f64. */
export function biasCorrection(a: AdamAttrs): { setup: string[]; factor: string } {
  return {
    setup: [
      "const tf: f64 = <f64>t;",
      `const b1t: f64 = Math.pow(${f64lit(a.beta_1 ?? 0.9)}, tf);`,
      `const b2t: f64 = Math.pow(${f64lit(a.beta_2 ?? 0.999)}, tf);`,
    ],
    factor: "Math.sqrt(1.0 - b2t) / (1.0 - b1t)",
  };
}

export function adamRule(a: AdamAttrs, o: RuleOps): string[] {
  const b1 = a.beta_1 ?? 0.9, b2 = a.beta_2 ?? 0.999, eps = a.epsilon ?? 1e-7;
  return [
    `const m0 = ${o.load("momentum")};`, `const v0 = ${o.load("velocity")};`,
    `const m = ${o.add("m0", o.mul(o.sub("gi", "m0"), o.k(1 - b1)))};`,
    `const v = ${o.add("v0", o.mul(o.sub(o.mul("gi", "gi"), "v0"), o.k(1 - b2)))};`,
    o.store("momentum", "m"), o.store("velocity", "v"),
    // epsilon outside the square root; `al` already holds lr·sqrt(1−b2^t)/(1−b1^t)
    `wi = ${o.sub("wi", o.div(o.mul("m", o.rt("al")), o.add(o.sqrt("v"), o.k(eps))))};`,
  ];
}

export const adam: OptimizerDef<AdamAttrs> = {
  description: "Adam.",
  attrs: ADAM_ATTRS,
  slots: () => ["momentum", "velocity"],
  kernelSlots: ["momentum", "velocity"],
  rateFactor: biasCorrection,
  rule: (a, o) => adamRule(a, o),
};
