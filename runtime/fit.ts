/**
 * Runtime training loop: epochs of seeded-shuffled batches through train_step, epoch figures as
 * means weighted by batch size, validation through evaluate (validationData, or Keras's
 * validation_split and validation_freq), Keras's callbacks (callbacks.ts). Same seed, same data, same options:
 * bit-identical weights. A non-finite loss stops training with a KilnError naming the step (the
 * step itself undone), and
 * the loop yields to the event loop every `yieldEvery` ms so a browser page stays responsive.
 * Data is whole arrays (Feeds), or batches streamed from an iterable, an async iterable or a
 * function of the epoch (stream.ts: data larger than memory), as Keras's generators and datasets.
 */
import { KilnError } from "./core.js";
import type { Feed, Feeds } from "./feeds.js";
import { Rng } from "./rng.js";
import type { Model, StepResult } from "./model.js";
import type { Slot } from "./manifest.js";
import { checkCount, checkData, exampleWeights, learningRate, resetMetrics, runningLogs, setLearningRate, trainRows } from "./train.js";
import { resolveCallbacks, type BuiltinCallback, type Callback, type FitContext, type Logs } from "./callbacks.js";
import { BatchSource, checkBatch, evaluateBatches, isBatches, SHUFFLE_STREAM, type Batches } from "./stream.js";

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
  /** At most the model's maxBatch (default 32 or maxBatch if lower); the last, partial batch is included. Batches streamed are taken as they come. */
  batchSize?: number;
  /**
   * Streamed batches (Keras `steps_per_epoch`): batches per epoch. With an iterable, one iterator
   * then runs on across epochs and training stops when it runs out; without, each epoch iterates
   * the data (or calls the function of the epoch) anew, to its end.
   */
  stepsPerEpoch?: number;
  /** Reorders the examples every epoch, seeded by manifest.seed and the (absolute) epoch index (whole arrays only: a stream comes in its own order). */
  shuffle?: boolean;
  /** Whole arrays, or batches as `data` may be. */
  validationData?: Feeds | Batches;
  /** Batches of streamed validation data to evaluate (Keras `validation_steps`; default: to its end). */
  validationSteps?: number;
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
   * output went non-finite, with the layers folded into its kernels (needs manifest.training.layerOutputs).
   */
  debugNaN?: boolean;
}

export interface History {
  /** The epochs run, by absolute index: `initialEpoch` … `epochs − 1`. */
  epoch: number[];
  /** Per-epoch series by log name: `loss`, metrics, `val_loss`, `val_<metric>` (NaN in epochs that did not validate). */
  history: Record<string, number[]>;
}

export async function fit(model: Model, data: Feeds | Batches, opts: FitOptions = {}): Promise<History> {
  // Two fits on one model would interleave their steps (each awaits between batches).
  if (model.fitting) throw new KilnError({ code: "busy", path: "fit", message: "this model is already training (a fit() has not finished); await it before starting another" });
  model.fitting = true;
  try {
    return await fitLoop(model, data, opts);
  } finally {
    model.fitting = false;
  }
}

/** One batch of a fit: the data's views and which rows of them (a list, or a start index) train. */
interface Batch {
  views: Feed[];
  rows: number | Uint32Array;
  count: number;
  /** The examples' weights in the loss, indexed as the views' rows (undefined: every weight 1). */
  weights?: Float32Array;
}

/** Where a fit's batches come from: whole arrays (shuffled by fit) or a stream. */
interface EpochBatches {
  /** Batches per epoch, when known. */
  steps?: number;
  validationData?: Feeds | Batches;
  /** validationSplit's held-out examples keep their sample weights (Keras splits sample_weight with the data). */
  validationWeights?: Float32Array;
  epoch(epoch: number): AsyncIterable<Batch>;
  close(): Promise<void>;
  /** A stream that ran out (stepsPerEpoch across epochs): training stops. */
  exhausted(): boolean;
}

async function fitLoop(model: Model, data: Feeds | Batches, opts: FitOptions): Promise<History> {
  const { epochs = 1, initialEpoch = 0, yieldEvery = 50 } = opts;
  checkCount("epochs", epochs, 1, Infinity);
  // Keras runs nothing when initialEpoch ≥ epochs; a resume past the end is more likely a mistake.
  checkCount("initialEpoch", initialEpoch, 0, epochs - 1);
  const source = isBatches(data) ? streamed(model, data, opts) : inMemory(model, data, opts);
  try {
    return await epochsOf(model, source, opts, epochs, initialEpoch, yieldEvery);
  } finally {
    await source.close();
  }
}

/** Whole arrays: each epoch a seeded shuffle of the rows (or their order), cut into batches of batchSize. */
function inMemory(model: Model, data: Feeds, opts: FitOptions): EpochBatches {
  const { batchSize = Math.min(32, model.maxBatch), shuffle = true } = opts;
  const { n: all, views } = checkData(model, data);
  checkCount("batchSize", batchSize, 1, model.maxBatch);
  if (opts.stepsPerEpoch !== undefined) throw new KilnError({ code: "options", path: "stepsPerEpoch", message: "stepsPerEpoch goes with streamed batches; whole arrays train every example each epoch" });
  const weights = exampleWeights(model, views, all, opts, "fit");
  const { n, validationData, validationWeights } = validationOf(model, opts, all, views, weights);
  const steps = Math.ceil(n / batchSize), rows = new Uint32Array(n);
  return {
    steps, validationData, validationWeights,
    async *epoch(epoch) {
      order(rows, shuffle, model.manifest.seed, epoch);
      for (let batch = 0; batch < steps && !model.stopTraining; batch++) {
        const start = batch * batchSize, count = Math.min(batchSize, n - start);
        yield { views, rows: rows.subarray(start, start + count), count, weights };
      }
    },
    close: async () => {},
    exhausted: () => false,
  };
}

/** Streamed batches, each checked as it comes and at most maxBatch examples. */
function streamed(model: Model, data: Batches, opts: FitOptions): EpochBatches {
  const path = "data";
  if (opts.stepsPerEpoch !== undefined) checkCount("stepsPerEpoch", opts.stepsPerEpoch, 1, Infinity);
  if (opts.validationSplit !== undefined && opts.validationSplit !== 0) {
    throw new KilnError({ code: "options", path: "validationSplit", message: "validationSplit takes the last examples of whole arrays; with streamed batches give validationData" });
  }
  if (opts.sampleWeight !== undefined) {
    throw new KilnError({ code: "options", path: "sampleWeight", message: "sampleWeight goes with whole arrays (one weight per example of data); streamed batches weigh their examples 1 (classWeight applies to them)" });
  }
  const slots = [...model.manifest.inputs, ...model.manifest.targets];
  if (opts.validationData !== undefined && !isBatches(opts.validationData)) checkData(model, opts.validationData);
  else checkListed(model, slots, opts.validationData, Infinity);
  checkListed(model, slots, data, model.maxBatch);
  const source = new BatchSource(data, opts.stepsPerEpoch, path);
  let index = 0;
  return {
    steps: opts.stepsPerEpoch,
    validationData: opts.validationData,
    async *epoch(epoch) {
      for await (const feeds of source.epoch(epoch, () => !!model.stopTraining)) {
        const { n, views } = checkBatch(slots, feeds, "input or target", index);
        checkBatchSize(n, model.maxBatch, index);
        const weights = opts.classWeight !== undefined ? exampleWeights(model, views, n, { classWeight: opts.classWeight }, `fit (batch ${index})`) : undefined;
        index++;
        yield { views, rows: 0, count: n, weights };
      }
    },
    close: () => source.close(),
    exhausted: () => source.exhausted,
  };
}

function checkBatchSize(n: number, most: number, index: number): void {
  if (n > most) throw new KilnError({ code: "input", path: `batch ${index}`, message: `a streamed batch has ${n} examples; this model trains on at most maxBatch = ${most} per step` });
}

/**
 * Batches given as an array are all in memory: checked before the first step, so a bad one leaves
 * the model as it was. (A generator's batches can only be checked as they come: a bad one stops
 * fit there, the steps before it trained, as in Keras.)
 */
function checkListed(model: Model, slots: Slot[], batches: unknown, most: number): void {
  if (!Array.isArray(batches)) return;
  batches.forEach((b, i) => checkBatchSize(checkBatch(slots, b, "input or target", i).n, most, i));
}

async function epochsOf(model: Model, source: EpochBatches, opts: FitOptions, epochs: number, initialEpoch: number, yieldEvery: number): Promise<History> {
  const { validationData, steps } = source;
  const shouldValidate = validationSchedule(opts.validationFreq);
  const { callbacks, terminateOnNaN } = resolveCallbacks(opts.callbacks, model);
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
  let step = 0, lastYield = Date.now(), last: Logs = {};
  if (opts.learningRate !== undefined) setLearningRate(model, opts.learningRate);
  model.stopTraining = false;
  await each("onTrainBegin", {});
  for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
    await each("onEpochBegin", epoch, {});
    resetMetrics(model); // Keras resets its metrics at each epoch's start
    const sums: Logs = {};
    let seen = 0, batch = 0;
    for await (const { views, rows: picked, count, weights } of source.epoch(epoch)) {
      await each("onBatchBegin", batch, {});
      // trainRows re-checks what it staged (a callback may have changed the data) and undoes a non-finite step.
      const r = trainRows(model, views, picked, count, weights);
      if (!Number.isFinite(r.loss)) {
        if (terminateOnNaN) {
          model.stopTraining = true; // Keras's TerminateOnNaN; the step is already undone
          break;
        }
        const where = `step ${step + 1} of this fit (epoch ${epoch + 1}, batch ${batch + 1}; counting from 1)`;
        const found = opts.debugNaN ? findNaN(model, views, picked, count) : undefined;
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
      batch++;
      if (Date.now() - lastYield >= yieldEvery) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = Date.now();
      }
    }
    if (!seen) {
      // Stopped before the epoch's first step: nothing to report. A stream with nothing in it is a mistake to name.
      if (!model.stopTraining && !source.exhausted()) throw new KilnError({ code: "input", path: "data", message: `epoch ${epoch + 1} got no batches: the data is empty, or a generator that was used up (pass a function of the epoch, an object that iterates again, or stepsPerEpoch)` });
      break;
    }
    const logs = running ? { ...sums } : means(sums, seen);
    if (validationData && shouldValidate(epoch + 1)) {
      const v = flatten(isBatches(validationData) ? await evaluateBatches(model, validationData, { steps: opts.validationSteps }) : model.evaluate(validationData, { batchSize: opts.batchSize ?? Math.min(32, model.maxBatch), ...(source.validationWeights ? { sampleWeight: source.validationWeights } : {}) }));
      for (const k in v) logs[`val_${k}`] = v[k];
    }
    await opts.onEpochEnd?.(epoch, logs);
    await each("onEpochEnd", epoch, logs);
    // After the callbacks, as Keras's History (reduce_lr_on_plateau adds learning_rate).
    record(result, epoch, logs);
    last = logs;
    if (source.exhausted()) break; // Keras: "your input ran out of data; interrupting training"
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
function validationOf(model: Model, opts: FitOptions, all: number, views: Feed[], weights?: Float32Array): { n: number; validationData?: Feeds | Batches; validationWeights?: Float32Array } {
  const split = opts.validationSplit;
  if (split === undefined || split === 0) {
    if (opts.validationData !== undefined && !isBatches(opts.validationData)) checkData(model, opts.validationData);
    else checkListed(model, [...model.manifest.inputs, ...model.manifest.targets], opts.validationData, Infinity);
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
 * weights that were already non-finite, re-runs the step (undone again) and looks at layerOutputs
 * in forward order for the first non-finite value, each while the re-run still holds it.
 */
function findNaN(model: Model, views: Feed[], rows: number | Uint32Array, count: number): { message: string; layer?: string } {
  const t = model.manifest.training!;
  const bad = (a: Float32Array) => a.findIndex((v) => v - v !== 0); // NaN and ±Inf
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const weights = model.manifest.weights.filter((w) => bad(model.f32(w.offset, size(w.shape))) >= 0).map((w) => `"${w.name}"`);
  const already = weights.length ? `; weights non-finite before the step: ${weights.join(", ")}` : "";
  let found: { message: string; layer: string } | undefined;
  const look = (o: LayerOutput) => {
    if (found) return;
    const per = size(o.shape), out = model.f32(o.offset, count * per), i = bad(out);
    // A layer with others folded into its kernels (their outputs have no buffer): the value may have gone non-finite in any of them.
    const folded = o.folded?.length ? ` (with ${o.folded.map((l) => `"${l}"`).join(", ")} folded into it)` : "";
    if (i >= 0) found = { layer: o.layer, message: `the first non-finite layer output is layer "${o.layer}"${folded} (example ${Math.floor(i / per)} of the batch, element ${i % per} is ${out[i]})${already}` };
  };
  const again = stepLooking(model, t.layerOutputs ?? [], look, () => trainRows(model, views, rows, count).loss);
  if (!t.layerOutputs) return { message: `the module lists no layer outputs to search (manifest.training.layerOutputs)${already}` };
  if (found) return found;
  const re = Number.isFinite(again) ? ` (and the re-run's loss was ${again}: not reproducible)` : "";
  return { message: `every layer output was finite: the loss computation itself went non-finite${re}${already}` };
}

type LayerOutput = NonNullable<NonNullable<Model["manifest"]["training"]>["layerOutputs"]>[number];

/**
 * Runs `step` (one train step) and shows `look` every layer output. The arena reuses a buffer once
 * its last reader has run, so a layer output is intact only until then: where each names the last
 * call that writes it (`call`), train_step runs in call ranges and `look` sees each output right
 * after its call. Threaded and debug builds (no reuse) and modules without `call` (whose plan kept
 * the outputs until the step ended) run whole, and `look` sees them after.
 */
function stepLooking(model: Model, outputs: LayerOutput[], look: (o: LayerOutput) => void, step: () => number): number {
  if (model.pool || model.checked || !outputs.length || outputs.some((o) => o.call === undefined)) {
    const loss = step();
    outputs.forEach(look);
    return loss;
  }
  const after = new Map<number, LayerOutput[]>();
  for (const o of outputs) after.set(o.call!, [...(after.get(o.call!) ?? []), o]);
  const stops = [...after.keys()].sort((a, b) => a - b);
  // model.run's hook for running a program call by call (debug builds use it for their guards).
  model.checked = (manifest, exports, _memory, name, batch) => {
    const range = exports[`${name}_range`] as (batch: number, from: number, to: number) => void;
    let from = 0;
    for (const call of stops) {
      range(batch, from, call + 1);
      from = call + 1;
      after.get(call)!.forEach(look);
    }
    range(batch, from, manifest.kernels!.calls[name]!.length);
  };
  try {
    return step();
  } finally {
    model.checked = undefined;
  }
}
