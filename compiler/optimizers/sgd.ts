/** SGD with optional (Nesterov) momentum, Keras 3: m = μ·m − lr·g; w += m (Nesterov: w += μ·m − lr·g). */
import { boolean, unit, learningRate } from "./attrs.js";
import type { OptimizerDef } from "./optimizer.js";

export interface SgdAttrs { [k: string]: unknown; momentum: number; nesterov: boolean }

export const sgd: OptimizerDef<SgdAttrs> = {
  description: "Stochastic gradient descent with optional momentum.",
  attrs: { learning_rate: learningRate(0.01), momentum: unit("Momentum μ.", 0), nesterov: boolean("Nesterov momentum.", false) },
  slots: (a) => ((a.momentum ?? 0) > 0 ? ["momentum"] : []),
  kernelSlots: ["momentum"],
  rule(a, o, { lr }) {
    const mu = a.momentum ?? 0;
    if (mu === 0) return [`wi = ${o.sub("wi", o.mul("gi", lr))};`];
    return [
      `const m = ${o.sub(o.mul(o.load("momentum"), o.k(mu)), o.mul("gi", lr))};`, o.store("momentum", "m"),
      a.nesterov ? `wi = ${o.add("wi", o.sub(o.mul("m", o.k(mu)), o.mul("gi", lr)))};` : `wi = ${o.add("wi", "m")};`,
    ];
  },
};
