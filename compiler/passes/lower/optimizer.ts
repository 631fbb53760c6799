/**
 * Optimizer lowering (spec §4): after the backward pass, one step-scalar kernel (step counter,
 * global clipping scale, Adam's bias correction), then per trainable weight an optional per-weight
 * clip and one fused update sweep over the weight, its gradient and its slots (the slots each
 * optimizer keeps are its registry entry's, compiler/optimizers/).
 */
import { numel, type Program, type Tensor } from "../../ir/ir.js";
import { optimizerDef } from "../../optimizers/index.js";
import { isSchedule } from "../../optimizers/schedules.js";
import { KilnError } from "../../frontend/diagnostics.js";
import type { Lowered } from "./index.js";

export function lowerOptimizer(lw: Lowered, prog: Program, weightGrads: Map<number, Tensor>, settable: boolean): void {
  const { mod } = lw;
  const graphOpt = lw.graph.training!.optimizer;
  if (settable && isSchedule(graphOpt.learning_rate)) {
    throw new KilnError({ code: "options", path: "settableLearningRate", message: "a settable learning rate (settableLearningRate, reduce-LR-on-plateau) needs a number learning rate; this one is a schedule, which sets the rate itself" });
  }
  // `settable` is written only when set, so the IR and kernels of other builds stay as they were.
  const opt: any = settable ? { ...graphOpt, settable: true } : graphOpt;
  if (settable) lw.settableLearningRate = true;
  const slotNames = optimizerDef(opt.type).slots(opt);
  const hyper = mod.tensor({ shape: [4], batched: false, dtype: "f32", kind: "hyper", layer: "optimizer" });
  const sumsq = mod.tensor({ shape: [1], batched: false, dtype: "f32", kind: "hyper", layer: "optimizer" });
  const state = lw.state!;
  if (opt.global_clipnorm !== undefined) {
    mod.node(prog, "fill", [], [sumsq], { n: 1, value: 0 }, "optimizer");
    for (const g of weightGrads.values()) mod.node(prog, "opt_sumsq", [g], [sumsq], { n: numel(g.shape) }, "optimizer");
  }
  mod.node(prog, "opt_step", [state, sumsq], [hyper], { ...opt }, "optimizer");
  for (const [wid, g] of weightGrads) {
    const w = mod.t(wid);
    const slots = slotNames.map((slot) => {
      const t = mod.tensor({ shape: w.shape, batched: false, dtype: "f32", kind: "slot", name: `${slot}/${w.name}`, layer: w.layer });
      lw.slots.push({ slot, weight: w.name!, tensor: t });
      return t;
    });
    if (opt.clipnorm !== undefined) {
      mod.node(prog, "fill", [], [sumsq], { n: 1, value: 0 }, "optimizer");
      mod.node(prog, "opt_sumsq", [g], [sumsq], { n: numel(g.shape) }, "optimizer");
      mod.node(prog, "opt_clip", [sumsq], [hyper], { clipnorm: opt.clipnorm }, "optimizer");
    }
    mod.node(prog, "opt_update", [w, g, hyper, ...slots], [w, ...slots], { ...opt, n: numel(w.shape), slotNames }, w.layer ?? "optimizer");
  }
}
