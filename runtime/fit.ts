/**
 * Runtime training loop: epochs of seeded-shuffled batches through train_step, epoch figures as
 * means weighted by batch size, validation through evaluate. Same seed, same data, same options:
 * bit-identical weights. A non-finite loss stops training with a KilnError naming the step (the
 * step itself undone), and
 * the loop yields to the event loop every `yieldEvery` ms so a browser page stays responsive.
 */
import { KilnError } from "./errors.js";
import type { Feed, Feeds } from "./feeds.js";
import { Rng } from "./rng.js";
import type { Model, StepResult } from "./model.js";
import { checkCount, checkData, trainRows } from "./train.js";

/** Flat Keras-style logs: `loss`, each metric by name, and `val_`-prefixed ones after validation. */
export type Logs = Record<string, number>;

export interface FitOptions {
  /** The epoch index to stop before, as Keras counts: epochs `initialEpoch` … `epochs − 1` run. */
  epochs?: number;
  /**
   * The epoch to start at (Keras `initial_epoch`, default 0): resuming a fit that stopped after k
   * epochs with `initialEpoch: k` (and the weights and optimizer state saved then) gives the same
   * weights, bit for bit, as never stopping — each epoch's shuffle is seeded by its absolute index.
   */
  initialEpoch?: number;
  /** At most the model's maxBatch (default 32 or maxBatch if lower); the last, partial batch is included. */
  batchSize?: number;
  /** Reorders the examples every epoch, seeded by manifest.seed and the (absolute) epoch index. */
  shuffle?: boolean;
  validationData?: Feeds;
  /** `step` counts batches of this fit from 0. */
  onBatchEnd?(step: number, logs: Logs): void | Promise<void>;
  /** `epoch` is the absolute index, from `initialEpoch` (counting from 0). */
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  /** Milliseconds of training between yields to the event loop (default 50; 0: after every batch). */
  yieldEvery?: number;
  /**
   * On a non-finite loss, re-run that step from the state before it and name the first layer whose
   * output went non-finite (needs manifest.training.layerOutputs).
   */
  debugNaN?: boolean;
}

export interface History {
  /** The epochs run, by absolute index: `initialEpoch` … `epochs − 1`. */
  epoch: number[];
  /** Per-epoch series by log name: `loss`, metrics, `val_loss`, `val_<metric>`. */
  history: Record<string, number[]>;
}

/** Shuffle stream of the seed's Rng family (weights use stream 0). */
const SHUFFLE_STREAM = 1;

export async function fit(model: Model, data: Feeds, opts: FitOptions = {}): Promise<History> {
  // Two fits on one model would interleave their steps (each awaits between batches).
  if (model.fitting) throw new KilnError({ code: "busy", path: "fit", message: "this model is already training (a fit() has not finished); await it before starting another" });
  model.fitting = true;
  try {
    return await fitLoop(model, data, opts);
  } finally {
    model.fitting = false;
  }
}

async function fitLoop(model: Model, data: Feeds, opts: FitOptions): Promise<History> {
  const { epochs = 1, initialEpoch = 0, batchSize = Math.min(32, model.maxBatch), shuffle = true, validationData, yieldEvery = 50 } = opts;
  const { n, views } = checkData(model, data);
  checkCount("epochs", epochs, 1, Infinity);
  // Keras runs nothing when initialEpoch ≥ epochs; a resume past the end is more likely a mistake.
  checkCount("initialEpoch", initialEpoch, 0, epochs - 1);
  checkCount("batchSize", batchSize, 1, model.maxBatch);
  if (validationData !== undefined) checkData(model, validationData);
  const result: History = { epoch: [], history: {} };
  const rows = new Uint32Array(n);
  let step = 0, lastYield = Date.now();
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    order(rows, shuffle, model.manifest.seed, epoch);
    const sums: Logs = {};
    for (let start = 0; start < n; start += batchSize) {
      const count = Math.min(batchSize, n - start), batch = rows.subarray(start, start + count);
      // trainRows re-checks what it staged (a callback may have changed the data) and undoes a non-finite step.
      const r = trainRows(model, views, batch, count);
      if (!Number.isFinite(r.loss)) {
        const where = `step ${step + 1} of this fit (epoch ${epoch + 1}, batch ${start / batchSize + 1}; counting from 1)`;
        const found = opts.debugNaN ? findNaN(model, views, batch) : undefined;
        const message = `the loss became ${r.loss} at ${where}; training stopped and that step was undone${found ? `; ${found.message}` : ""}`;
        throw new KilnError({ code: "diverged", path: "fit", ...(found?.layer ? { layer: found.layer } : {}), message });
      }
      const logs = flatten(r);
      for (const k in logs) sums[k] = (sums[k] ?? 0) + logs[k] * count;
      await opts.onBatchEnd?.(step, logs);
      step++;
      if (Date.now() - lastYield >= yieldEvery) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = Date.now();
      }
    }
    const logs: Logs = {};
    for (const k in sums) logs[k] = sums[k] / n;
    if (validationData) {
      const v = flatten(model.evaluate(validationData, { batchSize }));
      for (const k in v) logs[`val_${k}`] = v[k];
    }
    result.epoch.push(epoch);
    for (const k in logs) (result.history[k] ??= []).push(logs[k]);
    await opts.onEpochEnd?.(epoch, logs);
  }
  return result;
}

const flatten = (r: StepResult): Logs => ({ loss: r.loss, ...r.metrics });

/** Identity order, or a Fisher–Yates shuffle seeded by (seed, epoch). */
function order(rows: Uint32Array, shuffle: boolean, seed: number, epoch: number): void {
  for (let i = 0; i < rows.length; i++) rows[i] = i;
  if (!shuffle) return;
  const rng = new Rng(seed, epoch, SHUFFLE_STREAM);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
}

/**
 * The NaN finder: the failed step was undone (trainRows), so the state is the one before it. Notes
 * weights that were already non-finite, re-runs the step (undone again) and scans layerOutputs,
 * which the re-run left in memory, in forward order for the first non-finite value.
 */
function findNaN(model: Model, views: Feed[], rows: Uint32Array): { message: string; layer?: string } {
  const t = model.manifest.training!;
  const bad = (a: Float32Array) => a.findIndex((v) => v - v !== 0); // NaN and ±Inf
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const weights = model.manifest.weights.filter((w) => bad(model.f32(w.offset, size(w.shape))) >= 0).map((w) => `"${w.name}"`);
  const already = weights.length ? `; weights non-finite before the step: ${weights.join(", ")}` : "";
  const again = trainRows(model, views, rows, rows.length).loss;
  if (!t.layerOutputs) return { message: `the module lists no layer outputs to search (manifest.training.layerOutputs)${already}` };
  for (const o of t.layerOutputs) {
    const per = size(o.shape), out = model.f32(o.offset, rows.length * per), i = bad(out);
    if (i >= 0) {
      const what = `example ${Math.floor(i / per)} of the batch, element ${i % per} is ${out[i]}`;
      return { layer: o.layer, message: `the first non-finite layer output is layer "${o.layer}" (${what})${already}` };
    }
  }
  const re = Number.isFinite(again) ? ` (and the re-run's loss was ${again}: not reproducible)` : "";
  return { message: `every layer output was finite: the loss computation itself went non-finite${re}${already}` };
}
