/**
 * Data larger than memory: fit, evaluate and predict take batches from an iterable, an async
 * iterable, or a function of the epoch that returns one (Keras's generators and tf.data datasets),
 * and `shuffledBatches` turns a stream of example chunks (rows read from a file a piece at a time)
 * into batches shuffled inside a buffer of examples, as tf.data's `shuffle(buffer_size)` does,
 * seeded by (seed, epoch) so a run is deterministic and a resumed run continues exactly.
 * Loaded only by code that streams (fit, and evaluate/predict given batches).
 */
import { checkFeeds, KilnError, put, size } from "./core.js";
import type { Feed, Feeds } from "./feeds.js";
import type { Slot } from "./manifest.js";
import type { Model, StepResult } from "./model.js";
import type { Predictor } from "./predictor.js";
import { Rng } from "./rng.js";
import { resetMetrics, results, runningLogs, stageWeights, toResult } from "./train.js";

/** One epoch's batches (each a Feeds object of at most maxBatch examples for fit). */
export type BatchIterable = Iterable<Feeds> | AsyncIterable<Feeds>;

/**
 * Batches for fit/evaluate/predict: an iterable or async iterable of Feeds (a generator, an array of
 * batches, an object that iterates again for every epoch), or a function of the (absolute) epoch
 * index returning that epoch's batches — the form that makes a shuffled stream deterministic and
 * resumable, as the epoch seeds the shuffle.
 */
export type Batches = BatchIterable | ((epoch: number) => BatchIterable);

/** Shuffle stream of the seed's Rng family: the same one fit's in-memory shuffle uses (weights use stream 0). */
export const SHUFFLE_STREAM = 1;

/** Whether `data` is batches (a function or an iterable) rather than a Feeds object of whole arrays. */
export function isBatches(data: unknown): data is Batches {
  if (typeof data === "function") return true;
  if (typeof data !== "object" || data === null || ArrayBuffer.isView(data)) return false;
  return typeof (data as Record<symbol, unknown>)[Symbol.asyncIterator] === "function" || typeof (data as Record<symbol, unknown>)[Symbol.iterator] === "function";
}

/** A fresh iterator over `it`: the async one when it has one. */
function iteratorOf(it: unknown, path: string): Iterator<Feeds> | AsyncIterator<Feeds> {
  const o = it as Record<symbol, (() => Iterator<Feeds> | AsyncIterator<Feeds>) | undefined> | null;
  const make = o?.[Symbol.asyncIterator] ?? o?.[Symbol.iterator];
  if (typeof make !== "function") {
    throw new KilnError({ code: "input", path, message: `expected an iterable or async iterable of batches (objects of typed arrays by input and target name), got ${o === null ? "null" : typeof o}` });
  }
  return make.call(o);
}

/**
 * Where each epoch's batches come from. A function is called once per epoch. An iterable without
 * stepsPerEpoch is iterated anew every epoch, to its end; with stepsPerEpoch one iterator runs on
 * across epochs, stepsPerEpoch batches each (Keras's generator with steps_per_epoch), and when it
 * runs out training stops, as Keras's "your input ran out of data".
 */
export class BatchSource {
  private shared?: Iterator<Feeds> | AsyncIterator<Feeds>;
  /** Set when a shared iterator ran out: fit stops there. */
  exhausted = false;

  constructor(private readonly data: Batches, readonly stepsPerEpoch: number | undefined, private readonly path: string) {}

  /** The epoch's batches, each pulled only when the caller asks for the next (nothing is read ahead). */
  async *epoch(epoch: number, stop: () => boolean): AsyncGenerator<Feeds> {
    const perEpoch = typeof this.data === "function" || this.stepsPerEpoch === undefined;
    const it = perEpoch ? iteratorOf(typeof this.data === "function" ? this.data(epoch) : this.data, this.path) : (this.shared ??= iteratorOf(this.data, this.path));
    let taken = 0;
    try {
      while (!stop() && (this.stepsPerEpoch === undefined || taken < this.stepsPerEpoch)) {
        const r = await it.next();
        if (r.done) {
          if (!perEpoch) this.exhausted = true;
          return;
        }
        taken++;
        yield r.value;
      }
    } finally {
      // An epoch's own iterator is closed with the epoch (a file reader lets go of its file).
      if (perEpoch) await it.return?.();
    }
  }

  /** Closes the iterator shared across epochs, if any. */
  async close(): Promise<void> {
    await this.shared?.return?.();
    this.shared = undefined;
  }
}

/** Checks one streamed batch (inputs and targets, or inputs only for predict), naming it by its index. */
export function checkBatch(slots: Slot[], batch: unknown, what: string, index: number): { n: number; views: Feed[] } {
  try {
    return checkFeeds(slots, batch, what);
  } catch (e) {
    if (!(e instanceof KilnError)) throw e;
    throw new KilnError(e.diagnostics.map((d) => ({ ...d, path: `batch ${index}${d.path ? `.${d.path}` : ""}`, message: d.message })));
  }
}

const trainSlots = (model: Model): Slot[] => [...model.manifest.inputs, ...model.manifest.targets];

/** evaluate() on batches: inference-mode loss and metrics over all of them (Keras's stateful metrics; an older module's batch figures averaged weighted by batch size). */
export async function evaluateBatches(model: Model, data: Batches, { steps }: { steps?: number } = {}): Promise<StepResult> {
  const slots = trainSlots(model), source = new BatchSource(data, steps, "data");
  // A module with metric state accumulates over the calls since resetMetrics (Keras's stateful metrics); an older one's batch figures are averaged here.
  const running = runningLogs(model);
  const sums = new Float64Array(1 + model.manifest.training!.metrics.length);
  let n = 0, index = 0;
  // Batches in an array are all checked first, and the metric state is zeroed only once a batch
  // passed its checks: a refused call leaves the module's memory exactly as it was.
  if (Array.isArray(data)) data.forEach((b, i) => checkBatch(slots, b, "input or target", i));
  for await (const batch of source.epoch(0, () => false)) {
    const { n: count, views } = checkBatch(slots, batch, "input or target", index++);
    if (index === 1) resetMetrics(model);
    for (let start = 0; start < count; start += model.maxBatch) {
      const c = Math.min(model.maxBatch, count - start);
      model.stage(slots, views, start, c);
      stageWeights(model, undefined, start, c);
      model.run("evaluate", c);
      if (!running) results(model).forEach((v, i) => (sums[i] += v * c));
    }
    n += count;
  }
  await source.close();
  if (n === 0) throw new KilnError({ code: "input", path: "data", message: "evaluate got no batches: the data was empty (or a generator already used up)" });
  return toResult(model, running ? Array.from(results(model)) : Array.from(sums, (s) => s / n));
}

/**
 * Keras's predict on batches: the outputs of every example, in order, concatenated. Not a method
 * of Model, whose predict stays synchronous on whole arrays: telling batches apart there would add
 * to the code every page that only predicts loads (test/runtime/size.test.ts holds that to a limit).
 * Import it from "kiln/runtime/stream"; it takes a model of `kiln/runtime` or `kiln/runtime/predict`.
 */
export async function predictBatches(model: Predictor, data: Batches, { steps }: { steps?: number } = {}): Promise<Record<string, Float32Array>> {
  const source = new BatchSource(data, steps, "inputs");
  const parts: Record<string, Float32Array>[] = [];
  let index = 0;
  for await (const batch of source.epoch(0, () => false)) {
    checkBatch(model.manifest.inputs, batch, "input", index++);
    parts.push(model.predict(batch));
  }
  await source.close();
  if (!parts.length) throw new KilnError({ code: "input", path: "inputs", message: "predict got no batches: the data was empty (or a generator already used up)" });
  return Object.fromEntries(model.manifest.outputs.map((s) => {
    const all = new Float32Array(parts.reduce((a, p) => a + p[s.name].length, 0));
    let at = 0;
    for (const p of parts) put(all, p[s.name], (at += p[s.name].length) - p[s.name].length);
    return [s.name, all];
  }));
}

/** What a streamed slot is: its name, values per example and array type. */
export interface StreamSlot {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
}

/** Options of shuffledBatches. */
export interface ShuffleOptions {
  batchSize: number;
  /** Examples held for shuffling (tf.data's buffer_size); 0 keeps the order. */
  shuffleBuffer: number;
  seed: number;
  /** The absolute epoch index: with the seed, it fixes the order. */
  epoch: number;
  /** Called with the byte size of every array this allocates (all of them up front): memory accounting. */
  onAllocate?(bytes: number): void;
}

/**
 * Batches of `batchSize` examples from chunks of rows (each chunk: one array per slot, in slot
 * order, whole examples), shuffled inside a buffer of `shuffleBuffer` examples: the buffer is
 * filled with the first examples; then each arriving example takes the place of one drawn at
 * random from the buffer (index ⌊u·B⌋), which goes to the batch; at the end the buffer drains
 * in random order (draw ⌊u·k⌋ of the k left, the last one moves into its place). One uniform
 * of Rng(seed, epoch, SHUFFLE_STREAM) per example, so the order depends only on the example
 * count, the buffer size, the seed and the epoch — never on how the rows were chunked; it is
 * exactly bufferedShuffleOrder's. Memory: the buffer and one batch, allocated once; the Feeds
 * object yielded is reused for the next batch (fit copies it into the module before asking for
 * the next), and the last, partial batch is a shorter view.
 */
export async function* shuffledBatches(slots: StreamSlot[], chunks: AsyncIterable<Feed[]> | Iterable<Feed[]>, opts: ShuffleOptions): AsyncGenerator<Feeds> {
  const { batchSize, shuffleBuffer: cap, seed, epoch } = opts;
  const pers = slots.map((s) => size(s.shape));
  const make = (s: StreamSlot, rows: number): Feed => {
    opts.onAllocate?.(rows * size(s.shape) * 4);
    return s.dtype === "int32" ? new Int32Array(rows * size(s.shape)) : new Float32Array(rows * size(s.shape));
  };
  const buffer = slots.map((s) => make(s, cap)), batch = slots.map((s) => make(s, batchSize));
  const feeds: Feeds = Object.create(null);
  slots.forEach((s, k) => (feeds[s.name] = batch[k]));
  const rng = new Rng(seed, epoch, SHUFFLE_STREAM);
  let held = 0, inBatch = 0;
  const copyRow = (from: Feed[], row: number, to: Feed[], at: number) => {
    for (let k = 0; k < pers.length; k++) put(to[k], from[k].subarray(row * pers[k], (row + 1) * pers[k]), at * pers[k]);
  };
  for await (const chunk of chunks) {
    const rows = chunk[0].length / pers[0];
    for (let r = 0; r < rows; r++) {
      if (cap === 0) copyRow(chunk, r, batch, inBatch++);
      else if (held < cap) {
        copyRow(chunk, r, buffer, held++);
        continue;
      } else {
        const j = Math.floor(rng.uniform() * cap);
        copyRow(buffer, j, batch, inBatch++);
        copyRow(chunk, r, buffer, j);
      }
      if (inBatch === batchSize) {
        yield feeds;
        inBatch = 0;
      }
    }
  }
  while (held > 0) {
    const j = Math.floor(rng.uniform() * held);
    copyRow(buffer, j, batch, inBatch++);
    copyRow(buffer, --held, buffer, j);
    if (inBatch === batchSize) {
      yield feeds;
      inBatch = 0;
    }
  }
  if (inBatch > 0) {
    const last: Feeds = Object.create(null);
    slots.forEach((s, k) => (last[s.name] = batch[k].subarray(0, inBatch * pers[k])));
    yield last;
  }
}

/**
 * The order shuffledBatches gives `n` examples (as indices into them), computed in memory: the
 * definition of the buffered shuffle, for giving in-memory data in the order a stream of it trains.
 */
export function bufferedShuffleOrder(n: number, shuffleBuffer: number, seed: number, epoch: number): Uint32Array {
  const out = new Uint32Array(n), buffer = new Uint32Array(shuffleBuffer), rng = new Rng(seed, epoch, SHUFFLE_STREAM);
  let held = 0, k = 0;
  for (let i = 0; i < n; i++) {
    if (shuffleBuffer === 0) out[k++] = i;
    else if (held < shuffleBuffer) buffer[held++] = i;
    else {
      const j = Math.floor(rng.uniform() * shuffleBuffer);
      out[k++] = buffer[j];
      buffer[j] = i;
    }
  }
  while (held > 0) {
    const j = Math.floor(rng.uniform() * held);
    out[k++] = buffer[j];
    buffer[j] = buffer[--held];
  }
  return out;
}
