/**
 * RMSprop, Keras 3: v = ρ·v + (1 − ρ)·g²; inc = lr·g/√(v + ε) (epsilon inside the square root);
 * w −= inc, or with momentum m = μ·m + inc; w −= m.
 */
import { epsilon, learningRate, unit } from "./attrs.js";
import type { OptimizerDef } from "./optimizer.js";

export interface RmspropAttrs { [k: string]: unknown; rho: number; momentum: number; epsilon: number }

export const rmsprop: OptimizerDef<RmspropAttrs> = {
  description: "RMSprop.",
  attrs: { learning_rate: learningRate(0.001), rho: unit("Decay of the squared-gradient average.", 0.9), momentum: unit("Momentum μ.", 0), epsilon },
  slots: (a) => ((a.momentum ?? 0) > 0 ? ["velocity", "momentum"] : ["velocity"]),
  kernelSlots: ["momentum", "velocity"],
  rule(a, o, { lr }) {
    const rho = a.rho ?? 0.9, eps = a.epsilon ?? 1e-7, mu = a.momentum ?? 0;
    const out = [
      `const v = ${o.add(o.mul(o.k(rho), o.load("velocity")), o.mul(o.k(1 - rho), o.mul("gi", "gi")))};`, o.store("velocity", "v"),
      // epsilon inside the square root
      `const inc = ${o.div(o.mul(lr, "gi"), o.sqrt(o.add("v", o.k(eps))))};`,
    ];
    if (mu === 0) return [...out, `wi = ${o.sub("wi", "inc")};`];
    return [...out, `const m = ${o.add(o.mul(o.load("momentum"), o.k(mu)), "inc")};`, o.store("momentum", "m"), `wi = ${o.sub("wi", "m")};`];
  },
};
