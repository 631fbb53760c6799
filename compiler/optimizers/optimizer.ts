/**
 * The optimizer contract: one `OptimizerDef` per optimizer (compiler/optimizers/<name>.ts) holds
 * everything the compiler knows of it — its attributes with Keras 3 defaults (the graph schema's
 * `optimizer_<name>` is generated from them), the slots it keeps per weight (the manifest's slot
 * names and the plan's slot tensors come from here), the factor its step scalars put on the
 * learning rate (Adam's bias correction), and its update rule, written once over `Ops` so the SIMD
 * sweep and its scalar tail cannot drift apart. Clipping, weight decay and the learning rate (a
 * constant, a schedule, or a runtime-settable scalar) are shared by every optimizer and live in
 * the emitter (emit/optimizer.ts).
 */
import type { JsonSchema } from "../frontend/ops/op.js";
import type { Ops } from "../emit/ops.js";

/** Per-element ops for an update rule: `load`/`store` take a buffer name (w, g or a slot name). */
export interface RuleOps extends Ops {
  /**
   * A runtime step scalar: "sc" (clip scale), "al" (the step's rate, with the optimizer's factor),
   * "lr" (the learning rate, when computed at run time; rules take it from RuleContext.lr).
   */
  rt(name: "sc" | "al" | "lr"): string;
}

/** What every update rule gets besides its attributes. */
export interface RuleContext {
  /** An expression of the step's learning rate: a constant or a runtime scalar. */
  lr: string;
}

export interface OptimizerDef<A extends Record<string, unknown> = Record<string, any>> {
  /** One line for the schema. */
  description: string;
  /** Attributes besides type, clipnorm and global_clipnorm, with their Keras 3 defaults. */
  attrs: Record<string, JsonSchema>;
  /** The slots this configuration keeps per weight, in memory and manifest order. */
  slots(a: A): string[];
  /**
   * The update kernel's slot parameters in order (`slot1`, `slot2`, …, at least two: the kernel
   * signature every module has had); a slot that `slots(a)` does not keep is passed as 0.
   */
  kernelSlots: readonly string[];
  /**
   * The factor the step scalars put on the learning rate (hyper[1] = lr · factor), computed in f64
   * once per step: `setup` lines may read `t` (i32, the step counting from 1). Absent: factor 1.
   */
  rateFactor?(a: A): { setup: string[]; factor: string };
  /**
   * The update statements after clipping and weight decay: `gi` is the clipped gradient and `wi`
   * (a `let`) the weight, which the emitter stores afterwards. Slots by their names.
   */
  rule(a: A, o: RuleOps, c: RuleContext): string[];
}
