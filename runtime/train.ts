/**
 * Model.trainStep and Model.evaluate, and the step both they and fit() run, in a part of the
 * runtime loaded only for modules that train (an app that only predicts never fetches it).
 * A step whose loss is not finite is undone: weights, optimizer state, the step counter and the
 * dropout seed are copied before every step and written back, so a caught error leaves the model
 * exactly as it was (the update of a NaN loss would otherwise turn every weight NaN).
 * The manifest's training checks are here too: loaded only for manifests that have a training part.
 */
import { fail, KilnError } from "./errors.js";
import { checkFeeds, put, type Feed, type Feeds } from "./feeds.js";
import { bad, isObject, isString, show, size, type Checker, type Manifest, type Slot } from "./manifest.js";
import type { Model, StepResult } from "./model.js";
import type { Batches } from "./stream.js";

/** Batches (a function or an iterable) rather than whole arrays; stream.ts's isBatches, kept here so evaluating arrays loads no stream code. */
const isBatches = (data: unknown): data is Batches =>
  typeof data === "function" || (typeof data === "object" && data !== null && !ArrayBuffer.isView(data) && (Symbol.asyncIterator in data || Symbol.iterator in data));

const slotsOf = (model: Model): Slot[] => [...model.manifest.inputs, ...model.manifest.targets];

/** Checks training data (inputs and targets); returns its example count and views. */
export const checkData = (model: Model, data: Feeds) => checkFeeds(slotsOf(model), data, "input or target");

export function trainStep(model: Model, batch: Feeds): StepResult {
  const { n, views } = checkData(model, batch);
  if (n > model.maxBatch) model.fail("batch", `trainStep takes at most maxBatch = ${model.maxBatch} examples, got ${n}; use fit() for more`);
  const r = trainRows(model, views, 0, n);
  if (!Number.isFinite(r.loss)) {
    throw new KilnError({ code: "diverged", path: "trainStep", message: `the loss became ${r.loss}; the step was undone (weights and optimizer state are as before the call)` });
  }
  return r;
}

export function evaluate(model: Model, data: Feeds | Batches, opts?: { batchSize?: number; steps?: number }): StepResult | Promise<StepResult> {
  if (isBatches(data)) return import("./stream.js").then((s) => s.evaluateBatches(model, data, opts));
  return evaluateArrays(model, data, opts);
}

function evaluateArrays(model: Model, data: Feeds, { batchSize = 32 }: { batchSize?: number } = {}): StepResult {
  const { n, views } = checkData(model, data);
  checkCount("batchSize", batchSize, 1, Infinity);
  const step = Math.min(batchSize, model.maxBatch); // inference mode: chunking does not change results
  const sums = new Float64Array(1 + model.manifest.training!.metrics.length);
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    model.stage(slotsOf(model), views, start, count);
    model.run("evaluate", count);
    results(model).forEach((v, i) => (sums[i] += v * count));
  }
  return toResult(model, Array.from(sums, (s) => s / n));
}

/** One train_step on `count` examples, `rows` a start index or a list of indices; undone when the loss is not finite. */
export function trainRows(model: Model, views: Feed[], rows: number | Uint32Array, count: number): StepResult {
  model.stage(slotsOf(model), views, rows, count);
  const saved = saveState(model);
  try {
    model.run("trainStep", count);
  } catch (e) {
    restoreState(model, saved); // a trap half-way through an update leaves no half-updated weights
    throw e;
  }
  const r = toResult(model, Array.from(results(model)));
  if (!Number.isFinite(r.loss)) restoreState(model, saved);
  return r;
}

/** [offset, bytes] of what a train step changes besides activations: step, seed, weights, optimizer slots. */
function stateRegions(model: Model): [number, number][] {
  const m = model.manifest, t = m.training!;
  const bytes = (name: string) => 4 * size(m.weights.find((w) => w.name === name)!.shape);
  return [[t.stepOffset, 4], [t.seedOffset, 4], ...m.weights.map((w) => [w.offset, bytes(w.name)] as [number, number]), ...t.slots.map((s) => [s.offset, bytes(s.weight)] as [number, number])];
}

const saved = new WeakMap<Model, { regions: [number, number][]; copy: Uint8Array }>();

/** Copies the training state into a buffer kept per model (no allocation per step). */
export function saveState(model: Model): Uint8Array {
  let s = saved.get(model);
  if (!s) {
    const regions = stateRegions(model);
    saved.set(model, (s = { regions, copy: new Uint8Array(regions.reduce((a, [, n]) => a + n, 0)) }));
  }
  const mem = model.memoryView();
  let at = 0;
  for (const [o, n] of s.regions) put(s.copy, mem.subarray(o, o + n), (at += n) - n);
  return s.copy;
}

export function restoreState(model: Model, copy: Uint8Array): void {
  const mem = model.memoryView();
  let at = 0;
  for (const [o, n] of saved.get(model)!.regions) put(mem, copy.subarray(at, (at += n)), o);
}

function results(model: Model): Float32Array {
  const t = model.manifest.training!;
  return model.f32(t.resultOffset, 1 + t.metrics.length);
}

function toResult(model: Model, values: number[]): StepResult {
  // fromEntries defines own properties: no metric name can reach the prototype.
  return { loss: values[0], metrics: Object.fromEntries(model.manifest.training!.metrics.map((name, i) => [name, values[i + 1]])) };
}

/** An integer option within [min, max], else a KilnError naming it. */
export function checkCount(name: string, v: unknown, min: number, max: number): void {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    fail("input", name, `${name} must be an integer ${max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`}, got ${v}`);
  }
}

/** An optimizer slot's name (whatever its optimizer keeps): it becomes part of a safetensors tensor name, optimizer/<slot>/<weight>. */
const SLOT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * The manifest's training part (manifest.ts checks the rest): its exports, result, step and seed
 * words, optimizer slots and layer outputs. Checked whenever present: loadModel writes the seed
 * word of any module that has one.
 */
export function checkTraining(m: Manifest, c: Checker): void {
  const t = m.training, e = m.exports;
  if (m.canTrain && (!t || !isString(e.trainStep) || !isString(e.evaluate) || e.trainStep === e.evaluate)) bad("canTrain is set but training or its exports are missing");
  if (t === undefined) return;
  if (!isObject(t) || !Array.isArray(t.metrics) || !t.metrics.every(isString) || !Array.isArray(t.slots)) bad("training: expected metrics (names) and slots (lists)");
  if (m.canTrain) {
    c.needExport(e.trainStep!);
    c.needExport(e.evaluate!);
  }
  c.region("training.resultOffset", t.resultOffset, 4 * (1 + t.metrics.length));
  c.region("training.stepOffset", t.stepOffset, 4, 0);
  c.region("training.seedOffset", t.seedOffset, 4, 0);
  if (t.learningRateOffset !== undefined) c.region("training.learningRateOffset", t.learningRateOffset, 4, 0);
  const weights = new Map(m.weights.map((w) => [w.name, w]));
  for (const s of t.slots) {
    const w = isObject(s) && isString(s.slot) && SLOT_NAME.test(s.slot) && isString(s.weight) ? weights.get(s.weight) : undefined;
    if (!w) bad(`training.slots: expected { slot: a name matching ${SLOT_NAME}, weight: a weight's name, offset }, got ${show(s)}`);
    c.region(`optimizer slot ${s.slot}/${s.weight}`, s.offset, size(w.shape) * 4, 0);
  }
  if (new Set(t.slots.map((s) => s.slot + "/" + s.weight)).size !== t.slots.length) bad("training.slots: a slot is listed twice");
  for (const o of t.layerOutputs ?? []) {
    if (!isObject(o) || !isString(o.layer) || !c.shapeOk(o.shape)) bad(`training.layerOutputs: bad layer ${show(o?.layer)} or shape`);
    c.region(`output of layer "${o.layer}"`, o.offset, m.maxBatch * size(o.shape) * 4);
  }
}

/** The rate the next step uses, as float32 (Keras's variable): the one set (modules with a settable rate), else the graph's number. */
export function learningRate(model: Model): number {
  const t = model.manifest.training!, lr = t.optimizer.learning_rate;
  if (typeof lr !== "number") {
    throw new KilnError({ code: "training", path: "learningRate", message: `this module's learning rate is a ${String((lr as { schedule?: unknown })?.schedule)} schedule, computed inside the module from the step; it has no single value to read or set` });
  }
  const set = t.learningRateOffset === undefined ? 0 : model.f32(t.learningRateOffset, 1)[0];
  return set > 0 ? set : Math.fround(lr);
}

/** Sets the rate of the following steps (stored as float32); needs a module compiled with settableLearningRate. */
export function setLearningRate(model: Model, lr: number): void {
  const t = model.manifest.training!;
  learningRate(model); // a schedule: refused there
  if (t.learningRateOffset === undefined) {
    throw new KilnError({ code: "training", path: "learningRate", message: "this module's learning rate is compiled in as a constant; compile it with { settableLearningRate: true } (kiln train does for --reduce-lr-patience) to change it while training" });
  }
  if (typeof lr !== "number" || !(Math.fround(lr) > 0) || !(Math.fround(lr) < Infinity)) {
    throw new KilnError({ code: "training", path: "learningRate", message: `expected a learning rate > 0 that is finite as float32, got ${String(lr)}` });
  }
  model.f32(t.learningRateOffset, 1)[0] = lr;
}
