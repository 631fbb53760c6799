/** Attribute schema fragments shared by the optimizers (titles are what error messages quote). */
import type { JsonSchema } from "../frontend/ops/op.js";

export function num(title: string, description: string, dflt: number | undefined, bounds: JsonSchema): JsonSchema {
  return { title, description, type: "number", ...bounds, ...(dflt === undefined ? {} : { default: dflt }) };
}

/** The largest float32: the generated code holds optimizer attributes as f32, where a larger one becomes Infinity. */
export const F32_MAX = 3.4028234663852886e38;

export const learningRate = (d: number) => num("a number > 0 (at most 3.4e38, float32)", "Learning rate.", d, { exclusiveMinimum: 0, maximum: F32_MAX });
export const unit = (description: string, d: number) => num("a number in [0, 1)", description, d, { minimum: 0, exclusiveMaximum: 1 });
export const epsilon = num("a number > 0", "Small constant for numerical stability.", 1e-7, { exclusiveMinimum: 0 });
export const boolean = (description: string, d: boolean): JsonSchema => ({ title: "true or false", description, type: "boolean", default: d });

/** Shared by every optimizer (the emitter applies them); not both at once. */
export const CLIP = {
  clipnorm: num("a number > 0", "Clip each gradient to this norm (g·c/max(‖g‖, c)); not together with global_clipnorm.", undefined, { exclusiveMinimum: 0 }),
  global_clipnorm: num("a number > 0", "Scale all gradients by c/max(‖all g‖, c); not together with clipnorm.", undefined, { exclusiveMinimum: 0 }),
};
