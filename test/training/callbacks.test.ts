/**
 * fit's callbacks (runtime/callbacks.ts) against Keras 3's logic, on a small compiled model: the
 * monitored value comes from a user callback earlier in the list (as any metric would), so each
 * case's expected stop epoch, best epoch and rates follow by hand from Keras's code (in comments).
 * Also validation_split / validation_freq, hook order and logs, model.stopTraining and checkpoints
 * that reload and continue bit-identically.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Callback, Logs } from "../../runtime/fit.js";
import type { Model } from "../../runtime/model.js";
import { learningRate } from "../../runtime/train.js";
import { uniform } from "./helpers.js";

const GRAPH = JSON.stringify({
  format: "kiln.graph/v2", name: "cb", seed: 3,
  inputs: [{ name: "x", shape: [3] }], targets: [{ name: "y", shape: [2] }],
  layers: [{ name: "h", op: "dense", units: 4, activation: "tanh" }, { name: "d", op: "dense", units: 2 }],
  training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer: { type: "adam", learning_rate: 0.01 }, metrics: ["mean_absolute_error"] },
});
const N = 20;
const data = { x: uniform(N * 3, 11), y: uniform(N * 2, 12) };
const bits = (w: Record<string, Float32Array>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Array.from(new Uint32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)))]));

let wasm: Uint8Array, settableWasm: Uint8Array;
beforeAll(async () => {
  wasm = (await compile(GRAPH, { maxBatch: 8 })).wasm;
  settableWasm = (await compile(GRAPH, { maxBatch: 8, settableLearningRate: true })).wasm;
});

/** A user callback that puts `values[epoch]` into the logs as `score`, and keeps each epoch's weights. */
function scores(model: Model, values: number[]): Callback & { weights: Record<string, Float32Array>[] } {
  const weights: Record<string, Float32Array>[] = [];
  return {
    weights,
    onEpochEnd(epoch, logs) {
      logs.score = values[epoch]!;
      weights[epoch] = model.getWeights();
    },
  };
}

describe("early_stopping", () => {
  const cases = [
    // patience 2: e0 best 5; e1 3 better; e2 4 wait 1; e3 4 wait 2 ≥ 2 → stop after e3; best e1
    { name: "patience", values: [5, 3, 4, 4, 1, 1], opts: { patience: 2 }, ran: 4, best: 1 },
    // start_from_epoch 2, patience 1: e0, e1 ignored; e2 best 3; e3 2 better; e4 2.5 wait 1 → stop; best e3
    { name: "start_from_epoch", values: [1, 0.5, 3, 2, 2.5, 0], opts: { patience: 1, startFromEpoch: 2 }, ran: 5, best: 3 },
    // min_delta 0.5 (min): improvement needs current + 0.5 < best; e0 best 5; e1 4.7 wait 1; e2 4.6 wait 2 → stop; best e0
    { name: "min_delta", values: [5, 4.7, 4.6, 1], opts: { patience: 2, minDelta: 0.5 }, ran: 3, best: 0 },
    // max with baseline 0.9: improvements under the baseline do not reset the wait; e0 .5 (wait 1), e1 .6 (wait 2), e2 .55 wait 3 → stop; best e1
    { name: "baseline", values: [0.5, 0.6, 0.55, 0.99], opts: { patience: 2, mode: "max", baseline: 0.9 }, ran: 3, best: 1 },
    // patience 0 never stops at epoch 0 (Keras: epoch > 0); e1 worse → stop
    { name: "patience 0", values: [1, 2, 0], opts: { patience: 0 }, ran: 2, best: 0 },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: stops after epoch ${c.ran - 1} and restores epoch ${c.best}'s weights bit-exactly`, async () => {
      const model = await loadModel(wasm);
      const s = scores(model, [...c.values]);
      const h = await model.fit(data, { epochs: c.values.length, batchSize: 8, callbacks: [s, { type: "early_stopping", monitor: "score", mode: "min", restoreBestWeights: true, ...c.opts } as any] });
      expect(h.epoch).toEqual(Array.from({ length: c.ran }, (_, i) => i));
      expect(h.history.score).toEqual(c.values.slice(0, c.ran));
      expect(bits(model.getWeights())).toEqual(bits(s.weights[c.best]!));
      expect(bits(model.getWeights())).not.toEqual(bits(s.weights[c.ran - 1]!));
    });
  }

  it("without restoreBestWeights the last epoch's weights stay; a loss is minimized and accuracy maximized by mode auto", async () => {
    const model = await loadModel(wasm);
    const s = scores(model, [5, 3, 4, 4]);
    await model.fit(data, { epochs: 4, batchSize: 8, callbacks: [s, { type: "early_stopping", monitor: "score", mode: "min", patience: 1 }] });
    expect(bits(model.getWeights())).toEqual(bits(s.weights[2]!));
    await expect(model.fit(data, { callbacks: [{ type: "early_stopping", monitor: "score" }] })).rejects.toThrow(/cannot tell whether "score" should be maximized or minimized/);
    await expect(model.fit(data, { callbacks: [{ type: "early_stopping", patience: -1 }] })).rejects.toThrow(/callbacks\[0\]\.patience: expected an integer ≥ 0, got -1/);
    await expect(model.fit(data, { callbacks: [{ type: "early_stop" } as any] })).rejects.toThrow(/callbacks\[0\]\.type: unknown callback type "early_stop"/);
  });
});

describe("model_checkpoint", () => {
  it("best only saves the epochs that improved; every epoch's checkpoint reloads and continues bit-identically", async () => {
    const model = await loadModel(wasm);
    const saved: number[] = [], every: Uint8Array[] = [];
    await model.fit(data, {
      epochs: 5, batchSize: 8,
      callbacks: [
        scores(model, [3, 2, 2.5, 1, 1]),
        { type: "model_checkpoint", monitor: "score", mode: "min", saveBestOnly: true, save: (_b, { epoch }) => void saved.push(epoch) },
        { type: "model_checkpoint", save: (b) => void every.push(b) },
      ],
    });
    expect(saved).toEqual([0, 1, 3]);
    expect(every.length).toBe(5);
    const resumed = await loadModel(wasm);
    resumed.loadWeights(every[1]!); // after epochs 0 and 1
    await resumed.fit(data, { epochs: 5, initialEpoch: 2, batchSize: 8 });
    expect(Buffer.from(resumed.saveWeights()).equals(Buffer.from(model.saveWeights()))).toBe(true);
  });
});

describe("reduce_lr_on_plateau", () => {
  it("halves the rate after `patience` epochs without improvement, then cools down, never below min_lr; logs learning_rate", async () => {
    const model = await loadModel(settableWasm);
    const h = await model.fit(data, {
      epochs: 8, batchSize: 8,
      callbacks: [scores(model, [5, 5, 5, 5, 5, 5, 4, 5]), { type: "reduce_lr_on_plateau", monitor: "score", mode: "min", factor: 0.5, patience: 2, cooldown: 1, minLr: 0.003 }],
    });
    // Keras: e0 best 5; e1 wait 1; e2 wait 2 → 0.01·0.5, cooldown 1; e3 cooldown → 0 and wait 0, then (no longer in
    // cooldown) wait 1; e4 wait 2 → 0.0025, raised to min_lr 0.003; e6 4 better; e7 wait 1. logs.learning_rate is the
    // float32 rate during the epoch (before the change).
    const f = Math.fround;
    expect(h.history.learning_rate).toEqual([f(0.01), f(0.01), f(0.01), f(0.005), f(0.005), f(0.003), f(0.003), f(0.003)]);
    expect(learningRate(model)).toBe(f(0.003));
  });

  it("needs a module with a settable rate", async () => {
    const model = await loadModel(wasm);
    await expect(model.fit(data, { callbacks: [{ type: "reduce_lr_on_plateau" }] })).rejects.toThrow(/compiled in as a constant; compile it with \{ settableLearningRate: true \}/);
  });
});

describe("terminate_on_nan, stopTraining, hooks and loggers", () => {
  /** From epoch 1 on, weights so large the loss overflows. */
  const blowUp = (model: Model): Callback => ({
    onEpochBegin(epoch) {
      if (epoch === 1) model.setWeights(Object.fromEntries(Object.entries(model.getWeights()).map(([k, v]) => [k, v.map(() => 3e38)])));
    },
  });

  it("terminate_on_nan ends fit with the History so far; without it fit throws", async () => {
    const a = await loadModel(wasm);
    const h = await a.fit(data, { epochs: 4, batchSize: 8, callbacks: [blowUp(a), { type: "terminate_on_nan" }] });
    expect(h.epoch).toEqual([0]);
    const b = await loadModel(wasm);
    await expect(b.fit(data, { epochs: 4, batchSize: 8, callbacks: [blowUp(b)] })).rejects.toThrow(/the loss became (NaN|Infinity) at step 4/);
  });

  it("calls the hooks in Keras's order with Keras's logs, and model.stopTraining = true stops after that batch", async () => {
    const model = await loadModel(wasm);
    const calls: string[] = [];
    let lastBatch: Logs = {}, epochLogs: Logs = {};
    const cb: Callback = {
      onTrainBegin: (logs) => void calls.push(`train_begin ${JSON.stringify(logs)}`),
      onEpochBegin: (e, logs) => void calls.push(`epoch_begin ${e} ${JSON.stringify(logs)}`),
      onBatchBegin: (b, logs) => void calls.push(`batch_begin ${b} ${JSON.stringify(logs)}`),
      onBatchEnd: (b, logs, ctx) => {
        calls.push(`batch_end ${b}`);
        lastBatch = logs;
        if (ctx.params.steps !== 3) throw new Error("params.steps");
        if (b === 1 && calls.filter((c) => c.startsWith("epoch_begin")).length === 2) ctx.model.stopTraining = true;
      },
      onEpochEnd: (e, logs) => {
        calls.push(`epoch_end ${e}`);
        if (e === 0) epochLogs = { ...logs };
      },
      onTrainEnd: (logs) => void calls.push(`train_end ${Object.keys(logs).sort().join(",")}`),
    };
    let firstEpochLast: Logs = {};
    const h = await model.fit(data, { epochs: 3, batchSize: 8, callbacks: [cb, { onEpochEnd: (e) => { if (e === 0) firstEpochLast = lastBatch; } }] });
    expect(calls).toEqual([
      "train_begin {}",
      "epoch_begin 0 {}", "batch_begin 0 {}", "batch_end 0", "batch_begin 1 {}", "batch_end 1", "batch_begin 2 {}", "batch_end 2", "epoch_end 0",
      "epoch_begin 1 {}", "batch_begin 0 {}", "batch_end 0", "batch_begin 1 {}", "batch_end 1", "epoch_end 1",
      "train_end loss,mean_absolute_error",
    ]);
    // The last batch's logs are the epoch's running means: the epoch's figures.
    expect(firstEpochLast.loss).toBeCloseTo(epochLogs.loss!, 6);
    expect(h.epoch).toEqual([0, 1]);
  });

  it("csv_logger writes Keras's CSVLogger rows; json_logger one object per epoch", async () => {
    const model = await loadModel(wasm);
    let csv = "", json = "";
    const h = await model.fit(data, { epochs: 2, batchSize: 8, validationSplit: 0.25, callbacks: [{ type: "csv_logger", write: (t) => void (csv += t) }, { type: "json_logger", write: (t) => void (json += t) }] });
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe("epoch,loss,mean_absolute_error,val_loss,val_mean_absolute_error");
    expect(lines[1]).toBe(["0", h.history.loss![0], h.history.mean_absolute_error![0], h.history.val_loss![0], h.history.val_mean_absolute_error![0]].join(","));
    expect(json.trim().split("\n").map((l) => JSON.parse(l))[1]).toEqual({ epoch: 1, loss: h.history.loss![1], mean_absolute_error: h.history.mean_absolute_error![1], val_loss: h.history.val_loss![1], val_mean_absolute_error: h.history.val_mean_absolute_error![1] });
  });
});

describe("validation_split and validation_freq", () => {
  it("validationSplit holds out the last fraction before shuffling: the same as that part given as validationData", async () => {
    const a = await loadModel(wasm), b = await loadModel(wasm);
    // Keras: split_at = ceil(20 · 0.7) = 14
    const ha = await a.fit(data, { epochs: 3, batchSize: 4, validationSplit: 0.3 });
    const head = { x: data.x.slice(0, 14 * 3), y: data.y.slice(0, 14 * 2) }, tail = { x: data.x.slice(14 * 3), y: data.y.slice(14 * 2) };
    const hb = await b.fit(head, { epochs: 3, batchSize: 4, validationData: tail });
    expect(ha).toEqual(hb);
    expect(bits(a.getWeights())).toEqual(bits(b.getWeights()));
    await expect(a.fit(data, { validationSplit: 1 })).rejects.toThrow(/validationSplit: expected a number in \[0, 1\), got 1/);
    await expect(a.fit(data, { validationSplit: 0.2, validationData: tail })).rejects.toThrow(/not both/);
  });

  it("validationFreq: every k-th epoch or the listed ones (counting from 1, absolute); others hold NaN in History", async () => {
    const model = await loadModel(wasm);
    const h = await model.fit(data, { epochs: 4, batchSize: 8, validationSplit: 0.2, validationFreq: 2 });
    expect(h.history.val_loss!.map(Number.isNaN)).toEqual([true, false, true, false]);
    const h2 = await model.fit(data, { epochs: 6, initialEpoch: 3, batchSize: 8, validationSplit: 0.2, validationFreq: [4, 6] });
    expect(h2.history.val_loss!.map(Number.isNaN)).toEqual([false, true, false]);
    await expect(model.fit(data, { validationFreq: 0 })).rejects.toThrow(/validationFreq: expected an integer ≥ 1/);
  });
});
