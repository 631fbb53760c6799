/**
 * Emit stage: the fused loss + gradient kernel (spec §3, Keras semantics). One kernel reads the
 * model output `pred` [rows, classes], the target and the examples' sample weights `sw`, writes the
 * batch's loss to `out`, and (unless eval) dLoss/dpred to `grad`. Keras's `sum_over_batch_size`:
 * each row's loss times its example's weight, summed, divided by the number of rows (not by the
 * sum of the weights). The gradient is also scaled by the output's loss weight (Keras
 * `loss_weights`); the loss written is not (Keras logs `<output>_loss` unweighted). Sums
 * accumulate in f64. Cross-entropies without logits normalize by the class sum and clip to
 * [1e-7, 1−1e-7]; the gradient is zero where a value is clipped and flows through the
 * normalization. MSE/MAE and softmax rows (logits, fused; the prelude's exp4) run SIMD over the
 * classes of a row; the probability-input cross-entropies loop scalar per row. With weights 1 and
 * loss weight 1 every gradient is bit-identical to the unweighted formula. Metrics are
 * emit/metrics.ts.
 */
import { block, f32lit, indent, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";
import type { LossType } from "../frontend/graph-types.js";

export interface LossSpec {
  type: LossType;
  fromLogits: boolean;
  /** Examples × positions: every axis but the last. */
  rows: SizeArg;
  /** The last axis of the output; 1 for a scalar output. */
  classes: number;
  /**
   * The output layer is a softmax and the loss a (sparse) categorical cross-entropy without logits:
   * `pred` holds the LOGITS, the kernel writes the softmax to `probs` (the model's output), the loss
   * from the clipped probabilities, and grad = dLoss/dlogits = (p·Σt − t)/rows (p − onehot for
   * sparse). That gradient ignores the clip: it differs from the clipped loss's true gradient only
   * where a probability is below 1e-7 or above 1−1e-7 (where the clipped gradient would be 0).
   */
  fusedSoftmax?: boolean;
  /** Rows per example (positions of a sequence output): row r has the weight sw[r / perExample]. */
  perExample: number;
  /** Keras `loss_weights` entry of this output: scales the gradient, not the loss written. */
  lossWeight: number;
}

/** Losses whose preceding softmax can be fused into the loss kernel (when from_logits is false). */
export const SOFTMAX_FUSABLE_LOSSES: readonly LossType[] = ["categorical_crossentropy", "sparse_categorical_crossentropy"];

export function canFuseSoftmax(type: LossType, fromLogits: boolean): boolean {
  return !fromLogits && SOFTMAX_FUSABLE_LOSSES.includes(type);
}

/**
 * Training form. Params: pred, target (f32, or i32 class ids for sparse), sw (f32 per example),
 * grad, out, [probs when fusedSoftmax], then rows when it is a runtime size. out[0] = the loss.
 */
export function emitLoss(s: LossSpec): KernelDef {
  return build(s, true);
}

/** Evaluation form: as emitLoss without the grad param (nothing but out, and probs, is written). */
export function emitLossEval(s: LossSpec): KernelDef {
  return build(s, false);
}

const EPS = 1e-7;
/** Every name the generated body declares (plain names). */
export const LOSS_LOCALS = locals("emitLoss", "listed", [
  "R", "C", "N", "lsum", "gs", "gsv", "zero", "e", "r", "c", "off", "d", "q",
  "p", "t", "x", "z", "y", "s", "G", "gq", "pc", "ex", "sg", "a0", "a1", "lo", "hi", "ro", "xp", "tp", "gp", "pp",
  "mx", "mv", "mxv", "se", "sv0", "sv1", "ps", "psv", "lse", "st", "pg", "pgv", "kv",
  "w", "g0", "rs",
]);

function build(s: LossSpec, withGrad: boolean): KernelDef {
  check(s);
  const rows = sizeSrc(LOSS_LOCALS, s.rows, "rows");
  const perRow = s.type.endsWith("categorical_crossentropy");
  const lossBlock = perRow ? crossEntropy(s, withGrad) : s.type === "binary_crossentropy" ? binary(s, withGrad) : meanError(s, withGrad);
  const body = [
    `const R: i32 = ${rows};`,
    `const C: i32 = ${intlit(s.classes)};`,
    `const N: i32 = R * C;`,
    `let lsum: f64 = 0;`,
    lossBlock,
    `store<f32>(out, <f32>(lsum / <f64>${perRow ? "R" : "N"}));`,
  ].join("\n");
  const params = kernelParams(LOSS_LOCALS, ["pred", "target", "sw", ...(withGrad ? ["grad"] : []), "out", ...(s.fusedSoftmax ? ["probs"] : [])], s.rows);
  return {
    key: `loss:${s.type}:${s.fromLogits}:${s.rows}:${s.classes}:${!!s.fusedSoftmax}:${s.perExample}:${f64lit(s.lossWeight)}:${withGrad}`,
    label: `${s.type}${s.fusedSoftmax ? " (fused softmax)" : s.fromLogits ? " (logits)" : ""} ${withGrad ? "loss+grad" : "loss"}`,
    params,
    body,
    ...(usesExp4(s) ? { needs: ["exp4"] } : {}),
  };
}

/** An f64 literal of v, exact (shortest round-trip digits). */
function f64lit(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`internal: loss weight ${v} is not finite`);
  const t = String(v);
  return /[.eE]/.test(t) ? t : `${t}.0`;
}

/** g0 = (scale · lossWeight) / denominator as f32: the gradient factor of a row of weight 1. */
function gradBase(s: LossSpec, scale: number, denominator: "N" | "R"): string {
  return `const g0: f32 = <f32>(${f64lit(scale * s.lossWeight)} / <f64>${denominator});`;
}

/** Per row r: its example's weight w and the row's gradient factor gs = g0·w. */
function rowWeight(s: LossSpec): string {
  const example = s.perExample === 1 ? "r" : `(r / ${intlit(s.perExample)})`;
  return `const w: f32 = load<f32>(sw + (<usize>${example} << 2));
const gs: f32 = g0 * w;`;
}

/** MSE / MAE: per row, SIMD over the classes (the mean over classes then rows is the mean over all N). */
function meanError(s: LossSpec, withGrad: boolean): string {
  const mse = s.type === "mean_squared_error";
  const gradV = mse ? "f32x4.mul(d, gsv)" : "f32x4.sub(v128.and(f32x4.gt(d, zero), gsv), v128.and(f32x4.lt(d, zero), gsv))";
  const gradS = mse ? "d * gs" : "d > 0 ? gs : d < 0 ? -gs : <f32>0";
  const acc = (v: string, a: string) => (mse ? `f64x2.add(${a}, f64x2.mul(${v}, ${v}))` : `f64x2.add(${a}, ${v})`);
  const vec = s.classes >= 4;
  return `${gradBase(s, mse ? 2 : 1, "N")}
${vec ? "const zero = f32x4.splat(0);\n" : ""}for (let r: i32 = 0; r < R; r++) {
${indent(rowWeight(s))}
  const ro: usize = <usize>r * ${intlit(s.classes * 4)};
  let rs: f64 = 0;
  let c: i32 = 0;
${vec ? `  const gsv = f32x4.splat(gs);
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  for (; c + 4 <= C; c += 4) {
    const off: usize = ro + (<usize>c << 2);
    const d = f32x4.sub(v128.load(pred + off), v128.load(target + off));
${withGrad ? `    v128.store(grad + off, ${gradV});
` : ""}    const q = ${mse ? "d" : "f32x4.abs(d)"};
    const lo = f64x2.promote_low_f32x4(q);
    const hi = f64x2.promote_low_f32x4(f32x4.shuffle(q, q, 2, 3, 0, 1));
    a0 = ${acc("lo", "a0")};
    a1 = ${acc("hi", "a1")};
  }
  rs = (f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1)) + (f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1));
` : ""}  for (; c < C; c++) {
    const off: usize = ro + (<usize>c << 2);
    const d: f32 = load<f32>(pred + off) - load<f32>(target + off);
${withGrad ? `    store<f32>(grad + off, ${gradS});
` : ""}    rs += ${mse ? "<f64>d * <f64>d" : "<f64>Mathf.abs(d)"};
  }
  lsum += <f64>w * rs;
}`;
}

/** Binary cross-entropy, mean over all N elements: clipped probabilities, or the stable logit form. */
function binary(s: LossSpec, withGrad: boolean): string {
  const head = `${gradBase(s, 1, "N")}
for (let r: i32 = 0; r < R; r++) {
${indent(rowWeight(s))}
  for (let c: i32 = 0; c < C; c++) {
  const off: usize = (<usize>r * ${intlit(s.classes)} + <usize>c) << 2;`;
  if (s.fromLogits) {
    // max(x,0) − x·z + log(1 + e^−|x|); d/dx = sigmoid(x) − z, sigmoid from the same e^−|x|.
    return `${head}
  const x: f32 = load<f32>(pred + off);
  const z: f32 = load<f32>(target + off);
  const ex: f32 = Mathf.exp(-Mathf.abs(x));
  lsum += <f64>w * ((<f64>max<f32>(x, 0) - <f64>x * <f64>z) + Math.log1p(<f64>ex));
${withGrad ? `  const sg: f32 = x >= 0 ? 1 / (1 + ex) : ex / (1 + ex);
  store<f32>(grad + off, (sg - z) * gs);
` : ""}  }
}`;
  }
  // d/dp −(t·log p + (1−t)·log(1−p)) = (p − t) / (p·(1 − p)); zero where p was clipped.
  return `${head}
  const p: f32 = load<f32>(pred + off);
  const t: f32 = load<f32>(target + off);
  const pc: f32 = ${clip("p")};
  lsum -= <f64>w * (<f64>(t * Mathf.log(pc)) + <f64>((1 - t) * Mathf.log(1 - pc)));
${withGrad ? `  store<f32>(grad + off, ${clipped("p")} ? <f32>0 : (p - t) / (p * (1 - p)) * gs);
` : ""}  }
}`;
}

/** Categorical / sparse categorical cross-entropy, one row at a time, mean over rows. */
function crossEntropy(s: LossSpec, withGrad: boolean): string {
  const sparse = s.type === "sparse_categorical_crossentropy";
  const rowPtrs = [
    rowWeight(s),
    `const gsv = f32x4.splat(gs);`,
    `const ro: usize = <usize>r * ${intlit(s.classes * 4)};`,
    `const xp: usize = pred + ro;`,
    sparse ? `const y: i32 = load<i32>(target + (<usize>r << 2));` : `const tp: usize = target + ro;`,
    ...(withGrad ? [`const gp: usize = grad + ro;`] : []),
    ...(s.fusedSoftmax ? [`const pp: usize = probs + ro;`] : []),
  ].join("\n");
  const inner = s.fusedSoftmax ? fusedRow(s.classes, sparse, withGrad) : s.fromLogits ? logitRow(s.classes, sparse, withGrad) : probRow(sparse, withGrad);
  return `${gradBase(s, 1, "R")}
for (let r: i32 = 0; r < R; r++) {
${indent(rowPtrs)}
${indent(inner)}
}`;
}

/** Target element t_c of the current row. */
const T = (sparse: boolean): string => (sparse ? "(c == y ? <f32>1 : <f32>0)" : "load<f32>(tp + (<usize>c << 2))");
const X = (base: string): string => `load<f32>(${base} + (<usize>c << 2))`;

/**
 * Probabilities: q = p / Σp, clipped. With g_c = dL/dq_c (−t/q, or 0 where clipped), the gradient
 * through the normalization is dL/dp_j = (g_j − Σ_c g_c·q_c) / Σp.
 */
function probRow(sparse: boolean, withGrad: boolean): string {
  const loss = sparse
    ? `lsum -= <f64>w * <f64>Mathf.log(${clip(`(load<f32>(xp + (<usize>y << 2)) / s)`)});`
    : "";
  return `let s: f32 = 0;
for (let c: i32 = 0; c < C; c++) s += ${X("xp")};
let G: f32 = 0;
for (let c: i32 = 0; c < C; c++) {
  const q: f32 = ${X("xp")} / s;
  const t: f32 = ${T(sparse)};
${sparse ? "" : `  lsum -= <f64>w * (<f64>t * <f64>Mathf.log(${clip("q")}));\n`}${withGrad ? `  const gq: f32 = ${clipped("q")} ? <f32>0 : -t / q;\n  G += gq * q;\n  store<f32>(gp + (<usize>c << 2), gq);\n` : ""}}
${loss}${withGrad ? `\nfor (let c: i32 = 0; c < C; c++) store<f32>(gp + (<usize>c << 2), (${X("gp")} - G) / s * gs);` : ""}`;
}

/** Vector loop over the row's classes, 4 at a time, then a scalar tail; both see `c` and `off`. */
function classLoop(classes: number, vec: string, sca: string): string {
  const parts = ["let c: i32 = 0;"];
  if (classes >= 4) parts.push(block("for (; c + 4 <= C; c += 4) {", ["const off: usize = <usize>c << 2;", vec]));
  if (classes % 4 !== 0) parts.push(block("for (; c < C; c++) {", ["const off: usize = <usize>c << 2;", sca]));
  return block("{", parts);
}

/** The softmax rows (logits or fused) of 4+ classes call the prelude's exp4. */
function usesExp4(s: LossSpec): boolean {
  return s.type.endsWith("categorical_crossentropy") && (s.fromLogits || !!s.fusedSoftmax) && s.classes >= 4;
}

/**
 * Row max `mx`, e^(x − mx) into `dst` (when given), their f64 sum `se` and ps = 1/se. SIMD (exp4
 * from the prelude) for whole groups of 4 classes, Mathf.exp in the tail.
 */
function softmaxExps(classes: number, dst: string | null): string {
  const v = classes >= 4;
  const laneMax = "max<f32>(max<f32>(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max<f32>(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)))";
  const laneSum = "(f64x2.extract_lane(sv0, 0) + f64x2.extract_lane(sv0, 1)) + (f64x2.extract_lane(sv1, 0) + f64x2.extract_lane(sv1, 1))";
  return [
    `let mx: f32 = ${f32lit(-Infinity)};`,
    ...(v ? [`let mv = f32x4.splat(${f32lit(-Infinity)});`] : []),
    classLoop(classes, "mv = f32x4.max(mv, v128.load(xp + off));", "mx = max<f32>(mx, load<f32>(xp + off));"),
    ...(v ? [`mx = max<f32>(mx, ${laneMax});`, "const mxv = f32x4.splat(mx);", "let sv0 = f64x2.splat(0);", "let sv1 = f64x2.splat(0);"] : []),
    "let se: f64 = 0;",
    classLoop(classes,
      `const ex = exp4(f32x4.sub(v128.load(xp + off), mxv));
${dst ? `v128.store(${dst} + off, ex);\n` : ""}sv0 = f64x2.add(sv0, f64x2.promote_low_f32x4(ex));
sv1 = f64x2.add(sv1, f64x2.promote_low_f32x4(f32x4.shuffle(ex, ex, 2, 3, 0, 1)));`,
      `const ex: f32 = Mathf.exp(load<f32>(xp + off) - mx);
${dst ? `store<f32>(${dst} + off, ex);\n` : ""}se += <f64>ex;`),
    ...(v ? [`se += ${laneSum};`] : []),
    "const ps: f32 = <f32>(1.0 / se);",
  ].join("\n");
}

/** grad = (src·k − t)·gs over the row, k a scalar (sparse: t is one-hot, fixed up at y afterwards). */
function gradFrom(classes: number, sparse: boolean, src: string, k: string): string {
  if (sparse) {
    return `const pg: f32 = ${k} * gs;
const pgv = f32x4.splat(pg);
${classLoop(classes, `v128.store(gp + off, f32x4.mul(v128.load(${src} + off), pgv));`, `store<f32>(gp + off, load<f32>(${src} + off) * pg);`)}
store<f32>(gp + (<usize>y << 2), load<f32>(gp + (<usize>y << 2)) - gs);`;
  }
  return `const kv = f32x4.splat(${k});
${classLoop(classes,
    `v128.store(gp + off, f32x4.mul(f32x4.sub(f32x4.mul(v128.load(${src} + off), kv), v128.load(tp + off)), gsv));`,
    `store<f32>(gp + off, (load<f32>(${src} + off) * ${k} - load<f32>(tp + off)) * gs);`)}`;
}

/** From logits: loss = Σ t·(lse − x) (log-softmax); grad = (softmax·Σt − t) / rows. */
function logitRow(classes: number, sparse: boolean, withGrad: boolean): string {
  const loss = sparse
    ? `lsum += <f64>w * (lse - <f64>load<f32>(xp + (<usize>y << 2)));`
    : `let st: f32 = 0;
for (let c: i32 = 0; c < C; c++) {
  const t: f32 = ${T(sparse)};
  st += t;
  lsum += <f64>w * (<f64>t * (lse - <f64>${X("xp")}));
}`;
  return `${softmaxExps(classes, withGrad ? "gp" : null)}
const lse: f64 = <f64>mx + Math.log(se);
${loss}${withGrad ? `\n${gradFrom(classes, sparse, "gp", sparse ? "ps" : "ps * st")}` : ""}`;
}

/** Fused softmax: probs = softmax(logits); loss from the clipped probs; grad wrt logits ignores the clip. */
function fusedRow(classes: number, sparse: boolean, withGrad: boolean): string {
  const loss = sparse
    ? `lsum -= <f64>w * <f64>Mathf.log(${clip("load<f32>(pp + (<usize>y << 2))")});`
    : `let st: f32 = 0;
for (let c: i32 = 0; c < C; c++) {
  const t: f32 = ${T(sparse)};
  st += t;
  lsum -= <f64>w * (<f64>t * <f64>Mathf.log(${clip(X("pp"))}));
}`;
  return `${softmaxExps(classes, "pp")}
const psv = f32x4.splat(ps);
${classLoop(classes, "v128.store(pp + off, f32x4.mul(v128.load(pp + off), psv));", "store<f32>(pp + off, load<f32>(pp + off) * ps);")}
${loss}${withGrad ? `\n${gradFrom(classes, sparse, "pp", sparse ? "<f32>1" : "st")}` : ""}`;
}

function clip(v: string): string {
  return `min<f32>(max<f32>(${v}, ${f32lit(EPS)}), ${f32lit(1 - EPS)})`;
}

/** True where clip(v) ≠ v (strictly outside the range: at the bounds the gradient still flows). */
function clipped(v: string): string {
  return `(${v} < ${f32lit(EPS)} || ${v} > ${f32lit(1 - EPS)})`;
}

function check(s: LossSpec): void {
  if (!Number.isInteger(s.perExample) || s.perExample < 1) throw new Error(`internal: bad rows per example ${s.perExample}`);
  if (!Number.isInteger(s.classes) || s.classes < 1) throw new Error(`internal: bad class count ${s.classes}`);
  if (typeof s.rows === "number" && (!Number.isInteger(s.rows) || s.rows < 1)) throw new Error(`internal: bad row count ${s.rows}`);
  if (s.fusedSoftmax && !canFuseSoftmax(s.type, s.fromLogits)) {
    throw new Error(`internal: softmax cannot be fused into ${s.type}${s.fromLogits ? " with from_logits" : ""}`);
  }
  if (s.fromLogits && (s.type === "mean_squared_error" || s.type === "mean_absolute_error")) {
    throw new Error(`internal: ${s.type} takes no from_logits`);
  }
}
