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
import { f32lit, f64lit, indent, intlit, kernelParams, locals } from "./code.js";
import { SCALAR, SIMD, type Ops } from "./ops.js";
import type { KernelDef } from "./kernel.js";
import { optimizerDef, type OptimizerDef } from "../optimizers/index.js";
import type { RuleOps } from "../optimizers/optimizer.js";
import { isSchedule, scheduleDef, type Schedule } from "../optimizers/schedules.js";

/** The optimizer's attributes as the graph gives them (defaults filled), plus the shared clipping. */
export type OptimizerAttrs = {
  type: string;
  /** A constant, or a schedule computed from the step (optimizers/schedules.ts). */
  learning_rate: number | Schedule;
  weight_decay?: number;
  global_clipnorm?: number;
  /** The rate can be set at run time (a nonzero f32 in the state word after the step counter overrides the constant). */
  settable?: boolean;
} & Record<string, unknown>;

export interface UpdateSpec extends OptimizerAttrs {
  /** Elements of the weight. */
  n: number;
}

export type StepScalarsSpec = OptimizerAttrs;

/** Every name the bodies declare (plain names; the optimizer kernels take no runtime size). */
export const OPTIMIZER_LOCALS = locals("emitUpdate", "listed", [
  "a0", "a1", "acc", "al", "alv", "b1t", "b2t", "c", "cs", "gi", "hi", "i", "inc", "lo", "lr", "lrv", "m", "m0", "off", "pd", "ps",
  "sc", "scv", "set", "step", "t", "tf", "v", "v0", "wi", "x",
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
  const factor = optimizerDef(s.type).rateFactor?.(s);
  const rate = runtimeRate(s) ? runtimeRateLines(s, factor) : factor
    ? `${factor.setup.join("\n")}
store<f32>(hyper, <f32>(${f64lit(lr as number)} * ${factor.factor}), 4);`
    : `store<f32>(hyper, ${f32lit(lr as number)}, 4);`;
  const body = `const t: i32 = load<i32>(state) + 1;
store<i32>(state, t);
${scale}
${rate}`;
  return {
    key: `stepscalars:${s.type}:${JSON.stringify(lr)}:${s.settable === true}:${factor ? JSON.stringify(factor) : ""}:${s.global_clipnorm}`,
    label: `${s.type} step scalars`,
    params: params("state", "sumsq", "hyper"),
    body,
  };
}

/** Whether the learning rate is computed at run time (a schedule, or settable) rather than a constant of the kernels. */
const runtimeRate = (s: OptimizerAttrs): boolean => isSchedule(s.learning_rate) || s.settable === true;

/**
 * The step's rate from the step before this one (`step`, 0 for the first update, as Keras's
 * `iterations`): a schedule, or the settable word (state + 8; 0 means the graph's constant).
 * hyper[1] = lr · the optimizer's factor, hyper[2] = lr (for the update's lr·g and weight decay).
 */
function runtimeRateLines(s: OptimizerAttrs, factor: { setup: string[]; factor: string } | undefined): string {
  const lr = s.learning_rate;
  const lines = isSchedule(lr)
    ? ["const step: f64 = <f64>(t - 1);", ...scheduleDef(lr.schedule).emit(lr)]
    : ["const set: f32 = load<f32>(state, 4);", `const lr: f64 = set > 0 ? <f64>set : ${f64lit(lr)};`];
  if (factor) lines.push(...factor.setup, `store<f32>(hyper, <f32>(lr * ${factor.factor}), 4);`);
  else lines.push("store<f32>(hyper, <f32>lr, 4);");
  lines.push("store<f32>(hyper, <f32>lr, 8);");
  return lines.join("\n");
}

/** One optimizer step for one weight. Params: w, g, slot1, slot2, … (the optimizer's kernelSlots), hyper. */
export function emitUpdate(s: UpdateSpec): KernelDef {
  const n = intlit(checkN(s.n));
  const def = optimizerDef(s.type);
  const lrLoad = runtimeRate(s) ? `\nconst lr: f32 = load<f32>(hyper, 8);\nconst lrv = f32x4.splat(lr);` : "";
  const body = `const sc: f32 = load<f32>(hyper);
const al: f32 = load<f32>(hyper, 4);
const scv = f32x4.splat(sc);
const alv = f32x4.splat(al);${lrLoad}
let i: i32 = 0;
for (; i + 4 <= ${n}; i += 4) {
  const off: usize = <usize>i << 2;
${indent(rule(s, SIMD))}
}
for (; i < ${n}; i++) {
  const off: usize = <usize>i << 2;
${indent(rule(s, SCALAR))}
}`;
  // Every attribute shapes the body except where the sweep starts and which slots the node passes.
  const { type, n: _n, offset: _offset, slotNames: _slots, ...attrs } = s as UpdateSpec & { offset?: number; slotNames?: string[] };
  return {
    key: `update:${type}:${s.n}:${JSON.stringify(Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : 1)))}`,
    label: `${s.type} update ${s.n}`,
    params: params("w", "g", ...slotParams(def), "hyper"),
    body,
  };
}

/** The update kernel's slot parameters: slot1, slot2, … (at least two, the signature modules have always had). */
export function slotParams(def: OptimizerDef): string[] {
  return Array.from({ length: Math.max(2, def.kernelSlots.length) }, (_, i) => `slot${i + 1}`);
}

/** The update statements: clip → weight decay → the optimizer's rule (Keras 3 operation order). */
function rule(s: UpdateSpec, ops: Ops): string[] {
  const def = optimizerDef(s.type);
  const o = perElement(ops, def);
  const wd = s.weight_decay ?? 0, lr = s.learning_rate;
  const out = [`const gi = ${o.mul(o.load("g"), o.rt("sc"))};`, `let wi = ${o.load("w")};`];
  if (runtimeRate(s)) {
    // Keras's order: w − (w·wd)·lr, in f32.
    if (wd > 0) out.push(`wi = ${o.sub("wi", o.mul(o.mul("wi", o.k(wd)), o.rt("lr")))};`);
    out.push(...def.rule(s, o, { lr: o.rt("lr") }));
  } else {
    if (wd > 0) out.push(`wi = ${o.sub("wi", o.mul("wi", o.k(wd * (lr as number))))};`);
    out.push(...def.rule(s, o, { lr: o.k(lr as number) }));
  }
  out.push(o.store("w", "wi"));
  return out;
}

/**
 * The ops on element `off` of each buffer: load/store take the buffer's name (w, g or a slot's
 * name, which is its kernel parameter slot<k>), and rt names a runtime scalar read from hyper,
 * "sc" (clip scale), "al" (rate) or "lr" (a run-time learning rate): its splat is `<name>v`.
 */
function perElement(o: Ops, def: OptimizerDef): RuleOps {
  const buffer = (name: string) => {
    if (name === "w" || name === "g") return name;
    const k = def.kernelSlots.indexOf(name);
    if (k < 0) throw new Error(`internal: the update rule uses slot "${name}", which is not among the optimizer's kernelSlots`);
    return `slot${k + 1}`;
  };
  return {
    ...o,
    load: (buf) => o.load(`${buffer(buf)} + off`),
    store: (buf, v) => o.store(`${buffer(buf)} + off`, v),
    rt: (name) => (o.width === 4 ? `${name}v` : name),
  };
}

function positive(x: number, what: string): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`internal: ${what} must be a positive number, got ${x}`);
  return x;
}

function checkN(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`internal: weight size ${n} is not a positive integer`);
  return n;
}
