/** AdamW, Keras 3: Adam (adam.ts) after decoupled weight decay w −= lr·wd·w (default 0.004). */
import { ADAM_ATTRS, adamRule, biasCorrection, type AdamAttrs } from "./adam.js";
import { num } from "./attrs.js";
import type { OptimizerDef } from "./optimizer.js";

export const adamw: OptimizerDef<AdamAttrs & { weight_decay: number }> = {
  description: "Adam with decoupled weight decay.",
  attrs: { ...ADAM_ATTRS, weight_decay: num("a number ≥ 0", "Decoupled weight decay.", 0.004, { minimum: 0 }) },
  slots: () => ["momentum", "velocity"],
  kernelSlots: ["momentum", "velocity"],
  rateFactor: biasCorrection,
  rule: (a, o) => adamRule(a, o),
};
