/**
 * Activations as AssemblyScript expressions, scalar (f32) and SIMD (v128 holding f32x4).
 * Used by every kernel epilogue (matmul, conv, elementwise) so each activation is written once.
 * Helpers named in `activationNeeds` (`act_<name>`, `act4_<name>`) are defined in ACT_HELPERS and
 * reach a module through emit/prelude.ts. softmax is not elementwise: asking for it throws.
 */
import type { ActivationName } from "../frontend/graph-types.js";
import type { PreludeHelper } from "./vmath.js";

function checkElementwise(act: ActivationName): void {
  if (act === "softmax") throw new Error("internal: softmax is not an elementwise activation (use emit/softmax.ts)");
}

/** f32 expression for act(x); `x` must be an identifier or a parenthesized expression. */
export function activationScalar(act: ActivationName, x: string): string {
  checkElementwise(act);
  switch (act) {
    case "linear": return x;
    case "relu": return `max<f32>(${x}, 0)`;
    // min(relu(x), 6) as the elementwise kernels compute Keras' relu6 (f32.min/max: NaN stays NaN)
    case "relu6": return `min<f32>(max<f32>(${x}, 0), 6)`;
    default: return `act_${act}(${x})`;
  }
}

/**
 * v128 expression for act(v) lane-wise; `v` must be an identifier or a parenthesized expression.
 * relu and relu6 use pmax/pmin (one maxps/minps each) on v + 0, not f32x4.max/min, for which V8
 * emits ~8 instructions apiece to get wasm's NaN and ±0 rules: the same values bit for bit
 * (v + 0 turns −0 into +0 as max(−0, 0) does; pmax(v, 0) = v < 0 ? 0 : v and pmin(v, 6) =
 * 6 < v ? 6 : v keep a NaN v). In every conv, depthwise and matmul epilogue with relu6
 * (MobileNetV2: all of them), that was ~16 of the epilogue's instructions per output vector.
 * Measured in MobileNetV2 224 b1 (bench/mobilenet-profile.mjs, plain build): see bench/README.md.
 */
export function activationSimd(act: ActivationName, v: string): string {
  checkElementwise(act);
  switch (act) {
    case "linear": return v;
    case "relu": return `f32x4.pmax(f32x4.add(${v}, f32x4.splat(0)), f32x4.splat(0))`;
    case "relu6": return `f32x4.pmin(f32x4.pmax(f32x4.add(${v}, f32x4.splat(0)), f32x4.splat(0)), f32x4.splat(6))`;
    default: return `act4_${act}(${v})`;
  }
}

/** Prelude helpers the expressions above call for `act`. */
export function activationNeeds(act: ActivationName): string[] {
  checkElementwise(act);
  return act === "linear" || act === "relu" || act === "relu6" ? [] : [`act_${act}`, `act4_${act}`];
}

const F = (x: string): string => `f32x4.splat(${x})`;

/** SIMD bodies (one expression of `v`) and the vector-math helpers each one calls. */
const SIMD_BODIES: Record<string, { deps: string[]; body: string }> = {
  sigmoid: { deps: ["sigmoid4"], body: "sigmoid4(v)" },
  tanh: { deps: ["tanh4"], body: "tanh4(v)" },
  // exact gelu 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(−x/√2): erfc keeps the negative tail accurate.
  // (s = 1/√2, s² = 0.5 exactly: erfc_scaled4 squares the exact x, not the rounded x/√2).
  gelu: {
    deps: ["erfc_scaled4"],
    body: `f32x4.mul(f32x4.mul(v, ${F("0.5")}), erfc_scaled4(f32x4.neg(v), ${F("0.7071067811865476")}, ${F("0.5")}))`,
  },
  // slope 0.2 < 1, so max(x, 0.2x) picks x for x ≥ 0 and 0.2x below.
  leaky_relu: { deps: [], body: `f32x4.max(v, f32x4.mul(v, ${F("0.2")}))` },
  elu: { deps: ["expm1_4"], body: `v128.bitselect(v, expm1_4(v), f32x4.gt(v, ${F("0.0")}))` },
  silu: { deps: ["sigmoid4"], body: "f32x4.mul(v, sigmoid4(v))" },
  // log(1 + e^x) = max(x, 0) + log1p(e^{−|x|}): no overflow, no loss for very negative x.
  softplus: { deps: ["exp4", "log1p4"], body: `f32x4.add(f32x4.max(v, ${F("0.0")}), log1p4(exp4(f32x4.neg(f32x4.abs(v)))))` },
};

function actHelpers(): Record<string, PreludeHelper> {
  const out: Record<string, PreludeHelper> = {};
  for (const [name, { deps, body }] of Object.entries(SIMD_BODIES)) {
    out[`act4_${name}`] = { deps, src: `@inline function act4_${name}(v: v128): v128 { return ${body}; }` };
    // the scalar form runs the vector code on one lane: SIMD body and scalar tail agree exactly
    out[`act_${name}`] = {
      deps: [`act4_${name}`],
      src: `@inline function act_${name}(x: f32): f32 { return f32x4.extract_lane(act4_${name}(f32x4.splat(x)), 0); }`,
    };
  }
  return out;
}

/** Prelude entries `act_<name>` / `act4_<name>` for every activation that needs a helper. */
export const ACT_HELPERS: Record<string, PreludeHelper> = actHelpers();
