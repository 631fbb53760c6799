/**
 * Activations as AssemblyScript expressions, scalar (f32) and SIMD (v128 holding f32x4).
 * Used by every kernel epilogue (matmul, conv, elementwise) so each activation is written once.
 * Helpers named in `activationNeeds` come from emit/prelude.ts.
 *
 * OWNER NOTE: relu/linear are complete; the others are to be completed by the elementwise work.
 */
import type { ActivationName } from "../graph-types.js";

/** f32 expression for act(x); `x` must be an identifier or a parenthesized expression. */
export function activationScalar(act: ActivationName, x: string): string {
  switch (act) {
    case "linear": return x;
    case "relu": return `max<f32>(${x}, 0)`;
    default: return `act_${act}(${x})`;
  }
}

/** v128 expression for act(v) lane-wise; `v` must be an identifier or a parenthesized expression. */
export function activationSimd(act: ActivationName, v: string): string {
  switch (act) {
    case "linear": return v;
    case "relu": return `f32x4.max(${v}, f32x4.splat(0))`;
    default: return `act4_${act}(${v})`;
  }
}

/** Prelude helpers the expressions above call for `act`. */
export function activationNeeds(act: ActivationName): string[] {
  return act === "linear" || act === "relu" ? [] : [`act_${act}`, `act4_${act}`];
}
