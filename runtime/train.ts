/**
 * Model.trainStep and Model.evaluate, and the step both they and fit() run, in a part of the
 * runtime loaded only for modules that train (an app that only predicts never fetches it).
 * A step whose loss is not finite is undone: weights, optimizer state, the step counter and the
 * dropout seed are copied before every step and written back, so a caught error leaves the model
 * exactly as it was (the update of a NaN loss would otherwise turn every weight NaN).
 * The manifest's training checks are here too: loaded only for manifests that have a training part.
 */
import { checkFeeds, fail, isObject, isString, KilnError, put, size } from "./core.js";
import type { Feed, Feeds } from "./feeds.js";
import type { Checker, Manifest, Slot } from "./manifest.js";
import { bad, show } from "./part-checks.js";
import type { Model, StepResult } from "./model.js";
import type { Batches } from "./stream.js";

/** Batches (a function or an iterable) rather than whole arrays; stream.ts's isBatches, kept here so evaluating arrays loads no stream code. */
const isBatches = (data: unknown): data is Batches =>
  typeof data === "function" || (typeof data === "object" && data !== null && !ArrayBuffer.isView(data) && (Symbol.asyncIterator in data || Symbol.iterator in data));

const slotsOf = (model: Model): Slot[] => [...model.manifest.inputs, ...model.manifest.targets];

/** Checks training data (inputs and targets); returns its example count and views. */
export const checkData = (model: Model, data: Feeds) => checkFeeds(slotsOf(model), data, "input or target");

/** Per-example weights in the loss: Keras `sample_weight`, or `class_weight` turned into them as Keras's data adapters do. */
export interface WeightOptions {
  /** One finite weight per example (Keras sample_weight). */
  sampleWeight?: ArrayLike<number>;
  /** Class id → weight (Keras class_weight): each example weighs its class's weight. One output only; not with sampleWeight. */
  classWeight?: Record<string | number, number>;
}

export function trainStep(model: Model, batch: Feeds, opts: WeightOptions = {}): StepResult {
  const { n, views } = checkData(model, batch);
  if (n > model.maxBatch) model.fail("batch", `trainStep takes at most maxBatch = ${model.maxBatch} examples, got ${n}; use fit() for more`);
  const weights = exampleWeights(model, views, n, opts, "trainStep");
  resetMetrics(model); // Keras train_on_batch(reset_metrics=True): this batch's figures
  const r = trainRows(model, views, 0, n, weights);
  if (!Number.isFinite(r.loss)) {
    throw new KilnError({ code: "diverged", path: "trainStep", message: `the loss became ${r.loss}; the step was undone (weights and optimizer state are as before the call)` });
  }
  return r;
}

/**
 * Keras's evaluate: the loss and metrics over all of `data` (a module with metric state computes
 * them over the whole set, as Keras's stateful metrics; an older one's batch figures are averaged
 * weighted by batch size), the loss weighted by `sampleWeight` when given. Batches go to stream.ts.
 */
export function evaluate(model: Model, data: Feeds | Batches, opts?: { batchSize?: number; steps?: number; sampleWeight?: ArrayLike<number> }): StepResult | Promise<StepResult> {
  if (isBatches(data)) return import("./stream.js").then((s) => s.evaluateBatches(model, data, opts));
  return evaluateArrays(model, data, opts);
}

function evaluateArrays(model: Model, data: Feeds, { batchSize = 32, sampleWeight }: { batchSize?: number; sampleWeight?: ArrayLike<number> } = {}): StepResult {
  const { n, views } = checkData(model, data);
  checkCount("batchSize", batchSize, 1, Infinity);
  const weights = exampleWeights(model, views, n, { sampleWeight }, "evaluate");
  const step = Math.min(batchSize, model.maxBatch); // inference mode: chunking does not change results
  const running = runningLogs(model);
  const sums = new Float64Array(1 + model.manifest.training!.metrics.length);
  resetMetrics(model);
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    model.stage(slotsOf(model), views, start, count);
    stageWeights(model, weights, start, count);
    model.run("evaluate", count);
    if (!running) results(model).forEach((v, i) => (sums[i] += v * count));
  }
  return toResult(model, running ? Array.from(results(model)) : Array.from(sums, (s) => s / n));
}

/** Whether the module reports running values over the calls since resetMetrics (modules with metric state). */
export const runningLogs = (model: Model): boolean => model.manifest.training!.metricState !== undefined;

/** Zeroes the logs' state: the next step or evaluation starts Keras's metrics afresh. */
export function resetMetrics(model: Model): void {
  const s = model.manifest.training!.metricState;
  if (s) model.memoryView().fill(0, s.offset, s.offset + s.bytes);
}

/**
 * The examples' weights in the loss as one Float32Array (undefined: every weight 1), from
 * sampleWeight or classWeight; a KilnError naming the option and what is wrong otherwise.
 */
export function exampleWeights(model: Model, views: Feed[], n: number, o: WeightOptions, where: string): Float32Array | undefined {
  const { sampleWeight: sw, classWeight: cw } = o;
  if (sw === undefined && cw === undefined) return undefined;
  const t = model.manifest.training!;
  const fail = (path: string, message: string): never => { throw new KilnError({ code: "input", path: `${where}.${path}`, message }); };
  if (t.sampleWeightOffset === undefined) fail(sw !== undefined ? "sampleWeight" : "classWeight", "this module takes no example weights (compiled by an older kiln); compile it again");
  if (sw !== undefined && cw !== undefined) fail("classWeight", "give sampleWeight or classWeight, not both (Keras refuses both at once too)");
  if (sw !== undefined) {
    if (sw === null || typeof sw !== "object" || typeof (sw as ArrayLike<number>).length !== "number") fail("sampleWeight", `expected an array of ${n} numbers (one per example), got ${typeof sw}`);
    if (sw.length !== n) fail("sampleWeight", `expected one weight per example: ${n}, got ${sw.length}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(sw[i]);
      if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v))) fail("sampleWeight", `weight ${i} (counting from 0) is ${String(sw[i])}; weights must be finite numbers`);
      out[i] = v;
    }
    return out;
  }
  return classWeights(model, views, n, cw!, (msg) => fail("classWeight", msg));
}

/**
 * Keras's class_weight_to_sample_weights: the class of an example is its int32 id, the argmax of a
 * one-hot target (first index on ties), or a one-value target rounded half to even; the weight is
 * the map's entry for it. Unlike Keras (1 for a class missing from the map), a class missing from
 * the map is refused: it is more often a mistake than a wish.
 */
function classWeights(model: Model, views: Feed[], n: number, cw: Record<string | number, number>, fail: (m: string) => never): Float32Array {
  const t = model.manifest.training!;
  if (t.losses && t.losses.length > 1) fail(`class weights apply to a model with one output (Keras: "class_weight is only supported for Models with a single output"); this one has ${t.losses.length}: give sampleWeight instead`);
  if (cw === null || typeof cw !== "object" || Array.isArray(cw)) fail(`expected a map { class id: weight }, got ${Array.isArray(cw) ? "an array" : typeof cw}`);
  const map = new Map<number, number>();
  for (const key of Object.keys(cw)) {
    const id = Number(key), w = (cw as Record<string, unknown>)[key];
    if (!/^(0|[1-9][0-9]{0,9})$/.test(key)) fail(`key ${JSON.stringify(key)} is not a class id (an integer ≥ 0)`);
    if (typeof w !== "number" || !Number.isFinite(w) || !Number.isFinite(Math.fround(w))) fail(`the weight of class ${key} is ${String(w)}; weights must be finite numbers`);
    map.set(id, w);
  }
  const slot = model.manifest.targets.findIndex((s) => s.name === t.loss.target);
  const target = model.manifest.targets[slot]!, y = views[model.manifest.inputs.length + slot]!;
  const per = target.shape.reduce((a, b) => a * b, 1);
  if (target.shape.length > 1 || (target.dtype === "int32" && per !== 1)) fail(`class weights need one class per example; target "${target.name}" has shape [${target.shape.join(", ")}] per example`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const id = target.dtype === "int32" || per === 1 ? roundHalfEven(y[i * per]!) : argmax(y, i * per, per);
    const w = map.get(id);
    if (w === undefined) fail(`example ${i} (counting from 0) of target "${target.name}" is class ${id}, which has no weight in the map (classes in the map: ${[...map.keys()].sort((a, b) => a - b).join(", ") || "none"}); give every class a weight`);
    out[i] = w;
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function argmax(a: Feed, at: number, n: number): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (a[at + c]! > a[at + best]!) best = c;
  return best;
}

/** Writes the staged examples' weights (1 where none are given). */
export function stageWeights(model: Model, weights: Float32Array | undefined, rows: number | Uint32Array, count: number): void {
  const at = model.manifest.training!.sampleWeightOffset;
  if (at === undefined) return;
  const dst = model.f32(at, count);
  if (!weights) dst.fill(1);
  else if (typeof rows === "number") dst.set(weights.subarray(rows, rows + count));
  else for (let i = 0; i < count; i++) dst[i] = weights[rows[i]!]!;
}

/** One train_step on `count` examples, `rows` a start index or a list of indices; undone when the loss is not finite. */
export function trainRows(model: Model, views: Feed[], rows: number | Uint32Array, count: number, weights?: Float32Array): StepResult {
  model.stage(slotsOf(model), views, rows, count);
  stageWeights(model, weights, rows, count);
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
  // The metric state too: an undone step must not count in the epoch's figures.
  return [[t.stepOffset, 4], [t.seedOffset, 4], ...(t.metricState ? [[t.metricState.offset, t.metricState.bytes] as [number, number]] : []),
    ...m.weights.map((w) => [w.offset, bytes(w.name)] as [number, number]), ...t.slots.map((s) => [s.offset, bytes(s.weight)] as [number, number])];
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

export function results(model: Model): Float32Array {
  const t = model.manifest.training!;
  return model.f32(t.resultOffset, 1 + t.metrics.length);
}

export function toResult(model: Model, values: number[]): StepResult {
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
  if (t.sampleWeightOffset !== undefined) c.region("training.sampleWeightOffset", t.sampleWeightOffset, 4 * m.maxBatch, 1);
  if (t.metricState !== undefined) {
    if (!isObject(t.metricState) || !Number.isInteger(t.metricState.bytes) || t.metricState.bytes < 8 || t.metricState.bytes % 8 !== 0) bad("training.metricState: expected { offset, bytes: a positive multiple of 8 }");
    c.region("training.metricState", t.metricState.offset, t.metricState.bytes, 0);
  }
  const weights = new Map(m.weights.map((w) => [w.name, w]));
  for (const s of t.slots) {
    const w = isObject(s) && isString(s.slot) && SLOT_NAME.test(s.slot) && isString(s.weight) ? weights.get(s.weight) : undefined;
    if (!w) bad(`training.slots: expected { slot: a name matching ${SLOT_NAME}, weight: a weight's name, offset }, got ${show(s)}`);
    c.region(`optimizer slot ${s.slot}/${s.weight}`, s.offset, size(w.shape) * 4, 0);
  }
  if (new Set(t.slots.map((s) => s.slot + "/" + s.weight)).size !== t.slots.length) bad("training.slots: a slot is listed twice");
  for (const o of t.layerOutputs ?? []) {
    if (!isObject(o) || !isString(o.layer) || !c.shapeOk(o.shape)) bad(`training.layerOutputs: bad layer ${show(o?.layer)} or shape`);
    const calls = m.kernels?.calls[e.trainStep ?? ""]?.length ?? 0;
    if (o.call !== undefined && !(Number.isInteger(o.call) && o.call >= 0 && o.call < calls)) bad(`training.layerOutputs: the call of layer ${show(o.layer)} is ${show(o.call)}, not one of train_step's ${calls} calls`);
    if (o.folded !== undefined && !(Array.isArray(o.folded) && o.folded.every(isString))) bad(`training.layerOutputs: the layers folded into layer ${show(o.layer)} must be a list of names, got ${show(o.folded)}`);
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
