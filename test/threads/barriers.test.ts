/**
 * Where threaded programs wait (threads.ts: barriersAfter): a predict made of batch-split calls
 * waits once, at its end; a train step only where one thread's share needs another's results.
 * (Whether the waits left out are safe is determinism.test.ts's job: it fails without them.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { barriersAfter, type Access } from "../../compiler/passes/threads.js";

const cnn = JSON.parse(readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));

/** The body of `<program>_t` and how many barriers it calls. */
function waits(source: string, program: string): { calls: number; barriers: number } {
  const body = source.slice(source.indexOf(`export function ${program}_t(`)).split("\n}\n")[0]!;
  return { calls: (body.match(/^ {2}if \(/gm) ?? []).length, barriers: (body.match(/barrier_\(nt, \d+\);/g) ?? []).length };
}

describe("barriers of the threaded seed CNN", () => {
  it("predict waits once; train_step five times", async () => {
    const { source } = await compile(JSON.stringify(cnn), { maxBatch: 8, threads: 2 });
    const predict = waits(source, "predict");
    expect(predict.calls).toBeGreaterThan(3);
    expect(predict.barriers).toBe(1);
    const train = waits(source, "train_step");
    // after the logits (the loss reads every row), after the loss (its gradient feeds every
    // example), before the weight gradients (column parts read every example), before the
    // optimizer (its parts read gradients other threads wrote), at the end
    expect(train.barriers).toBe(5);
    expect(train.calls).toBeGreaterThan(30);
  });
});

/** A residual block with batch normalization (ResNet-20's pattern, small). */
const resBlock = {
  format: "kiln.graph/v2", name: "res_block", seed: 5,
  inputs: [{ name: "x", shape: [6, 6, 3] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
  layers: [
    { name: "c0", op: "conv2d", filters: 8, kernel_size: 3, padding: "same", inputs: ["x"] },
    { name: "bn0", op: "batch_normalization" },
    { name: "r0", op: "activation", activation: "relu" },
    { name: "c1", op: "conv2d", filters: 8, kernel_size: 3, padding: "same" },
    { name: "bn1", op: "batch_normalization" },
    { name: "r1", op: "activation", activation: "relu" },
    { name: "c2", op: "conv2d", filters: 8, kernel_size: 3, padding: "same" },
    { name: "bn2", op: "batch_normalization" },
    { name: "add", op: "add", inputs: ["r0", "bn2"] },
    { name: "r2", op: "activation", activation: "relu" },
    { name: "gap", op: "global_average_pooling2d" },
    { name: "out", op: "dense", units: 4, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" }, optimizer: { type: "adam" } },
};

describe("barriers around batch normalization", () => {
  it("sums over the examples run on every thread, so the batch calls after them do not wait for thread 0", async () => {
    const { source } = await compile(JSON.stringify(resBlock), { maxBatch: 16, threads: 2 });
    const body = source.slice(source.indexOf("export function train_step_t(")).split("\n}\n")[0]!;
    // 1/batch and each layer's mean and variance (sums of per-example partials), in the forward pass
    expect((body.match(/^ {2}if \(true\) /gm) ?? []).length).toBeGreaterThanOrEqual(7);
    // Per normalization: two waits forward (before the mean's and the variance's sum over the
    // examples), two backward (before the sums over the examples of the mean's and the variance's
    // gradients: schedule.ts merges the zero fill and the sums accumulating into one); plus the
    // loss's, the filter gradients', the optimizer's and the end: 17. With thread 0 alone computing
    // those sums and a wait after each: 32.
    const train = waits(source, "train_step");
    expect(train.barriers).toBeLessThanOrEqual(3 * (2 + 2) + 5);
  });

  it("a predict that folds batch normalization into the convolutions at every call waits once", async () => {
    // Compiled without weights, the fold (a per-channel scale and bias from the BN weights) runs in predict.
    const { training: _t, targets: _g, ...inference } = resBlock;
    const { source } = await compile(JSON.stringify(inference), { maxBatch: 16, threads: 2 });
    expect(source).toMatch(/^ {2}if \(true\) /m);
    expect(waits(source, "predict").barriers).toBe(1);
  });
});

describe("barriersAfter", () => {
  const buf = (storage: number, write: boolean, start = storage * 1000, end = start + 100): Access => ({ storage, start, end, write });
  it("lets serial steps follow each other and batch steps follow each other through the same buffers", () => {
    expect(barriersAfter(["serial", "serial"], [[buf(1, true)], [buf(1, false), buf(2, true)]])).toEqual([false, true]);
    expect(barriersAfter(["batch", "batch"], [[buf(1, true)], [buf(1, false), buf(2, true)]])).toEqual([false, true]);
  });
  it("waits where a step reads or overwrites what another thread may have written", () => {
    expect(barriersAfter(["batch", "serial"], [[buf(1, true)], [buf(1, false)]])).toEqual([true, true]);
    expect(barriersAfter(["parts", "parts"], [[buf(1, true)], [buf(1, false)]])).toEqual([true, true]);
    expect(barriersAfter(["serial", "parts"], [[buf(1, false)], [buf(1, true)]])).toEqual([true, true]);
    // batch steps through two buffers that share bytes (laid out differently)
    expect(barriersAfter(["batch", "batch"], [[buf(1, true, 0, 100)], [buf(2, false, 50, 150)]])).toEqual([true, true]);
  });
  it("goes on without waiting where steps only share what they read", () => {
    expect(barriersAfter(["parts", "serial", "parts"], [[buf(1, false), buf(2, true)], [buf(1, false), buf(3, true)], [buf(1, false), buf(4, true)]]))
      .toEqual([false, false, true]);
  });
  it("lets any step read what a replicated step wrote, but waits before writing it again or reading its inputs' writers", () => {
    expect(barriersAfter(["replicated", "batch", "parts", "serial"], [[buf(1, true)], [buf(1, false), buf(2, true)], [buf(1, false), buf(3, true)], [buf(1, false), buf(4, true)]]))
      .toEqual([false, false, false, true]);
    // it reads what a batch step wrote on every thread; a serial step then overwrites what it wrote
    expect(barriersAfter(["batch", "replicated"], [[buf(1, true)], [buf(1, false), buf(2, true)]])).toEqual([true, true]);
    expect(barriersAfter(["replicated", "serial"], [[buf(1, true)], [buf(1, true)]])).toEqual([true, true]);
    expect(barriersAfter(["replicated", "replicated"], [[buf(1, true)], [buf(1, false), buf(2, true)]])).toEqual([false, true]);
  });
  it("remembers every step since the last barrier, not just the previous one", () => {
    // step 2 reads what step 0 wrote on any thread; step 1 in between touches something else
    expect(barriersAfter(["parts", "serial", "serial"], [[buf(1, true)], [buf(2, true)], [buf(1, false)]])).toEqual([false, true, true]);
  });
});
