/** Attribute schema fragments shared by the optimizers (titles are what error messages quote). */
import type { JsonSchema } from "../frontend/ops/op.js";
import { SCHEDULE_NAMES } from "./schedules.js";
import { F32_MAX, num } from "./fragments.js";

export { boolean, num } from "./fragments.js";

/**
 * A number, or a schedule object `{ schedule, ...arguments }` (optimizers/schedules.ts; each
 * schedule's arguments are checked by `$defs/schedule_<name>`, which schema.ts generates).
 */
export const learningRate = (d: number): JsonSchema => ({
  ...num("a number > 0 (at most 3.4e38, float32) or a schedule object {schedule, ...}", "Learning rate: a constant or a schedule computed from the optimizer's step.", d, { exclusiveMinimum: 0, maximum: F32_MAX }),
  type: ["number", "object"],
  properties: { schedule: { title: `one of ${SCHEDULE_NAMES.map((n) => `"${n}"`).join(", ")}`, enum: [...SCHEDULE_NAMES] } },
  required: ["schedule"],
  // `type: "object"` in the if: a number satisfies properties and required vacuously.
  allOf: SCHEDULE_NAMES.map((n) => ({ if: { type: "object", properties: { schedule: { const: n } }, required: ["schedule"] }, then: { $ref: `#/$defs/schedule_${n}` } })),
});
export const unit = (description: string, d: number) => num("a number in [0, 1)", description, d, { minimum: 0, exclusiveMaximum: 1 });
export const epsilon = num("a number > 0", "Small constant for numerical stability.", 1e-7, { exclusiveMinimum: 0 });

/** Shared by every optimizer (the emitter applies them); not both at once. */
export const CLIP = {
  clipnorm: num("a number > 0", "Clip each gradient to this norm (g·c/max(‖g‖, c)); not together with global_clipnorm.", undefined, { exclusiveMinimum: 0 }),
  global_clipnorm: num("a number > 0", "Scale all gradients by c/max(‖all g‖, c); not together with clipnorm.", undefined, { exclusiveMinimum: 0 }),
};
