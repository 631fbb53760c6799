/**
 * Metrics computed in the module (issue 21 item 4): every metric against Keras's documented
 * examples (the docstrings of keras/src/metrics/*.py give exact values), against float64 code
 * written here on hand-made data evaluated in several chunks (the state accumulates over calls:
 * 1e-6 relative), and statefulness in fit (running values per batch, reset per epoch).
 * The graphs pass the input through unchanged (a linear activation), so the data are the predictions.
 */
import { describe, expect, test } from "vitest";
import { build, rng } from "../compile/harness.js";

type Metric = string | Record<string, unknown>;

/** An identity graph: input p of `shape` is the output; y the target; `loss` on it. */
function identity(shape: number[], target: { shape: number[]; dtype?: string }, loss: string, metrics: Metric[]) {
  return {
    format: "kiln.graph/v2", name: "metrics", inputs: [{ name: "p", shape }],
    targets: [{ name: "y", ...target }],
    layers: [{ name: "out", op: "activation", activation: "linear" }],
    training: { loss: { type: loss, output: "out", target: "y" }, optimizer: { type: "sgd" }, metrics },
  };
}

const f32 = (a: number[]) => new Float32Array(a);
const near = (got: number, want: number, rel = 1e-6) => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.max(Math.abs(want), 1e-30));

describe("Keras's documented examples", () => {
  // [metric, y_true, y_pred, per-example output shape, expected (the docstring's value)]
  const DENSE: [Metric, number[], number[], number[], number][] = [
    ["binary_accuracy", [1, 1, 0, 0], [0.98, 1, 0, 0.6], [1], 0.75],
    ["categorical_accuracy", [0, 0, 1, 0, 1, 0], [0.1, 0.9, 0.8, 0.05, 0.95, 0], [3], 0.5],
    [{ type: "top_k_categorical_accuracy", k: 1 }, [0, 0, 1, 0, 1, 0], [0.1, 0.9, 0.8, 0.05, 0.95, 0], [3], 0.5],
    ["precision", [0, 1, 1, 1], [1, 0, 1, 1], [1], 0.6666667],
    ["recall", [0, 1, 1, 1], [1, 0, 1, 1], [1], 0.6666667],
    [{ type: "auc", num_thresholds: 3 }, [0, 0, 1, 1], [0, 0.5, 0.3, 0.9], [1], 0.75],
    ["mean_squared_error", [0, 1, 0, 0], [1, 1, 0, 0], [2], 0.25],
    ["mean_absolute_error", [0, 1, 0, 0], [1, 1, 0, 0], [2], 0.25],
    ["root_mean_squared_error", [0, 1, 0, 0], [1, 1, 0, 0], [2], 0.5],
    ["r2_score", [1, 4, 3], [2, 4, 4], [1], 0.57142854],
  ];
  test.each(DENSE)("%j", async (metric, y, p, shape, want) => {
    const { model } = await build(identity(shape, { shape }, "mean_squared_error", [metric]));
    const r = model.evaluate({ p: f32(p), y: f32(y) });
    const name = typeof metric === "string" ? metric : String(metric.type);
    near(r.metrics[name]!, want, 1e-6);
  });

  const SPARSE: [Metric, number[], number[], number][] = [
    ["sparse_categorical_accuracy", [2, 1], [0.1, 0.6, 0.3, 0.05, 0.95, 0], 0.5],
    [{ type: "sparse_top_k_categorical_accuracy", k: 1 }, [2, 1], [0.1, 0.9, 0.8, 0.05, 0.95, 0], 0.5],
  ];
  test.each(SPARSE)("%j", async (metric, y, p, want) => {
    const { model } = await build(identity([3], { shape: [], dtype: "int32" }, "sparse_categorical_crossentropy", [metric]));
    const r = model.evaluate({ p: f32(p), y: new Int32Array(y) });
    near(r.metrics[typeof metric === "string" ? metric : String(metric.type)]!, want);
  });
});

// ------------------------------------------------------------------ float64 references (Keras's formulas)

const argmax = (v: number[]) => v.reduce((b, x, i) => (x > v[b]! ? i : b), 0);
const rows = (a: number[], c: number) => Array.from({ length: a.length / c }, (_, r) => a.slice(r * c, r * c + c));
const dnn = (a: number, b: number) => (b === 0 ? 0 : a / b);

function refMean(type: string, y: number[], p: number[], c: number, args: Record<string, number>): number {
  switch (type) {
    case "binary_accuracy": return p.filter((v, i) => (v > Math.fround(args.threshold ?? 0.5) ? 1 : 0) === y[i]).length / p.length;
    case "mean_squared_error": return p.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / p.length;
    case "root_mean_squared_error": return Math.sqrt(p.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / p.length);
    case "mean_absolute_error": return p.reduce((s, v, i) => s + Math.abs(v - y[i]!), 0) / p.length;
    case "categorical_accuracy": return rows(p, c).filter((r, i) => argmax(r) === argmax(rows(y, c)[i]!)).length / (p.length / c);
    case "top_k_categorical_accuracy":
      // tf.math.in_top_k: fewer than k classes score strictly higher than the target's class.
      return rows(p, c).filter((r, i) => { const cls = argmax(rows(y, c)[i]!); return r.filter((v) => v > r[cls]!).length < args.k!; }).length / (p.length / c);
    case "precision": case "recall": {
      let tp = 0, other = 0;
      p.forEach((v, i) => {
        const pos = v > Math.fround(args.thresholds ?? 0.5), lab = y[i] !== 0;
        if (pos && lab) tp++;
        else if (type === "precision" ? pos && !lab : !pos && lab) other++;
      });
      return dnn(tp, tp + other);
    }
  }
  throw new Error(type);
}

/** keras.metrics.AUC: thresholds [−ε, 1/(T−1), …, 1+ε]; y_pred > threshold is positive. */
function refAuc(y: number[], p: number[], o: { num_thresholds?: number; curve?: string; summation_method?: string; from_logits?: boolean }): number {
  const T = o.num_thresholds ?? 200;
  const thr = [-1e-7, ...Array.from({ length: T - 2 }, (_, i) => (i + 1) / (T - 1)), 1 + 1e-7];
  const pred = p.map((v) => Math.min(Math.max(o.from_logits ? Math.fround(1 / (1 + Math.exp(-v))) : v, 0), 1));
  const tp = thr.map((t) => pred.filter((v, i) => v > t && y[i] !== 0).length);
  const fp = thr.map((t) => pred.filter((v, i) => v > t && y[i] === 0).length);
  const P = y.filter((v) => v !== 0).length, N = y.length - P;
  const fn = tp.map((v) => P - v), tn = fp.map((v) => N - v);
  let area = 0;
  const method = o.summation_method ?? "interpolation";
  for (let i = 0; i < T - 1; i++) {
    if (o.curve === "PR" && method === "interpolation") {
      const dtp = tp[i]! - tp[i + 1]!, pa = tp[i]! + fp[i]!, pb = tp[i + 1]! + fp[i + 1]!;
      const slope = dnn(dtp, Math.max(pa - pb, 0)), icpt = tp[i + 1]! - slope * pb;
      const ratio = pa > 0 && pb > 0 ? dnn(pa, Math.max(pb, 0)) : 1;
      area += dnn(slope * (dtp + icpt * Math.log(ratio)), Math.max(tp[i + 1]! + fn[i + 1]!, 0));
      continue;
    }
    const x = (j: number) => (o.curve === "PR" ? dnn(tp[j]!, tp[j]! + fn[j]!) : dnn(fp[j]!, fp[j]! + tn[j]!));
    const yv = (j: number) => (o.curve === "PR" ? dnn(tp[j]!, tp[j]! + fp[j]!) : dnn(tp[j]!, tp[j]! + fn[j]!));
    const h = method === "minoring" ? Math.min(yv(i), yv(i + 1)) : method === "majoring" ? Math.max(yv(i), yv(i + 1)) : (yv(i) + yv(i + 1)) / 2;
    area += (x(i) - x(i + 1)) * h;
  }
  return area;
}

/** keras.metrics.R2Score over the columns of [n, c]. */
function refR2(y: number[], p: number[], c: number, o: { class_aggregation?: string; num_regressors?: number }): number {
  const cols = Array.from({ length: c }, (_, j) => {
    const yt = y.filter((_, i) => i % c === j), yp = p.filter((_, i) => i % c === j);
    const mean = yt.reduce((a, b) => a + b, 0) / yt.length;
    const tot = yt.reduce((a, v) => a + (v - mean) ** 2, 0), res = yt.reduce((a, v, i) => a + (v - yp[i]!) ** 2, 0);
    const raw = 1 - res / tot;
    return { tot, raw: Number.isFinite(raw) || Number.isNaN(raw) ? raw : 0 };
  });
  let r2 = o.class_aggregation === "variance_weighted_average"
    ? cols.reduce((a, k) => a + k.tot * k.raw, 0) / cols.reduce((a, k) => a + k.tot, 0)
    : cols.reduce((a, k) => a + k.raw, 0) / c;
  const n = y.length, k = o.num_regressors ?? 0;
  if (k !== 0 && !(k > n - 1) && k !== n - 1) r2 = 1 - ((1 - r2) * (n - 1)) / (n - k - 1);
  return r2;
}

describe("every metric against float64 on hand-made data, accumulated over chunks", () => {
  const C = 5, N = 13; // evaluate in chunks of 4: 4 + 4 + 4 + 1 examples
  const next = rng(2101);
  const probs = Array.from({ length: N * C }, () => Math.fround(next()));
  probs[7] = 0; probs[8] = 1; probs[9] = 0.5; probs[10] = Math.fround(0.25); // bucket and threshold edges
  const classes = Array.from({ length: N }, () => Math.floor(next() * C));
  const onehot = classes.flatMap((k) => Array.from({ length: C }, (_, c) => (c === k ? 1 : 0)));
  const multi = Array.from({ length: N * C }, () => (next() < 0.4 ? 1 : 0));
  const logits = Array.from({ length: N * C }, () => Math.fround(next() * 8 - 4));
  const reg = Array.from({ length: N * 3 }, () => Math.fround(next() * 4 - 2));
  const regT = reg.map((v, i) => Math.fround(v * 0.7 + (i % 3) + next() * 0.5));

  const cases: [Metric, number[], number[], () => number][] = [
    ["binary_accuracy", multi, probs, () => refMean("binary_accuracy", multi, probs, C, {})],
    [{ type: "binary_accuracy", threshold: 0.3 }, multi, probs, () => refMean("binary_accuracy", multi, probs, C, { threshold: 0.3 })],
    ["categorical_accuracy", onehot, probs, () => refMean("categorical_accuracy", onehot, probs, C, {})],
    ["top_k_categorical_accuracy", onehot, probs, () => refMean("top_k_categorical_accuracy", onehot, probs, C, { k: 5 })],
    [{ type: "top_k_categorical_accuracy", k: 2 }, onehot, probs, () => refMean("top_k_categorical_accuracy", onehot, probs, C, { k: 2 })],
    ["precision", multi, probs, () => refMean("precision", multi, probs, C, {})],
    [{ type: "recall", thresholds: 0.7 }, multi, probs, () => refMean("recall", multi, probs, C, { thresholds: 0.7 })],
    ["mean_squared_error", multi, probs, () => refMean("mean_squared_error", multi, probs, C, {})],
    ["mean_absolute_error", multi, probs, () => refMean("mean_absolute_error", multi, probs, C, {})],
    ["root_mean_squared_error", multi, probs, () => refMean("root_mean_squared_error", multi, probs, C, {})],
    ["auc", multi, probs, () => refAuc(multi, probs, {})],
    [{ type: "auc", curve: "PR" }, multi, probs, () => refAuc(multi, probs, { curve: "PR" })],
    [{ type: "auc", num_thresholds: 11, summation_method: "minoring" }, multi, probs, () => refAuc(multi, probs, { num_thresholds: 11, summation_method: "minoring" })],
    [{ type: "auc", num_thresholds: 11, curve: "PR", summation_method: "majoring" }, multi, probs, () => refAuc(multi, probs, { num_thresholds: 11, curve: "PR", summation_method: "majoring" })],
    [{ type: "auc", from_logits: true, num_thresholds: 50 }, multi, logits, () => refAuc(multi, logits, { from_logits: true, num_thresholds: 50 })],
  ];
  test.each(cases)("%j", async (metric, y, p, want) => {
    const { model } = await build(identity([C], { shape: [C] }, "mean_squared_error", [metric]));
    const r = model.evaluate({ p: f32(p), y: f32(y) }, { batchSize: 4 });
    const name = typeof metric === "string" ? metric : String(metric.type);
    near(r.metrics[name]!, want());
  });

  test("sparse accuracies (int32 class ids), several chunks", async () => {
    const { model } = await build(identity([C], { shape: [], dtype: "int32" }, "sparse_categorical_crossentropy",
      ["accuracy", { type: "sparse_top_k_categorical_accuracy", k: 2, name: "top2" }, "sparse_top_k_categorical_accuracy"]));
    const r = model.evaluate({ p: f32(probs), y: new Int32Array(classes) }, { batchSize: 4 });
    near(r.metrics.accuracy!, refMean("categorical_accuracy", onehot, probs, C, {}));
    near(r.metrics.top2!, refMean("top_k_categorical_accuracy", onehot, probs, C, { k: 2 }));
    near(r.metrics.sparse_top_k_categorical_accuracy!, 1); // k = 5 of 5 classes
  });

  test.each([
    [{}], [{ class_aggregation: "variance_weighted_average" }], [{ num_regressors: 2 }],
  ] as [Record<string, unknown>][])("r2_score %j over [3] outputs", async (args) => {
    const { model } = await build(identity([3], { shape: [3] }, "mean_squared_error", [{ type: "r2_score", ...args }]));
    const r = model.evaluate({ p: f32(reg), y: f32(regT) }, { batchSize: 4 });
    near(r.metrics.r2_score!, refR2(regT, reg, 3, args as any));
  });

  test("the same metric twice gets Keras's _1 suffix; a name renames it", async () => {
    const { model } = await build(identity([C], { shape: [C] }, "mean_squared_error", ["auc", { type: "auc", curve: "PR" }, { type: "auc", curve: "PR", name: "pr_auc" }]));
    expect(model.manifest.training!.metrics).toEqual(["auc", "auc_1", "pr_auc"]);
    const r = model.evaluate({ p: f32(probs), y: f32(multi) });
    near(r.metrics.auc!, refAuc(multi, probs, {}));
    near(r.metrics.auc_1!, refAuc(multi, probs, { curve: "PR" }));
    expect(r.metrics.pr_auc).toBe(r.metrics.auc_1);
  });
});

describe("stateful over an epoch", () => {
  test("fit reports running figures per batch and starts afresh each epoch; trainStep reports its batch", async () => {
    // A frozen dense layer with the identity kernel: training changes nothing, so every epoch sees the same predictions.
    const graph = {
      format: "kiln.graph/v2", name: "frozen", inputs: [{ name: "p", shape: [2] }], targets: [{ name: "y", shape: [2] }],
      layers: [{ name: "out", op: "dense", units: 2, trainable: false }],
      training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { type: "sgd" }, metrics: ["precision", "auc", "mean_absolute_error"] },
    };
    const { model } = await build(graph);
    model.setWeights({ "out/kernel": f32([1, 0, 0, 1]), "out/bias": f32([0, 0]) });
    const next = rng(7);
    const p = Array.from({ length: 20 }, () => Math.fround(next())), y = Array.from({ length: 20 }, () => (next() < 0.5 ? 1 : 0));
    const batches: Record<string, number>[] = [];
    const h = await model.fit({ p: f32(p), y: f32(y) }, { epochs: 2, batchSize: 3, shuffle: false, onBatchEnd: (_, logs) => void batches.push({ ...logs }) });
    expect(batches).toHaveLength(8); // 4 batches (3, 3, 3, 1 examples) per epoch
    for (let b = 0; b < 4; b++) {
      const seen = Math.min(2 * 3 * (b + 1), 20);
      const ys = y.slice(0, seen), ps = p.slice(0, seen);
      near(batches[b]!.precision!, refMean("precision", ys, ps, 2, {}));
      near(batches[b]!.auc!, refAuc(ys, ps, {}));
      near(batches[b]!.mean_absolute_error!, refMean("mean_absolute_error", ys, ps, 2, {}));
      expect(batches[b + 4]).toEqual(batches[b]); // reset at the epoch's start
    }
    expect(h.history.auc).toEqual([batches[3]!.auc, batches[7]!.auc]);
    const one = model.trainStep({ p: f32(p.slice(0, 4)), y: f32(y.slice(0, 4)) });
    near(one.metrics.precision!, refMean("precision", y.slice(0, 4), p.slice(0, 4), 2, {}));
  });
});
