/**
 * The kernel naming rule (emit/code.ts): every name a kernel body declares is a local of its
 * emitter (its `Locals`: names starting or ending with "_", or listed), so no runtime-size
 * parameter, which sizeSrc/kernelParams keep out of the locals, can shadow one. Checked on
 * kernels of every emitter; plus the checks sizeSrc and kernelParams make.
 */
import { describe, expect, it } from "vitest";
import { isLocal, kernelParams, locals, sizeSrc, type Locals } from "../../compiler/emit/code.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { emitElementwise, EW_LOCALS } from "../../compiler/emit/elementwise.js";
import { emitReduce, REDUCE_LOCALS } from "../../compiler/emit/reduce.js";
import { emitSoftmax, emitSoftmaxGrad, SOFTMAX_LOCALS } from "../../compiler/emit/softmax.js";
import { COPY_LOCALS, emitConstant, emitCopy, emitFill } from "../../compiler/emit/copy.js";
import { emitGather, emitScatterAdd, GATHER_LOCALS } from "../../compiler/emit/gather.js";
import { emitMatmul, MATMUL_LOCALS } from "../../compiler/emit/matmul.js";
import { emitLoss, emitLossEval, LOSS_LOCALS } from "../../compiler/emit/loss.js";
import { emitLogKernel, METRIC_LOCALS } from "../../compiler/emit/metrics.js";
import { DROPOUT_LOCALS, emitDropoutMask, emitRandomNormal, RANDOM_NORMAL_LOCALS } from "../../compiler/emit/dropout.js";
import { emitClipScale, emitStepScalars, emitSumSquares, emitUpdate, OPTIMIZER_LOCALS } from "../../compiler/emit/optimizer.js";
import { emitPool2d, emitPool2dGrad, POOL_LOCALS } from "../../compiler/emit/pool.js";
import {
  CONV_LOCALS, emitConv2d, emitConv2dDirect, emitConv2dGradFilter, emitConv2dGradFilterDirect, emitConv2dGradInput, type Conv2dSpec,
} from "../../compiler/emit/conv.js";
import {
  emitConv2dGradFilterWinograd, emitConv2dGradInputWinograd, emitConv2dWinograd, WINOGRAD_GRAD_INPUT_LOCALS, WINOGRAD_LOCALS,
} from "../../compiler/emit/winograd.js";
import {
  DEPTHWISE_LOCALS, emitDepthwiseConv2d, emitDepthwiseConv2dGradFilter, emitDepthwiseConv2dGradInput,
} from "../../compiler/emit/depthwise.js";
import { CHUNKS_LOCALS, emitChunkedGradFilter, emitChunkSum } from "../../compiler/emit/chunks.js";
import { emitRecurrence, emitRecurrenceGrad, RECURRENCE_LOCALS } from "../../compiler/emit/recurrence.js";
import { CACHED_ATTENTION_LOCALS, emitCachedAttention } from "../../compiler/emit/cached-attention.js";

/** Names declared by `const`/`let` (and the later names of a `const a = …, b = …` list). */
function declared(body: string): string[] {
  const names = new Set<string>();
  for (const m of body.matchAll(/\b(?:const|let)\s+([A-Za-z_]\w*)/g)) names.add(m[1]);
  for (const m of body.matchAll(/,\s*([A-Za-z_]\w*)\s*=(?!=)/g)) names.add(m[1]);
  return [...names];
}

const conv = (o: Partial<Conv2dSpec>): Conv2dSpec => ({
  h: 9, w: 9, c: 3, f: 6, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 1, padLeft: 1, oh: 9, ow: 9, ...o,
});
const X = { in: (i: number) => ({ k: "in" as const, i }) };

const CASES: [Locals, () => KernelDef[]][] = [
  [EW_LOCALS, () => [
    emitElementwise({ rows: "rt0", cols: 6, inputs: [{ div: 1 }, { div: 6 }], outputs: [{ expr: { k: "bin", op: "mul", a: X.in(0), b: { k: "un", op: "exp", a: X.in(1) } } }] }),
    emitElementwise({ rows: 3, cols: 8, inputs: [{ div: 1, mod: 8 }, { div: 1, dtype: "i32" }], outputs: [{ expr: X.in(0), accumulate: true }, { expr: X.in(1) }] }),
  ]],
  [REDUCE_LOCALS, () => (["mid", "outer"] as const).flatMap((axis) => [1, 5, 40].map((inner) =>
    emitReduce({ outer: "rt0", mid: 7, inner, axis, op: "mean", inputs: [{ div: 1 }] })))],
  [SOFTMAX_LOCALS, () => [1, 6].flatMap((inner) => [
    emitSoftmax({ outer: "rt0", mid: 5, inner }), emitSoftmaxGrad({ outer: "rt0", mid: 5, inner, log: true, accumulate: true }),
  ])],
  [COPY_LOCALS, () => [
    emitCopy({ shape: ["rt0", 3, 5], srcStrides: [15, 5, 1], dstStrides: [30, 10, 2], accumulate: true }),
    emitCopy({ shape: ["rt0", 40], srcStrides: [40, 1], dstStrides: [80, 1] }), emitFill({ n: "rt0", value: 2 }), emitConstant({ values: [0.5, -2, 3] }),
  ]],
  [GATHER_LOCALS, () => [emitGather({ rows: "rt0", dim: 6, vocab: 9 }), emitScatterAdd({ rows: "rt0", dim: 6, vocab: 9 })]],
  [CACHED_ATTENTION_LOCALS, () => [emitCachedAttention({ rows: "rt0", heads: 2, dk: 3, dv: 5, context: 7, alpha: 0.5 })]],
  [MATMUL_LOCALS, () => [
    emitMatmul({ m: "rt0", n: 70, k: 300, lda: 300, bias: true, activation: "relu", alpha: 0.5 }),
    emitMatmul({ m: 33, n: 9, k: "rt1", transA: true, transB: true, lda: 33, ldb: 500, accumulate: true }),
    emitMatmul({ m: 8, n: 12, k: 800, batch: [{ count: "rt0", strideA: 6400, strideB: 0, strideC: 96 }], relaxed: true }),
  ]],
  [LOSS_LOCALS, () => (["mean_squared_error", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"] as const)
    .flatMap((type) => [false, true].flatMap((fromLogits) => [emitLoss, emitLossEval].map((emit) =>
      emit({ type, fromLogits: fromLogits && type !== "mean_squared_error", rows: "rt0", classes: 6, perExample: 2, lossWeight: 0.5,
        fusedSoftmax: !fromLogits && type.endsWith("categorical_crossentropy") })))),
  ],
  [METRIC_LOCALS, () => [
    emitLogKernel({ kind: "output_loss", rows: "rt0" }),
    emitLogKernel({ kind: "total_loss", rows: "rt0", weights: [1, 0.5] }),
    ...(["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
      "precision", "recall", "mean_squared_error", "mean_absolute_error", "root_mean_squared_error"] as const)
      .map((type) => emitLogKernel({ kind: "metric", rows: "rt0", classes: 5, sparse: type.startsWith("sparse"), metric: { type, threshold: 0.5, k: 2 } })),
    ...(["ROC", "PR"] as const).flatMap((curve) => (["interpolation", "minoring", "majoring"] as const).map((summation_method) =>
      emitLogKernel({ kind: "metric", rows: "rt0", classes: 3, sparse: false, metric: { type: "auc", num_thresholds: 7, curve, summation_method, from_logits: true } }))),
    emitLogKernel({ kind: "metric", rows: "rt0", classes: 3, sparse: false, metric: { type: "r2_score", class_aggregation: "variance_weighted_average", num_regressors: 2 } }),
  ]],
  [DROPOUT_LOCALS, () => [emitDropoutMask({ n: "rt0", rate: 0.5, stream: 3 })]],
  [RANDOM_NORMAL_LOCALS, () => [emitRandomNormal({ n: "rt0", mean: 1, stddev: 0.5, stream: 3 })]],
  [OPTIMIZER_LOCALS, () => [
    ...(["sgd", "adam", "adamw", "rmsprop"] as const).map((type) => emitUpdate({ type, n: 9, learning_rate: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.1 })),
    emitStepScalars({ type: "adam", learning_rate: 0.1, global_clipnorm: 1 }), emitSumSquares({ n: 9 }), emitClipScale({ clipnorm: 1 }),
  ]],
  [POOL_LOCALS, () => (["max", "avg"] as const).flatMap((kind) => [
    emitPool2d({ kind, h: 8, w: 8, c: 70, ph: 2, pw: 2, sh: 2, sw: 2, padTop: 0, padLeft: 0, oh: 4, ow: 4 }),
    emitPool2dGrad({ kind, h: 9, w: 9, c: 6, ph: 4, pw: 4, sh: 4, sw: 4, padTop: 0, padLeft: 0, oh: 2, ow: 2, reluGrad: kind === "max" }),
    emitPool2dGrad({ kind, h: 7, w: 7, c: 5, ph: 3, pw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 1, oh: 4, ow: 4 }),
  ])],
  [CONV_LOCALS, () => [
    emitConv2d(conv({ c: 20, bias: true, activation: "relu" })), emitConv2dGradInput(conv({})), emitConv2dGradFilter(conv({ c: 8 })),
    emitConv2dDirect(conv({ bias: true, f: 7 })), emitConv2dDirect({ ...conv({}), pool: { ph: 2, pw: 2, poh: 4, pow: 4 } }),
    emitConv2dGradFilterDirect(conv({ f: 10 })),
  ]],
  [WINOGRAD_LOCALS, () => [
    emitConv2dWinograd(conv({ c: 5, f: 9, bias: true }), 2), emitConv2dWinograd(conv({ c: 5, f: 9 }), 4), emitConv2dGradFilterWinograd(conv({ c: 5, f: 9 })), emitConv2dGradFilterWinograd(conv({ c: 5, f: 9 }), 4),
  ]],
  [WINOGRAD_GRAD_INPUT_LOCALS, () => [emitConv2dGradInputWinograd(conv({ c: 5, f: 9 }), 2), emitConv2dGradInputWinograd(conv({ c: 5, f: 9 }), 4)]],
  [DEPTHWISE_LOCALS, () => [1, 3].flatMap((m) => {
    const s = { h: 9, w: 9, c: 6, m, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 1, padLeft: 1, oh: 9, ow: 9 };
    return [emitDepthwiseConv2d(s), emitDepthwiseConv2dGradInput(s), emitDepthwiseConv2dGradFilter({ ...s, accumulate: true })];
  })],
  [CHUNKS_LOCALS, () => [emitChunkSum({ n: 40, cols: 37, chunk: 8, accumulate: true }), emitChunkedGradFilter(emitConv2dGradFilter(conv({})), 8, 972, 1944, 648)]],
  [RECURRENCE_LOCALS, () => (["simple_rnn", "lstm", "gru_after", "gru_before"] as const).flatMap((cell) => [emitRecurrence, emitRecurrenceGrad].map((emit) =>
    emit({ cell, activation: "tanh", steps: 50, units: 3, batch: "rt0", goBackwards: true, reverseOutput: true, sequences: cell !== "lstm" })))],
];

describe("kernel naming rule", () => {
  it.each(CASES.map(([l, defs]) => [l.emitter, l, defs] as const))("every local %s declares falls under its Locals", (_, l, defs) => {
    const outside = new Set<string>();
    for (const def of defs()) for (const name of declared(def.body)) if (!isLocal(l, name)) outside.add(`${def.label}: ${name}`);
    expect([...outside]).toEqual([]);
  });

  it.each(CASES.map(([l, defs]) => [l.emitter, l, defs] as const))("no parameter of %s is a local", (_, l, defs) => {
    for (const def of defs()) for (const p of def.params) expect(isLocal(l, p.name), `${def.label}: ${p.name}`).toBe(false);
  });

  it("rejects a runtime size named like a local, whichever convention", () => {
    expect(() => emitElementwise({ rows: "_j", cols: 4, inputs: [{ div: 1 }], outputs: [{ expr: X.in(0) }] })).toThrow(/emitElementwise: runtime size "_j" collides with a kernel local/);
    expect(() => emitMatmul({ m: "ic_", n: 4, k: 4 })).toThrow(/emitMatmul: runtime size "ic_" collides with a kernel local/);
    expect(() => emitLoss({ type: "mean_squared_error", fromLogits: false, rows: "lsum", classes: 2, perExample: 1, lossWeight: 1 })).toThrow(/collides with a kernel local/);
    // keyv is declared by the dropout body (it was missing from the list before)
    expect(() => emitDropoutMask({ n: "keyv", rate: 0.5, stream: 0 })).toThrow(/emitDropoutMask: runtime size "keyv" collides with a kernel local/);
  });

  it("rejects a runtime size named like a tensor parameter", () => {
    expect(() => emitMatmul({ m: "scratch", n: 4, k: 4 })).toThrow(/emitMatmul: runtime size "scratch" collides with a tensor parameter/);
    expect(() => emitSoftmax({ outer: "y", mid: 3, inner: 1 })).toThrow(/collides with a tensor parameter/);
  });

  const L = locals("test", "listed", ["t"]);
  it("sizeSrc: integers as literals, names checked", () => {
    expect(sizeSrc(L, 0)).toBe("0");
    expect(sizeSrc(L, 12)).toBe("12");
    expect(sizeSrc(L, "rt0")).toBe("rt0");
    expect(() => sizeSrc(L, -1, "rows")).toThrow(/test: rows must be a non-negative integer, got -1/);
    expect(() => sizeSrc(L, 1.5)).toThrow(/non-negative integer/);
    expect(() => sizeSrc(L, "t")).toThrow(/collides with a kernel local/);
    expect(() => sizeSrc(L, "a b")).toThrow(/not a generated identifier/);
  });

  it("kernelParams: tensors, then each distinct runtime size in order of appearance", () => {
    expect(kernelParams(L, ["x", "y"], 3, "rt1", "rt0", "rt1")).toEqual([
      { name: "x", type: "usize" }, { name: "y", type: "usize" }, { name: "rt1", type: "i32" }, { name: "rt0", type: "i32" },
    ]);
    expect(() => kernelParams(L, ["x", "x"])).toThrow(/tensor parameter "x" appears twice/);
    expect(() => kernelParams(L, ["x"], "x")).toThrow(/runtime size "x" collides with a tensor parameter/);
    expect(() => kernelParams(L, ["x"], "t")).toThrow(/collides with a kernel local/);
  });
});
