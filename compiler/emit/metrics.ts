/**
 * Emit stage: the logs' kernels (spec §4). Every value the module reports is stateful over the
 * calls since the runtime last zeroed the metric state, as Keras's metrics are over an epoch: each
 * kernel adds this batch to its f64 state words (totals, counts, confusion counts) and writes the
 * running result as f32 into the result region. Kinds:
 *   output_loss  one output's loss: the mean of its batch losses weighted by batch size (Keras's
 *                `<output>_loss` tracker)
 *   total_loss   Σ loss_weight·loss over the outputs, the same running mean (Keras's `loss`)
 *   metric       one metric of one output, on the output (the probabilities when the softmax was
 *                fused into the loss) and its target; unweighted, as Keras's `metrics`.
 * Counts are exact in f64; sums of squares and the results are f64 until the final f32 store.
 */
import { intlit, kernelParams, locals, f32lit, sizeSrc, type SizeArg } from "./code.js";
import type { KernelDef } from "./kernel.js";
import type { MetricSpec } from "../frontend/metrics.js";

/** A metric's arguments as the front end resolved them (its log name and tensors are the caller's). */
export type MetricArgs = Omit<MetricSpec, "name" | "output" | "target">;

export type LogKernelSpec =
  | { kind: "output_loss"; rows: SizeArg }
  | { kind: "total_loss"; rows: SizeArg; weights: number[] }
  /** rows: examples × positions of the output; sparse: int32 class-id targets. */
  | { kind: "metric"; rows: SizeArg; classes: number; sparse: boolean; metric: MetricArgs };

export const METRIC_LOCALS = locals("emitLogKernel", "listed", [
  "R", "C", "n", "v", "s", "r", "c", "e", "off", "yp", "yt", "d", "hits", "cls", "bi", "bv", "pv", "cnt", "tp", "fp", "fn",
  "b", "p", "T", "P", "Q", "i", "tpi", "fpi", "tpn", "fpn", "xa", "xb", "ya", "yb", "area", "dtp", "pa", "pb", "dp", "slope",
  "icpt", "ratio", "den", "mean", "tot", "raw", "acc", "ws", "wsum", "ns", "r2", "y", "pos", "lab",
]);

/** The state words (f64) a kernel of this spec keeps. */
export function logStateWords(s: LogKernelSpec): number {
  if (s.kind !== "metric") return 2;
  switch (s.metric.type) {
    case "auc": return 2 * s.metric.num_thresholds!;
    case "r2_score": return 4 * s.classes + 1;
    default: return 2;
  }
}

/** Params: l0…l{K−1} (loss kinds) or pred, target (metric); then st (its state words), out (its result), rows. */
export function emitLogKernel(s: LogKernelSpec): KernelDef {
  const R = sizeSrc(METRIC_LOCALS, s.rows, "rows");
  if (s.kind === "output_loss" || s.kind === "total_loss") {
    const terms = s.kind === "output_loss" ? ["<f64>load<f32>(l0)"] : s.weights.map((w, i) => `${f64lit(w)} * <f64>load<f32>(l${i})`);
    const inputs = s.kind === "output_loss" ? ["l0"] : s.weights.map((_, i) => `l${i}`);
    return {
      key: `log:${s.kind}:${s.rows}:${s.kind === "total_loss" ? s.weights.map(f64lit).join(",") : ""}`,
      label: s.kind === "output_loss" ? "output loss (running mean)" : "total loss (running mean)",
      params: kernelParams(METRIC_LOCALS, [...inputs, "st", "out"], s.rows),
      body: [
        `const n: f64 = <f64>${R};`,
        `const v: f64 = ${terms.join(" + ")};`,
        "store<f64>(st, load<f64>(st) + v * n);",
        "store<f64>(st, load<f64>(st, 8) + n, 8);",
        "store<f32>(out, <f32>(load<f64>(st) / load<f64>(st, 8)));",
      ].join("\n"),
    };
  }
  const m = s.metric;
  const body = [`const R: i32 = ${R};`, `const C: i32 = ${intlit(s.classes)};`, metricBody(s, m)].join("\n");
  return {
    key: `log:metric:${s.rows}:${s.classes}:${s.sparse}:${JSON.stringify(m)}`,
    label: `metric ${m.type}`,
    params: kernelParams(METRIC_LOCALS, ["pred", "target", "st", "out"], s.rows),
    body,
  };
}

function f64lit(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`internal: ${v} is not finite`);
  const t = String(v);
  return /[.eE]/.test(t) ? t : `${t}.0`;
}

/** f64 state word i (a constant or an expression). */
const W = (i: string | number): string => `(st + (<usize>(${i}) << 3))`;
const addW = (i: string | number, v: string): string => `store<f64>(${W(i)}, load<f64>(${W(i)}) + ${v});`;
const P_AT = "load<f32>(pred + (<usize>(r * C + c) << 2))";

/** y_true of element (r, c) as f64: the float target, or the one-hot row of an int32 class id. */
function targetAt(s: { sparse: boolean }): string {
  return s.sparse ? "(c == load<i32>(target + (<usize>r << 2)) ? 1.0 : 0.0)" : "<f64>load<f32>(target + (<usize>(r * C + c) << 2))";
}

/** Running mean: state [total, count] += [s, n]; out = total / count (sqrt for rmse). */
function meanTail(count: string, sqrt = false): string {
  const result = "load<f64>(st) / load<f64>(st, 8)";
  return [addW(0, "s"), addW(1, `<f64>${count}`), `store<f32>(out, <f32>(${sqrt ? `Math.sqrt(${result})` : result}));`].join("\n");
}

function metricBody(s: Extract<LogKernelSpec, { kind: "metric" }>, m: MetricArgs): string {
  switch (m.type) {
    case "binary_accuracy":
      return `let s: f64 = 0;
for (let r: i32 = 0; r < R; r++) {
  for (let c: i32 = 0; c < C; c++) {
    const yp: f64 = ${P_AT} > ${f32lit(m.threshold!)} ? 1.0 : 0.0;
    if (yp == ${targetAt(s)}) s += 1;
  }
}
${meanTail("(R * C)")}`;
    case "mean_squared_error": case "root_mean_squared_error": case "mean_absolute_error":
      return `let s: f64 = 0;
for (let r: i32 = 0; r < R; r++) {
  for (let c: i32 = 0; c < C; c++) {
    const d: f64 = <f64>${P_AT} - ${targetAt(s)};
    s += ${m.type === "mean_absolute_error" ? "Math.abs(d)" : "d * d"};
  }
}
${meanTail("(R * C)", m.type === "root_mean_squared_error")}`;
    case "categorical_accuracy": case "sparse_categorical_accuracy":
      return `let s: f64 = 0;
for (let r: i32 = 0; r < R; r++) {
${rowClass(s)}
  let bi: i32 = 0;
  let bv: f32 = load<f32>(pred + (<usize>(r * C) << 2));
  for (let c: i32 = 1; c < C; c++) {
    const yp: f32 = ${P_AT};
    if (yp > bv) { bv = yp; bi = c; }
  }
  if (bi == cls) s += 1;
}
${meanTail("R")}`;
    case "top_k_categorical_accuracy": case "sparse_top_k_categorical_accuracy":
      // TF's in_top_k: the class is in the top k when fewer than k classes score strictly higher.
      return `let s: f64 = 0;
for (let r: i32 = 0; r < R; r++) {
${rowClass(s)}
  if (cls < 0 || cls >= C) continue;
  const pv: f32 = load<f32>(pred + (<usize>(r * C + cls) << 2));
  let cnt: i32 = 0;
  for (let c: i32 = 0; c < C; c++) if (${P_AT} > pv) cnt++;
  if (pv == pv && cnt < ${intlit(m.k!)}) s += 1;
}
${meanTail("R")}`;
    case "precision": case "recall":
      return `let tp: f64 = 0;
let fp: f64 = 0;
for (let r: i32 = 0; r < R; r++) {
  for (let c: i32 = 0; c < C; c++) {
    const pos: bool = ${P_AT} > ${f32lit(m.threshold!)};
    const lab: bool = ${targetAt(s)} != 0;
    if (pos && lab) tp += 1;
    else if (${m.type === "precision" ? "pos && !lab" : "!pos && lab"}) fp += 1;
  }
}
${addW(0, "tp")}
${addW(1, "fp")}
const den: f64 = load<f64>(st) + load<f64>(st, 8);
store<f32>(out, <f32>(den == 0 ? 0.0 : load<f64>(st) / den));`;
    case "auc":
      return aucBody(s, m);
    case "r2_score":
      return r2Body(s, m);
  }
}

/** Declares `cls`: the row's class (the int32 id, or the argmax of the one-hot target, first index on ties). */
function rowClass(s: { sparse: boolean }): string {
  if (s.sparse) return "  const cls: i32 = load<i32>(target + (<usize>r << 2));";
  return `  let cls: i32 = 0;
  let yt: f32 = load<f32>(target + (<usize>(r * C) << 2));
  for (let c: i32 = 1; c < C; c++) {
    const v: f32 = load<f32>(target + (<usize>(r * C + c) << 2));
    if (v > yt) { yt = v; cls = c; }
  }`;
}

/**
 * Keras's AUC (confusion_metrics.AUC, its evenly spaced thresholds −1e-7, 1/(T−1), …, 1+1e-7):
 * each prediction (sigmoid first with from_logits; clipped to [0, 1]) goes to bucket
 * max(ceil(p·(T−1)) − 1, 0), computed in f32 as Keras does; the state keeps per-bucket positive and
 * negative counts, and tp/fp at threshold i are the counts of buckets ≥ i. The result walks the
 * thresholds from the top down with Keras's formulas (divide_no_nan: x/0 = 0).
 */
function aucBody(s: Extract<LogKernelSpec, { kind: "metric" }>, m: MetricArgs): string {
  const T = m.num_thresholds!;
  const pr = m.curve === "PR";
  const sigmoid = m.from_logits ? "p = <f32>1 / (<f32>1 + Mathf.exp(-p));\n    " : "";
  const dnn = (a: string, b: string) => `(${b} == 0 ? 0.0 : ${a} / ${b})`;
  const heights = m.summation_method === "minoring" ? "Math.min(ya, yb)" : m.summation_method === "majoring" ? "Math.max(ya, yb)" : "(ya + yb) / 2.0";
  const term = pr && m.summation_method === "interpolation"
    ? `const dtp: f64 = tpi - tpn;
    const pa: f64 = tpi + fpi;
    const pb: f64 = tpn + fpn;
    const dp: f64 = Math.max(pa - pb, 0);
    const slope: f64 = ${dnn("dtp", "dp")};
    const icpt: f64 = tpn - slope * pb;
    const ratio: f64 = pa > 0 && pb > 0 ? ${dnn("pa", "Math.max(pb, 0)")} : 1.0;
    const den: f64 = Math.max(P, 0);
    area += ${dnn("slope * (dtp + icpt * Math.log(ratio))", "den")};`
    : `const xa: f64 = ${pr ? dnn("tpi", "P") : dnn("fpi", "Q")};
    const xb: f64 = ${pr ? dnn("tpn", "P") : dnn("fpn", "Q")};
    const ya: f64 = ${pr ? dnn("tpi", "(tpi + fpi)") : dnn("tpi", "P")};
    const yb: f64 = ${pr ? dnn("tpn", "(tpn + fpn)") : dnn("tpn", "P")};
    area += (xa - xb) * ${heights};`;
  return `const T: i32 = ${intlit(T)};
for (let r: i32 = 0; r < R; r++) {
  for (let c: i32 = 0; c < C; c++) {
    let p: f32 = ${P_AT};
    ${sigmoid}p = min<f32>(max<f32>(p, 0), 1);
    let b: i32 = <i32>Mathf.ceil(p * <f32>(T - 1)) - 1;
    if (b < 0) b = 0;
    if (${targetAt(s)} != 0) ${addW("b", "1.0")}
    else ${addW("T + b", "1.0")}
  }
}
let P: f64 = 0;
let Q: f64 = 0;
for (let i: i32 = 0; i < T; i++) {
  P += load<f64>(${W("i")});
  Q += load<f64>(${W("T + i")});
}
// From the top threshold down: (tpn, fpn) are the counts at threshold i + 1, (tpi, fpi) at i.
let tpn: f64 = load<f64>(${W("T - 1")});
let fpn: f64 = load<f64>(${W("2 * T - 1")});
let area: f64 = 0;
for (let i: i32 = T - 2; i >= 0; i--) {
  const tpi: f64 = tpn + load<f64>(${W("i")});
  const fpi: f64 = fpn + load<f64>(${W("T + i")});
  {
    ${term}
  }
  tpn = tpi;
  fpn = fpi;
}
store<f32>(out, <f32>area);`;
}

/** Keras's R2Score: per column sums of y, y², (y − ŷ)² and counts; the element count for num_regressors. */
function r2Body(s: Extract<LogKernelSpec, { kind: "metric" }>, m: MetricArgs): string {
  const C = s.classes;
  const agg = m.class_aggregation === "variance_weighted_average"
    ? `ws += tot * raw;
  wsum += tot;`
    : "acc += raw;";
  const r2 = m.class_aggregation === "variance_weighted_average" ? "ws / wsum" : `acc / ${f64lit(C)}`;
  const p = m.num_regressors!;
  const adjust = p === 0 ? "" : `
const ns: f64 = load<f64>(${W(4 * C)});
if (!(${f64lit(p)} > ns - 1) && ${f64lit(p)} != ns - 1) r2 = 1.0 - (1.0 - r2) * (ns - 1.0) / (ns - ${f64lit(p)} - 1.0);`;
  return `for (let r: i32 = 0; r < R; r++) {
  for (let c: i32 = 0; c < C; c++) {
    const y: f64 = ${targetAt(s)};
    const d: f64 = y - <f64>${P_AT};
    ${addW("c", "y")}
    ${addW(`${intlit(C)} + c`, "y * y")}
    ${addW(`${intlit(2 * C)} + c`, "d * d")}
    ${addW(`${intlit(3 * C)} + c`, "1.0")}
  }
}
${addW(4 * C, "<f64>(R * C)")}
let acc: f64 = 0;
let ws: f64 = 0;
let wsum: f64 = 0;
for (let c: i32 = 0; c < C; c++) {
  const mean: f64 = load<f64>(${W("c")}) / load<f64>(${W(`${intlit(3 * C)} + c`)});
  const tot: f64 = load<f64>(${W(`${intlit(C)} + c`)}) - load<f64>(${W("c")}) * mean;
  let raw: f64 = 1.0 - load<f64>(${W(`${intlit(2 * C)} + c`)}) / tot;
  if (raw == Infinity || raw == -Infinity) raw = 0;
  ${agg}
}
let r2: f64 = ${r2};${adjust}
store<f32>(out, <f32>r2);`;
}
