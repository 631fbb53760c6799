/** Schema fragments for numbers and flags (titles are what error messages quote). */
import type { JsonSchema } from "../frontend/ops/op.js";

export function num(title: string, description: string, dflt: number | undefined, bounds: JsonSchema): JsonSchema {
  return { title, description, type: "number", ...bounds, ...(dflt === undefined ? {} : { default: dflt }) };
}

/** The largest float32: the generated code holds optimizer attributes as f32, where a larger one becomes Infinity. */
export const F32_MAX = 3.4028234663852886e38;

export const boolean = (description: string, d: boolean): JsonSchema => ({ title: "true or false", description, type: "boolean", default: d });
