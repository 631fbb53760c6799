/**
 * Loss kernels (compiler/emit/loss.ts) against float64 code written here: loss and metric values
 * within 1e-5 relative, gradients within 1e-5 of the analytic float64 gradient and within 1e-3 of
 * central finite differences of the float64 loss (clipped cases included: there the gradient is 0).
 * Fused-softmax gradients ignore the clip by design; the extreme case checks that documented formula.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { canFuseSoftmax, emitLoss, emitLossEval, type LossSpec } from "../../compiler/emit/loss.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { buildKernels, relErr, rng, uniform, type TestModule } from "./trk-harness.js";

const LO = Math.fround(1e-7), HI = Math.fround(1 - 1e-7);
const clip = (v: number) => Math.min(Math.max(v, LO), HI);
const isClipped = (v: number) => v < LO || v > HI;

interface Data { pred: number[]; target: number[] }
interface Case { name: string; spec: LossSpec; rows: number; gen: (r: () => number) => Data; fdStep: number; fdSkip?: boolean }
type CaseSpec = Omit<LossSpec, "perExample" | "lossWeight"> & Partial<Pick<LossSpec, "perExample" | "lossWeight">>;

const row = <T>(C: number, f: (c: number) => T): T[] => Array.from({ length: C }, (_, c) => f(c));
const softTargets = (r: () => number, C: number, total = 1) => {
  const t = row(C, () => r() + 0.05);
  const s = t.reduce((a, b) => a + b, 0);
  return t.map((v) => Math.fround((v / s) * total));
};
const ids = (r: () => number, n: number, C: number) => row(n, () => Math.floor(r() * C));

/** Sample weights: one per example (rows / perExample), with a 0 and non-integers among them. */
const sampleWeights = (r: () => number, n: number) => row(n, (i) => (i % 3 === 2 ? 0 : Math.fround(0.25 + 2 * r())));

const RAW_CASES: (Omit<Case, "spec"> & { spec: CaseSpec })[] = [
  { name: "mse", rows: 7, fdStep: 1e-6, spec: { type: "mean_squared_error", fromLogits: false, rows: "rows", classes: 3 },
    gen: (r) => ({ pred: uniform(r, 21, -2, 2), target: uniform(r, 21, -2, 2) }) },
  { name: "mse_scalar", rows: 9, fdStep: 1e-6, spec: { type: "mean_squared_error", fromLogits: false, rows: 9, classes: 1 },
    gen: (r) => ({ pred: uniform(r, 9), target: uniform(r, 9) }) },
  { name: "mae", rows: 5, fdStep: 1e-6, spec: { type: "mean_absolute_error", fromLogits: false, rows: 5, classes: 4 },
    gen: (r) => { const t = uniform(r, 20); const p = uniform(r, 20); p[3] = t[3]!; p[17] = t[17]!; return { pred: p, target: t }; } },
  { name: "bce", rows: 6, fdStep: 1e-9, spec: { type: "binary_crossentropy", fromLogits: false, rows: 6, classes: 2 },
    gen: (r) => { const p = uniform(r, 12, 0.02, 0.98); p[1] = 0; p[4] = 1; p[7] = Math.fround(1e-9); p[9] = Math.fround(0.5); return { pred: p, target: row(12, (i) => (i % 5 === 2 ? Math.fround(0.3) : i % 2)) }; } },
  { name: "bce_logits", rows: 13, fdStep: 1e-6, spec: { type: "binary_crossentropy", fromLogits: true, rows: "rows", classes: 1 },
    gen: (r) => ({ pred: [...uniform(r, 10, -4, 4), 0, 25, -25], target: row(13, (i) => (i % 4 === 3 ? Math.fround(0.7) : (i * 7) % 2)) }) },
  { name: "cce", rows: 5, fdStep: 1e-8, spec: { type: "categorical_crossentropy", fromLogits: false, rows: 5, classes: 4 },
    gen: (r) => ({ pred: uniform(r, 20, 0.1, 2), target: row(5, () => softTargets(r, 4)).flat() }) },
  { name: "cce_clipped", rows: 3, fdStep: 1e-9, spec: { type: "categorical_crossentropy", fromLogits: false, rows: 3, classes: 3 },
    gen: () => ({ pred: [1, 0, 0, 0.5, 0, 0.5, 0.2, 0.3, 0.6], target: [1, 0, 0, 0, 1, 0, 0.25, 0.25, 0.5] }) },
  { name: "sparse", rows: 6, fdStep: 1e-8, spec: { type: "sparse_categorical_crossentropy", fromLogits: false, rows: 6, classes: 5 },
    gen: (r) => ({ pred: uniform(r, 30, 0.05, 1.5), target: ids(r, 6, 5) }) },
  { name: "sparse_clipped", rows: 3, fdStep: 1e-9, spec: { type: "sparse_categorical_crossentropy", fromLogits: false, rows: 3, classes: 3 },
    gen: () => ({ pred: [0.5, 0, 0.5, 0, 2, 0, 0.3, 0.3, 0.4], target: [1, 1, 0] }) },
  { name: "cce_logits", rows: 4, fdStep: 1e-7, spec: { type: "categorical_crossentropy", fromLogits: true, rows: 4, classes: 5 },
    gen: (r) => ({ pred: uniform(r, 20, -3, 3), target: row(4, (i) => softTargets(r, 5, i === 2 ? 1.5 : 1)).flat() }) },
  { name: "sparse_logits", rows: 10, fdStep: 1e-7, spec: { type: "sparse_categorical_crossentropy", fromLogits: true, rows: "rows", classes: 7 },
    gen: (r) => ({ pred: uniform(r, 70, -3, 3), target: ids(r, 10, 7) }) },
  { name: "cce_logits8", rows: 3, fdStep: 1e-7, spec: { type: "categorical_crossentropy", fromLogits: true, rows: 3, classes: 8 },
    gen: (r) => ({ pred: uniform(r, 24, -5, 5), target: row(3, () => softTargets(r, 8)).flat() }) },
  { name: "fused_cce4", rows: 6, fdStep: 1e-7, spec: { type: "categorical_crossentropy", fromLogits: false, fusedSoftmax: true, rows: 6, classes: 4 },
    gen: (r) => ({ pred: uniform(r, 24, -3, 3), target: row(6, () => softTargets(r, 4)).flat() }) },
  { name: "fused_sparse", rows: 8, fdStep: 1e-7, spec: { type: "sparse_categorical_crossentropy", fromLogits: false, fusedSoftmax: true, rows: 8, classes: 10 },
    gen: (r) => ({ pred: uniform(r, 80, -2, 2), target: ids(r, 8, 10) }) },
  { name: "fused_cce", rows: 5, fdStep: 1e-7, spec: { type: "categorical_crossentropy", fromLogits: false, fusedSoftmax: true, rows: "rows", classes: 3 },
    gen: (r) => ({ pred: uniform(r, 15, -2, 2), target: row(5, () => softTargets(r, 3)).flat() }) },
  { name: "fused_extreme", rows: 2, fdStep: 1e-7, fdSkip: true, spec: { type: "sparse_categorical_crossentropy", fromLogits: false, fusedSoftmax: true, rows: 2, classes: 3 },
    gen: () => ({ pred: [30, 0, -30, 0, 30, -30], target: [0, 2] }) },
];

// Every case with sample weights and a loss weight too; a few with several rows per example.
const CASES: Case[] = RAW_CASES.map((c, i) => ({ ...c, spec: { perExample: c.rows % 2 === 0 && i % 2 === 0 ? 2 : 1, lossWeight: i % 3 === 0 ? 1 : 0.75, ...c.spec } }));

interface Ref { loss: number; grad: number[]; probs?: number[] }

/** The loss (and its analytic gradient, and the model output) in float64. */
function reference(spec: LossSpec, R: number, d: Data, sw?: number[]): Ref {
  const w = (r: number) => (sw ? sw[Math.floor(r / spec.perExample)]! : 1);
  const gw = (r: number) => w(r) * spec.lossWeight;
  const C = spec.classes, N = R * C;
  const sparse = spec.type === "sparse_categorical_crossentropy";
  const tOf = (r: number, c: number) => (sparse ? (d.target[r] === c ? 1 : 0) : d.target[r * C + c]!);
  const grad = new Array<number>(N).fill(0);
  let loss = 0;
  let output = d.pred;
  if (spec.type === "mean_squared_error" || spec.type === "mean_absolute_error") {
    d.pred.forEach((p, i) => {
      const e = p - d.target[i]!, r = Math.floor(i / C);
      loss += w(r) * (spec.type === "mean_squared_error" ? e * e : Math.abs(e));
      grad[i] = gw(r) * (spec.type === "mean_squared_error" ? (2 * e) / N : Math.sign(e) / N);
    });
    loss /= N;
  } else if (spec.type === "binary_crossentropy") {
    d.pred.forEach((x, i) => {
      const z = d.target[i]!, r = Math.floor(i / C);
      if (spec.fromLogits) {
        loss += w(r) * (Math.max(x, 0) - x * z + Math.log1p(Math.exp(-Math.abs(x))));
        grad[i] = gw(r) * (1 / (1 + Math.exp(-x)) - z) / N;
      } else {
        const pc = clip(x);
        loss -= w(r) * (z * Math.log(pc) + (1 - z) * Math.log(1 - pc));
        grad[i] = isClipped(x) ? 0 : gw(r) * (x - z) / (x * (1 - x)) / N;
      }
    });
    loss /= N;
  } else {
    const probs: number[] = [];
    for (let r = 0; r < R; r++) {
      const x = d.pred.slice(r * C, r * C + C), t = row(C, (c) => tOf(r, c));
      const st = t.reduce((a, b) => a + b, 0);
      if (spec.fromLogits || spec.fusedSoftmax) {
        const m = Math.max(...x), se = x.reduce((a, v) => a + Math.exp(v - m), 0), lse = m + Math.log(se);
        const p = x.map((v) => Math.exp(v - lse));
        probs.push(...p);
        loss += w(r) * (spec.fusedSoftmax ? -t.reduce((a, tc, c) => a + tc * Math.log(clip(p[c]!)), 0) : t.reduce((a, tc, c) => a + tc * (lse - x[c]!), 0));
        p.forEach((pc, c) => (grad[r * C + c] = gw(r) * (pc * st - t[c]!) / R));
      } else {
        const s = x.reduce((a, b) => a + b, 0), q = x.map((v) => v / s);
        loss -= w(r) * t.reduce((a, tc, c) => a + tc * Math.log(clip(q[c]!)), 0);
        const g = q.map((qc, c) => (isClipped(qc) ? 0 : -t[c]! / qc));
        const G = g.reduce((a, gc, c) => a + gc * q[c]!, 0);
        g.forEach((gc, c) => (grad[r * C + c] = gw(r) * (gc - G) / s / R));
      }
    }
    loss /= R;
    if (spec.fusedSoftmax) output = probs;
  }
  return { loss, grad, probs: spec.fusedSoftmax ? output : undefined };
}

function near(got: number, want: number, tol: number): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(tol * Math.max(Math.abs(want), 1e-6));
}

describe("loss kernels", () => {
  let mod: TestModule;
  beforeAll(async () => {
    const kernels: Record<string, KernelDef> = {};
    for (const c of CASES) {
      kernels[`${c.name}_train`] = emitLoss(c.spec);
      kernels[`${c.name}_eval`] = emitLossEval(c.spec);
    }
    mod = await buildKernels(kernels, 4);
  });

  for (const c of CASES) {
    it(`${c.name}: weighted loss and gradient (${c.spec.perExample} row(s) per example, loss weight ${c.spec.lossWeight})`, () => {
      mod.reset();
      const d = c.gen(rng(c.name.length * 31 + 7));
      const C = c.spec.classes, N = c.rows * C;
      const sparse = c.spec.type === "sparse_categorical_crossentropy";
      const dyn = typeof c.spec.rows === "string" ? [c.rows] : [];
      const pred = mod.putF32(d.pred), target = sparse ? mod.putI32(d.target) : mod.putF32(d.target);
      const nOut = 1;
      const weights = sampleWeights(rng(c.name.length), c.rows / c.spec.perExample).map(Math.fround);
      const sw = mod.putF32(weights);
      const grad = mod.alloc(N * 4), out = mod.alloc(nOut * 4), probs = mod.alloc(N * 4);
      const extra = c.spec.fusedSoftmax ? [probs] : [];
      mod.fn[`${c.name}_train`]!(pred, target, sw, grad, out, ...extra, ...dyn);
      const ref = reference(c.spec, c.rows, d, weights);
      const got = mod.f32(out, nOut);
      // Keras's sum_over_batch_size: the weighted sum divided by the rows, not by the sum of the weights.
      near(got[0]!, ref.loss, 1e-6);
      const g = mod.f32(grad, N).slice();
      expect(relErr(g, ref.grad)).toBeLessThan(1e-5);
      if (ref.probs) expect(relErr(mod.f32(probs, N), ref.probs)).toBeLessThan(1e-6);
      if (!c.fdSkip) {
        // Central differences of the float64 loss wrt each model input (logits when fused).
        const fd = d.pred.map((v, i) => {
          const h = c.fdStep * Math.max(1, Math.abs(v));
          const at = (x: number) => c.spec.lossWeight * reference(c.spec, c.rows, { ...d, pred: d.pred.map((p, j) => (j === i ? x : p)) }, weights).loss;
          return (at(v + h) - at(v - h)) / (2 * h);
        });
        expect(relErr(g, fd)).toBeLessThan(1e-3);
        expect(relErr(ref.grad, fd)).toBeLessThan(1e-4);
      }
      // The eval form writes the same loss and metrics and no gradient.
      const out2 = mod.alloc(nOut * 4);
      mod.fn[`${c.name}_eval`]!(pred, target, sw, out2, ...extra, ...dyn);
      expect(Array.from(mod.f32(out2, nOut))).toEqual(Array.from(got));
    });
  }

  it("clipped probabilities get exactly zero gradient", () => {
    mod.reset();
    const c = CASES.find((k) => k.name === "bce")!;
    const d = c.gen(rng(0));
    const grad = mod.alloc(48), out = mod.alloc(12), ones = mod.putF32([1, 1, 1, 1, 1, 1]);
    mod.fn.bce_train!(mod.putF32(d.pred), mod.putF32(d.target), ones, grad, out);
    const g = mod.f32(grad, 12);
    expect([g[1], g[4], g[7]]).toEqual([0, 0, 0]);
    expect(g[0]).not.toBe(0);
    const s = CASES.find((k) => k.name === "sparse_clipped")!;
    const sg = mod.alloc(36);
    mod.fn.sparse_clipped_train!(mod.putF32(s.gen(rng(0)).pred), mod.putI32([1, 1, 0]), ones, sg, mod.alloc(8));
    expect(Array.from(mod.f32(sg, 6), Math.abs)).toEqual([0, 0, 0, 0, 0, 0]); // row 0: q_y = 0 clipped; row 1: q_y = 1 clipped
  });

  it("fusion is offered only for the cross-entropies without logits", () => {
    expect(canFuseSoftmax("sparse_categorical_crossentropy", false)).toBe(true);
    expect(canFuseSoftmax("categorical_crossentropy", true)).toBe(false);
    expect(canFuseSoftmax("binary_crossentropy", false)).toBe(false);
    expect(() => emitLoss({ type: "binary_crossentropy", fromLogits: false, fusedSoftmax: true, rows: 2, classes: 1, perExample: 1, lossWeight: 1 })).toThrow(/fused/);
    expect(() => emitLoss({ type: "mean_squared_error", fromLogits: false, rows: "R", classes: 1, perExample: 1, lossWeight: 1 })).toThrow(/collides/);
    // Only generated identifiers may name a runtime size: anything else never reaches the source.
    expect(() => emitLoss({ type: "mean_squared_error", fromLogits: false, rows: "n); abort(", classes: 1, perExample: 1, lossWeight: 1 })).toThrow(/identifier/);
    expect(() => emitLoss({ type: "mean_squared_error", fromLogits: true, rows: 2, classes: 1, perExample: 1, lossWeight: 1 })).toThrow(/from_logits/);
  });
});
