/**
 * Runtime training loop: epochs of seeded-shuffled batches through train_step, epoch figures as
 * means weighted by batch size, validation through evaluate (validationData, or Keras's
 * validation_split and validation_freq), Keras's callbacks (callbacks.ts). Same seed, same data, same options:
 * bit-identical weights. A non-finite loss stops training with a KilnError naming the step (the
 * step itself undone), and
 * the loop yields to the event loop every `yieldEvery` ms so a browser page stays responsive.
 */
import { KilnError } from "./errors.js";
import type { Feed, Feeds } from "./feeds.js";
import { Rng } from "./rng.js";
import type { Model, StepResult } from "./model.js";
import { checkCount, checkData, exampleWeights, learningRate, resetMetrics, runningLogs, setLearningRate, trainRows } from "./train.js";
import { resolveCallbacks, type BuiltinCallback, type Callback, type FitContext, type Logs } from "./callbacks.js";

export type { Logs } from "./callbacks.js";
export type { BuiltinCallback, Callback, FitContext } from "./callbacks.js";

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
  /**
   * Keras `validation_split`: the last fraction of the examples (before any shuffling) is held out
   * and evaluated as validation data (ceil(n·(1 − split)) examples train). Not with validationData.
   */
  validationSplit?: number;
  /** Keras `validation_freq`: validate every k-th epoch (absolute, counting from 1), or at the epochs (from 1) listed. */
  validationFreq?: number | number[];
  /**
   * The learning rate to train at from the first step (modules compiled with settableLearningRate):
   * a rate set while training (reduce_lr_on_plateau) is not part of saveWeights, so a resumed run
   * passes it here (kiln train records it as kiln.learning_rate).
   */
  learningRate?: number;
  /**
   * Keras `sample_weight`: one weight per example of `data`, each example's loss multiplied by it
   * (Keras's sum_over_batch_size: the weighted sum over the batch divided by the batch's rows, not
   * by the sum of the weights). With validationSplit, the held-out examples keep theirs.
   */
  sampleWeight?: ArrayLike<number>;
  /** Keras `class_weight`: class id → weight, each training example weighted by its class's (one output only; not with sampleWeight). */
  classWeight?: Record<string | number, number>;
  /** Keras's callbacks as data (early_stopping, model_checkpoint, …) and user callbacks with hooks, in order. */
  callbacks?: (BuiltinCallback | Callback)[];
  /** `step` counts batches of this fit from 0; logs are the epoch's running figures so far (Keras 3's batch logs). */
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
  /** Per-epoch series by log name: `loss`, metrics, `val_loss`, `val_<metric>` (NaN in epochs that did not validate). */
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
  const { epochs = 1, initialEpoch = 0, batchSize = Math.min(32, model.maxBatch), shuffle = true, yieldEvery = 50 } = opts;
  const { n: all, views } = checkData(model, data);
  checkCount("epochs", epochs, 1, Infinity);
  // Keras runs nothing when initialEpoch ≥ epochs; a resume past the end is more likely a mistake.
  checkCount("initialEpoch", initialEpoch, 0, epochs - 1);
  checkCount("batchSize", batchSize, 1, model.maxBatch);
  const weights = exampleWeights(model, views, all, opts, "fit");
  const { n, validationData, validationWeights } = validationOf(model, opts, all, views, weights);
  const shouldValidate = validationSchedule(opts.validationFreq);
  const { callbacks, terminateOnNaN } = resolveCallbacks(opts.callbacks, model);
  const steps = Math.ceil(n / batchSize);
  const running = runningLogs(model);
  const ctx: FitContext = {
    model,
    params: { epochs, steps, initialEpoch },
    get learningRate() { return learningRate(model); },
    set learningRate(lr: number) { setLearningRate(model, lr); },
  };
  const each = async (hook: keyof Callback, ...args: unknown[]) => {
    for (const c of callbacks) await (c[hook] as ((...a: unknown[]) => unknown) | undefined)?.call(c, ...args, ctx);
  };
  const result: History = { epoch: [], history: {} };
  const rows = new Uint32Array(n);
  let step = 0, lastYield = Date.now(), last: Logs = {};
  if (opts.learningRate !== undefined) setLearningRate(model, opts.learningRate);
  model.stopTraining = false;
  await each("onTrainBegin", {});
  for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
    await each("onEpochBegin", epoch, {});
    order(rows, shuffle, model.manifest.seed, epoch);
    resetMetrics(model); // Keras resets its metrics at each epoch's start
    const sums: Logs = {};
    let seen = 0;
    for (let batch = 0; batch < steps && !model.stopTraining; batch++) {
      const start = batch * batchSize, count = Math.min(batchSize, n - start), picked = rows.subarray(start, start + count);
      await each("onBatchBegin", batch, {});
      // trainRows re-checks what it staged (a callback may have changed the data) and undoes a non-finite step.
      const r = trainRows(model, views, picked, count, weights);
      if (!Number.isFinite(r.loss)) {
        if (terminateOnNaN) {
          model.stopTraining = true; // Keras's TerminateOnNaN; the step is already undone
          break;
        }
        const where = `step ${step + 1} of this fit (epoch ${epoch + 1}, batch ${batch + 1}; counting from 1)`;
        const found = opts.debugNaN ? findNaN(model, views, picked) : undefined;
        const message = `the loss became ${r.loss} at ${where}; training stopped and that step was undone${found ? `; ${found.message}` : ""}`;
        throw new KilnError({ code: "diverged", path: "fit", ...(found?.layer ? { layer: found.layer } : {}), message });
      }
      // A module with metric state reports the epoch's running figures; an older one this batch's, averaged here.
      const logs = flatten(r);
      for (const k in logs) sums[k] = running ? logs[k] : (sums[k] ?? 0) + logs[k] * count;
      seen += count;
      await opts.onBatchEnd?.(step, logs);
      if (callbacks.length) await each("onBatchEnd", batch, running ? { ...logs } : means(sums, seen));
      step++;
      if (Date.now() - lastYield >= yieldEvery) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = Date.now();
      }
    }
    if (!seen) break; // stopped before the epoch's first step: nothing to report
    const logs = running ? { ...sums } : means(sums, seen);
    if (validationData && shouldValidate(epoch + 1)) {
      const v = flatten(model.evaluate(validationData, { batchSize, ...(validationWeights ? { sampleWeight: validationWeights } : {}) }));
      for (const k in v) logs[`val_${k}`] = v[k];
    }
    await opts.onEpochEnd?.(epoch, logs);
    await each("onEpochEnd", epoch, logs);
    // After the callbacks, as Keras's History (reduce_lr_on_plateau adds learning_rate).
    record(result, epoch, logs);
    last = logs;
  }
  await each("onTrainEnd", last);
  return result;
}

function means(sums: Logs, seen: number): Logs {
  const out: Logs = {};
  for (const k in sums) out[k] = sums[k] / seen;
  return out;
}

/** Appends an epoch's logs; a series that starts late (val_ after validation_freq) or skips an epoch holds NaN there. */
function record(h: History, epoch: number, logs: Logs): void {
  const before = h.epoch.length;
  h.epoch.push(epoch);
  for (const k in logs) (h.history[k] ??= new Array(before).fill(NaN)).push(logs[k]);
  for (const k in h.history) if (h.history[k].length === before) h.history[k].push(NaN);
}

/** The examples that train (the first n) and the validation data: validationData, or the last validationSplit of data (with its sample weights). */
function validationOf(model: Model, opts: FitOptions, all: number, views: Feed[], weights?: Float32Array): { n: number; validationData?: Feeds; validationWeights?: Float32Array } {
  const split = opts.validationSplit;
  if (split === undefined || split === 0) {
    if (opts.validationData !== undefined) checkData(model, opts.validationData);
    return { n: all, validationData: opts.validationData };
  }
  if (typeof split !== "number" || !(split > 0 && split < 1)) throw new KilnError({ code: "options", path: "validationSplit", message: `expected a number in [0, 1), got ${String(split)}` });
  if (opts.validationData !== undefined) throw new KilnError({ code: "options", path: "validationSplit", message: "give validationData or validationSplit, not both" });
  // Keras: split_at = ceil(n·(1 − split)); the examples after it validate.
  const n = Math.ceil(all * (1 - split));
  if (n < 1 || n >= all) throw new KilnError({ code: "options", path: "validationSplit", message: `validationSplit ${split} of ${all} examples leaves ${n} to train and ${all - n} to validate; both need at least one` });
  const slots = [...model.manifest.inputs, ...model.manifest.targets];
  const validationData: Feeds = Object.create(null);
  slots.forEach((s, k) => {
    const per = views[k].length / all;
    validationData[s.name] = views[k].subarray(n * per);
  });
  // Keras splits sample_weight with the data; class weights apply to training only.
  return { n, validationData, ...(weights && opts.sampleWeight !== undefined ? { validationWeights: weights.subarray(n) } : {}) };
}

/** Keras `validation_freq`: an integer k (every k-th epoch, absolute, from 1) or a list of epochs. */
function validationSchedule(freq: unknown): (epochFrom1: number) => boolean {
  if (freq === undefined) return () => true;
  if (Array.isArray(freq) && freq.every((e) => Number.isInteger(e) && e >= 1)) return (e) => freq.includes(e);
  if (Number.isInteger(freq) && (freq as number) >= 1) return (e) => e % (freq as number) === 0;
  throw new KilnError({ code: "options", path: "validationFreq", message: `expected an integer ≥ 1 or a list of epochs (counting from 1), got ${JSON.stringify(freq)}` });
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
