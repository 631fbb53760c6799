/**
 * Emit stage: optimizer kernels, Keras 3 update rules exactly (spec §4). One update sweep per weight
 * (n constant, SIMD over the elements, scalar tail written from the same rule), plus the small
 * once-per-step kernels: Σg² (for clipping), the step scalars (step counter, global clip scale,
 * Adam's bias-corrected rate) and the per-weight clip scale.
 *
 * Runtime scalars live at `hyper` (f32): [0] = gradient scale from clipping (1 when none),
 * [1] = the step's learning rate (Adam/AdamW: lr·sqrt(1−b2^t)/(1−b1^t); others: lr).
 * Order per step: emitSumSquares over every gradient (global_clipnorm only) → emitStepScalars →
 * for each weight: [clipnorm: zero a scratch f32, emitSumSquares, emitClipScale] → emitUpdate.
 * With per-weight clipnorm the weights are updated one after another (hyper[0] is per weight).
 */
import { f32lit, indent, intlit, kernelParams, locals } from "./code.js";
import { SCALAR, SIMD, type Ops } from "./ops.js";
import type { KernelDef } from "./kernel.js";

export type OptimizerType = "sgd" | "adam" | "adamw" | "rmsprop";

export interface UpdateSpec {
  type: OptimizerType;
  /** Elements of the weight. */
  n: number;
  learning_rate: number;
  momentum?: number;
  nesterov?: boolean;
  beta_1?: number;
  beta_2?: number;
  epsilon?: number;
  /** Decoupled decay w −= lr·wd·w before the update (AdamW's default 0.004 comes from the graph). */
  weight_decay?: number;
  rho?: number;
}

export interface StepScalarsSpec {
  type: OptimizerType;
  learning_rate: number;
  beta_1?: number;
  beta_2?: number;
  clipnorm?: never;
  global_clipnorm?: number;
}

/** Every name the bodies declare (plain names; the optimizer kernels take no runtime size). */
export const OPTIMIZER_LOCALS = locals("emitUpdate", "listed", [
  "a0", "a1", "acc", "al", "alv", "b1t", "b2t", "c", "gi", "hi", "i", "inc", "lo", "m", "m0", "off", "sc", "scv", "t", "tf",
  "v", "v0", "wi", "x",
]);
const params = (...tensors: string[]) => kernelParams(OPTIMIZER_LOCALS, tensors);

/**
 * out[0] += Σ g². Params: g, out. Squares and the sum are f64 (f32 lanes promoted to two f64x2
 * accumulators), so the result is the exact sum rounded once to f32 when added into out.
 */
export function emitSumSquares(s: { n: number }): KernelDef {
  const n = intlit(checkN(s.n));
  const body = `let a0 = f64x2.splat(0);
let a1 = f64x2.splat(0);
let i: i32 = 0;
for (; i + 4 <= ${n}; i += 4) {
  const v = v128.load(g + (<usize>i << 2));
  const lo = f64x2.promote_low_f32x4(v);
  const hi = f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 0, 1));
  a0 = f64x2.add(a0, f64x2.mul(lo, lo));
  a1 = f64x2.add(a1, f64x2.mul(hi, hi));
}
let acc: f64 = (f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1)) + (f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1));
for (; i < ${n}; i++) {
  const x: f64 = <f64>load<f32>(g + (<usize>i << 2));
  acc += x * x;
}
store<f32>(out, <f32>(<f64>load<f32>(out) + acc));`;
  return { key: `sumsq:${s.n}`, label: `sum of squares ${s.n}`, params: params("g", "out"), body };
}

/** hyper[0] = c / max(sqrt(sumsq[0]), c) (Keras clip_by_norm). Params: sumsq, hyper. */
export function emitClipScale(s: { clipnorm: number }): KernelDef {
  const c = positive(s.clipnorm, "clipnorm");
  const body = `const c: f64 = ${f64lit(c)};
store<f32>(hyper, <f32>(c / Math.max(Math.sqrt(<f64>load<f32>(sumsq)), c)));`;
  return { key: `clipscale:${c}`, label: `clip scale ${c}`, params: params("sumsq", "hyper"), body };
}

/**
 * Once per step. Params: state (i32 step counter at state[0], incremented here, so t counts from
 * 1), sumsq (f32 Σ of all squared gradients; read only with global_clipnorm), hyper (written).
 * Powers b^t and the rate are computed in f64, rounded once to f32.
 */
export function emitStepScalars(s: StepScalarsSpec): KernelDef {
  const lr = s.learning_rate;
  const scale = s.global_clipnorm === undefined
    ? `store<f32>(hyper, 1.0);`
    : `const c: f64 = ${f64lit(positive(s.global_clipnorm, "global_clipnorm"))};
store<f32>(hyper, <f32>(c / Math.max(Math.sqrt(<f64>load<f32>(sumsq)), c)));`;
  const isAdam = s.type === "adam" || s.type === "adamw";
  const rate = isAdam
    ? `const tf: f64 = <f64>t;
const b1t: f64 = Math.pow(${f64lit(s.beta_1 ?? 0.9)}, tf);
const b2t: f64 = Math.pow(${f64lit(s.beta_2 ?? 0.999)}, tf);
store<f32>(hyper, <f32>(${f64lit(lr)} * Math.sqrt(1.0 - b2t) / (1.0 - b1t)), 4);`
    : `store<f32>(hyper, ${f32lit(lr)}, 4);`;
  const body = `const t: i32 = load<i32>(state) + 1;
store<i32>(state, t);
${scale}
${rate}`;
  return {
    key: `stepscalars:${s.type}:${lr}:${s.beta_1}:${s.beta_2}:${s.global_clipnorm}`,
    label: `${s.type} step scalars`,
    params: params("state", "sumsq", "hyper"),
    body,
  };
}

/** One optimizer step for one weight. Params: w, g, slot1 (momentum / m), slot2 (velocity / v), hyper. */
export function emitUpdate(s: UpdateSpec): KernelDef {
  const n = intlit(checkN(s.n));
  const body = `const sc: f32 = load<f32>(hyper);
const al: f32 = load<f32>(hyper, 4);
const scv = f32x4.splat(sc);
const alv = f32x4.splat(al);
let i: i32 = 0;
for (; i + 4 <= ${n}; i += 4) {
  const off: usize = <usize>i << 2;
${indent(rule(s, SIMD))}
}
for (; i < ${n}; i++) {
  const off: usize = <usize>i << 2;
${indent(rule(s, SCALAR))}
}`;
  const k = [s.type, s.n, s.learning_rate, s.momentum, s.nesterov, s.beta_1, s.beta_2, s.epsilon, s.weight_decay, s.rho];
  return {
    key: `update:${k.join(":")}`,
    label: `${s.type} update ${s.n}`,
    params: params("w", "g", "slot1", "slot2", "hyper"),
    body,
  };
}

/** The update statements: clip → weight decay → the optimizer's rule (Keras 3 operation order). */
function rule(s: UpdateSpec, ops: Ops): string[] {
  const o = perElement(ops);
  const lr = s.learning_rate, wd = s.weight_decay ?? 0, mu = s.momentum ?? 0;
  const out = [`const gi = ${o.mul(o.load("g"), o.rt("sc"))};`, `let wi = ${o.load("w")};`];
  if (wd > 0) out.push(`wi = ${o.sub("wi", o.mul("wi", o.k(wd * lr)))};`);
  switch (s.type) {
    case "sgd":
      if (mu === 0) {
        out.push(`wi = ${o.sub("wi", o.mul("gi", o.k(lr)))};`);
      } else {
        out.push(`const m = ${o.sub(o.mul(o.load("slot1"), o.k(mu)), o.mul("gi", o.k(lr)))};`, o.store("slot1", "m"));
        out.push(s.nesterov ? `wi = ${o.add("wi", o.sub(o.mul("m", o.k(mu)), o.mul("gi", o.k(lr))))};` : `wi = ${o.add("wi", "m")};`);
      }
      break;
    case "adam":
    case "adamw": {
      const b1 = s.beta_1 ?? 0.9, b2 = s.beta_2 ?? 0.999, eps = s.epsilon ?? 1e-7;
      out.push(`const m0 = ${o.load("slot1")};`, `const v0 = ${o.load("slot2")};`);
      out.push(`const m = ${o.add("m0", o.mul(o.sub("gi", "m0"), o.k(1 - b1)))};`);
      out.push(`const v = ${o.add("v0", o.mul(o.sub(o.mul("gi", "gi"), "v0"), o.k(1 - b2)))};`);
      out.push(o.store("slot1", "m"), o.store("slot2", "v"));
      // epsilon outside the square root; `al` already holds lr·sqrt(1−b2^t)/(1−b1^t)
      out.push(`wi = ${o.sub("wi", o.div(o.mul("m", o.rt("al")), o.add(o.sqrt("v"), o.k(eps))))};`);
      break;
    }
    case "rmsprop": {
      const rho = s.rho ?? 0.9, eps = s.epsilon ?? 1e-7;
      out.push(`const v = ${o.add(o.mul(o.k(rho), o.load("slot2")), o.mul(o.k(1 - rho), o.mul("gi", "gi")))};`, o.store("slot2", "v"));
      // epsilon inside the square root
      out.push(`const inc = ${o.div(o.mul(o.k(lr), "gi"), o.sqrt(o.add("v", o.k(eps))))};`);
      if (mu === 0) {
        out.push(`wi = ${o.sub("wi", "inc")};`);
      } else {
        out.push(`const m = ${o.add(o.mul(o.load("slot1"), o.k(mu)), "inc")};`, o.store("slot1", "m"), `wi = ${o.sub("wi", "m")};`);
      }
      break;
    }
  }
  out.push(o.store("w", "wi"));
  return out;
}

/**
 * The ops on element `off` of each buffer: load/store take the buffer's name, and rt names a
 * runtime scalar read from hyper, "sc" (clip scale) or "al" (rate): its splat is `<name>v`.
 */
function perElement(o: Ops): Ops & { rt(name: "sc" | "al"): string } {
  return {
    ...o,
    load: (buf) => o.load(`${buf} + off`),
    store: (buf, v) => o.store(`${buf} + off`, v),
    rt: (name) => (o.width === 4 ? `${name}v` : name),
  };
}

/** An f64 literal (full precision, for the once-per-step scalar math). */
function f64lit(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal: ${x} is not a finite constant`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : s + ".0";
}

function positive(x: number, what: string): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`internal: ${what} must be a positive number, got ${x}`);
  return x;
}

function checkN(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`internal: weight size ${n} is not a positive integer`);
  return n;
}
