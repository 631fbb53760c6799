/**
 * Runtime stage 1: read the `kiln.manifest` custom section of a compiled module and check that it
 * describes a memory layout the runtime can use safely (4-byte aligned tensors inside the declared
 * memory, the exports it names present). The manifest is the runtime's only knowledge of the
 * model; nothing here knows about ops.
 */
import { refuse } from "./errors.js";
import type { Reasons } from "./load-errors.js";
import { Reason } from "./reasons.js";
import { part, parts as loaded } from "./parts.js";
import type { DebugInfo } from "./debug.js";

export type DType = "float32" | "int32";

/** A tensor of [maxBatch, ...shape] at byte `offset`, row-major. */
export interface Slot {
  name: string;
  shape: number[];
  dtype: DType;
  offset: number;
  /** Integer ids must lie in [lo, hi). */
  range?: [number, number];
}

export interface WeightEntry {
  /** Full name, "conv1/kernel". */
  name: string;
  shape: number[];
  trainable: boolean;
  offset: number;
  initializer: { name: string; fanIn: number; fanOut: number; onesRange?: [number, number] };
}

export interface LossInfo { type: string; output: string; target: string; from_logits: boolean; weight?: number }

export interface TrainingInfo {
  /** The first (with one output, the only) loss. */
  loss: LossInfo;
  /** Every output's loss, with several outputs. */
  losses?: LossInfo[];
  /** The log names after `loss`, as Keras 3 names them (`<output>_loss`, metrics). */
  metrics: string[];
  optimizer: Record<string, unknown> & { type: string };
  /** f32 [loss, ...metrics]: running values since the metric state was last zeroed. */
  resultOffset: number;
  /** f32 [maxBatch]: each example's weight in the loss (Keras sample_weight; 1 when none is given). Absent in modules of older kilns. */
  sampleWeightOffset?: number;
  /**
   * The logs' state (f64 totals, counts, confusion counts), zeroed before an epoch, an evaluate or
   * a trainStep; with it the results are running values. Absent in modules of older kilns, whose
   * results are batch figures the runtime averages.
   */
  metricState?: { offset: number; bytes: number };
  /** i32: completed optimizer steps. */
  stepOffset: number;
  /** u32: the runtime writes manifest.seed here at load (dropout masks). */
  seedOffset: number;
  /** Per weight, the optimizer's slots ("momentum", "velocity", …: whatever its optimizer keeps). */
  slots: { slot: string; weight: string; offset: number }[];
  /**
   * Optional: f32 the optimizer reads as its learning rate when nonzero (0: the graph's number),
   * in modules compiled with settableLearningRate.
   */
  learningRateOffset?: number;
  /**
   * Optional (the NaN finder): every layer's output in train_step, in forward order; f32
   * [maxBatch, ...shape] at `offset`, intact right after train_step's call number `call` (the last
   * that writes it; the arena may reuse the bytes later in the step). Without `call` (modules
   * compiled before 2026-12-07's arena change), intact until train_step returns. `folded`: the
   * layers whose outputs have no buffer because a fusion computes them inside this layer's kernels
   * (zero padding folded into a conv, a dense into the activation layer after it, an inverted
   * residual block's inner layers), in forward order; absent when none (and in older modules).
   */
  layerOutputs?: { layer: string; offset: number; shape: number[]; call?: number; folded?: string[] }[];
}

/** Optional: where traps happen. Per export name, its kernel calls in order: [function, layer]. */
export interface KernelTable {
  calls: Record<string, [string, string][]>;
  /** An i32 each export sets to the index of the call it is about to make (exact even when inlined). */
  progressOffset?: number;
  /** Wasm function index (imports counted first, as engines print "wasm-function[7]") → kernel function name. */
  functions?: Record<string, string>;
  /** Threaded builds: i32[maxThreads], each thread's own progress cell (the cell above is thread 0's in `<program>` calls). */
  threadProgress?: number;
}

export interface Manifest {
  format: "kiln.module/v1";
  name: string;
  seed: number;
  maxBatch: number;
  canTrain: boolean;
  simd: "simd128" | "relaxed-simd";
  threads: boolean;
  /** Threaded builds: the most threads the work was split for, and the control words' offset. */
  maxThreads?: number;
  threadControl?: number;
  /** Threaded builds: i32[maxThreads + 1], where each thread's share of the batch starts. */
  threadSplits?: number;
  /**
   * Threaded builds, per program: how many barriers it passes, those ending a segment of
   * batch-split calls only, and what each thread's share must start on a multiple of (the
   * filter-gradient chunk; 1 without one).
   */
  threadSegments?: Record<string, { barriers: number; batch: number[]; align?: number }>;
  memory: { pages: number; weightsBytes: number; arenaBytes: number };
  inputs: Slot[];
  targets: Slot[];
  outputs: Slot[];
  weights: WeightEntry[];
  exports: { predict: string; trainStep?: string; evaluate?: string; decode?: string };
  training?: TrainingInfo;
  /** true: the module's data already holds trained weights; do not initialize. */
  weightsEmbedded?: boolean;
  kernels?: KernelTable;
  /** Debug builds: the guard regions the runtime fills and checks after every kernel. */
  debug?: DebugInfo;
  /** Modules compiled with `decode`: the one-position program and its caches (decode.ts checks it when it attaches). */
  decode?: DecodeInfo;
}

/**
 * The decode program (export `exports.decode`): per example, one token at one position. Its
 * inputs and outputs are slots like predict's, for one position ([1] and [1, …]); the runtime
 * writes each example's position (i32) at positionOffset + 4·example; the caches are the
 * attention layers' keys and values for every position so far ([maxBatch, context, …] f32).
 */
export interface DecodeInfo {
  context: number;
  positionOffset: number;
  inputs: Slot[];
  outputs: Slot[];
  caches: { layer: string; offset: number; bytes: number }[];
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** The manifest is refused for `reason` (a sentence of load-errors.ts, loaded only then). */
function wrong<R extends Reason>(reason: R, ...values: Parameters<Reasons[R]>): never {
  return refuse("manifest", "kiln.manifest", reason, ...values);
}

/**
 * The training part of the runtime (train.ts), fetched by a load that trains (index.ts gives it;
 * `kiln/runtime/predict` has none, so its bundle holds no reference to training code).
 */
export type TrainingPart = () => Promise<typeof import("./train.js")>;

/**
 * Reads and checks the manifest of a compiled module. The checks of its optional parts live with
 * the code that uses them and load with it: training (train.ts; only given `training`: a
 * predict-only load never touches those regions), threads (threads.ts) and debug guards
 * (debug.ts), so an inference-only module loads none of them.
 */
export async function readManifest(mod: WebAssembly.Module, training?: TrainingPart): Promise<Manifest> {
  const sections = WebAssembly.Module.customSections(mod, "kiln.manifest");
  if (sections.length !== 1) {
    wrong(Reason.sections, sections.length);
  }
  let m: Manifest;
  try {
    m = JSON.parse(new TextDecoder().decode(sections[0]));
  } catch (e) {
    return wrong(Reason.json, (e as Error).message);
  }
  const o: Partial<Manifest> = isObject(m) ? m : {};
  const checks = await part("manifest checking", Promise.all([
    training && (o.canTrain || o.training !== undefined) && training().then((t) => t.checkTraining),
    o.threads && import("./threads.js").then((t) => t.checkThreads),
    o.debug !== undefined && import("./debug.js").then((d) => d.checkGuards),
    // A kernel table without this build's progress cells: traps are located from the stack.
    isObject(o.kernels) && (o.threads ? o.kernels.threadProgress : o.kernels.progressOffset) === undefined &&
      import("./trap-stack.js").then((s) => ((loaded().stack = s.stackSite), s.checkFunctions)),
  ]));
  const parts = checks.filter(Boolean) as PartCheck[];
  checkManifest(m, WebAssembly.Module.exports(mod).map((e) => e.name), parts);
  partChecks.set(m, parts);
  return m;
}

/** The checks of its optional parts readManifest ran on a manifest (decode.ts runs them again with its own). */
export const partChecks = new WeakMap<Manifest, PartCheck[]>();

export const isInt = (v: unknown, min = 0, max = Infinity): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isString = (v: unknown): v is string => typeof v === "string";
/** `v` is a list (of `length` entries, when given) whose every entry passes `test`. */
export const isList = <T>(v: unknown, test: (x: unknown) => x is T, length?: number): v is T[] => Array.isArray(v) && (length === undefined || v.length === length) && v.every(test);

/** What the checks of a manifest's parts share: its memory regions so far, and shape and export checks. */
export interface Checker {
  /** Records a region of memory; it must be 4-byte aligned inside memory. Kind: 0 state, 1 input data, 2 written by the module (default). */
  region(what: string, offset: unknown, bytes: number, kind?: number): void;
  shapeOk(s: unknown): s is number[];
  /** Requires an export of the module that the manifest names. */
  needExport(name: string): void;
}

/** A check of one optional part of the manifest, loaded with the code that uses that part. */
export type PartCheck = (m: Manifest, c: Checker) => void;

/**
 * Structural checks; a manifest that fails them would make the runtime write out of bounds, throw
 * a TypeError, or compute silently wrong answers. Every region must lie inside memory, and no
 * state (weights, optimizer slots, the step and seed words) may share bytes with anything else,
 * nor one input with another: a crafted manifest must not let predict overwrite a weight.
 */
export function checkManifest(m: Manifest, exportNames: string[], parts: PartCheck[] = []): void {
  if (!isObject(m) || m.format !== "kiln.module/v1") wrong(Reason.format, (m as Manifest)?.format);
  if (!isInt(m.maxBatch, 1)) wrong(Reason.maxBatch, m.maxBatch);
  if (!isInt(m.memory?.pages, 1, 65536)) wrong(Reason.pages, m.memory?.pages);
  if (!isInt(m.seed, -Infinity)) wrong(Reason.seed, m.seed);
  const limit = m.memory.pages * 65536;
  // [start, end, what, kind]: kind 0 state, 1 input data, 2 written by the module (outputs, results).
  const spans: [number, number, string, number][] = [];
  const c: Checker = {
    region(what, offset, bytes, kind = 2) {
      if (!isInt(offset, 0, limit - bytes) || offset % 4) {
        wrong(Reason.region, what, offset, bytes, limit);
      }
      spans.push([offset, offset + bytes, what, kind]);
    },
    shapeOk: (s): s is number[] => isList(s, (d): d is number => isInt(d, 1)) && s.length <= 8 && size(s) <= limit,
    needExport(name) {
      if (!exportNames.includes(name)) wrong(Reason.noExport, name);
    },
  };
  const names = <T extends { name: string }>(key: string): T[] => {
    const list = m[key as "inputs"] as unknown as T[];
    if (!isList(list, (e): e is T => isObject(e) && isString(e.name))) wrong(Reason.named, key);
    if (new Set(list.map((e) => e.name)).size !== list.length) wrong(Reason.sameName, key);
    return list;
  };
  for (const key of ["inputs", "targets", "outputs"] as const) {
    for (const s of names<Slot>(key)) {
      const range = s.range === undefined || (isList(s.range, (x): x is number => isInt(x, -(2 ** 31), 2 ** 31), 2) && s.range[0] < s.range[1]);
      if (!c.shapeOk(s.shape) || (s.dtype !== "float32" && s.dtype !== "int32") || !range) {
        wrong(Reason.slot, key, s);
      }
      c.region(`${key} "${s.name}"`, s.offset, m.maxBatch * size(s.shape) * 4, key === "outputs" ? 2 : 1);
    }
  }
  for (const w of names<WeightEntry>("weights")) {
    // Initializers are checked by init.ts, only when a load computes them.
    if (!c.shapeOk(w.shape)) wrong(Reason.weightShape, w.name, w.shape);
    c.region(`weight "${w.name}"`, w.offset, size(w.shape) * 4, 0);
  }
  const e = m.exports;
  if (!isObject(e) || !isString(e.predict) || [e.trainStep, e.evaluate, "train_step"].includes(e.predict as string)) wrong(Reason.predict, e);
  c.needExport(e.predict);
  const k = m.kernels;
  if (k !== undefined) {
    const pair = (c: unknown): c is string[] => isList(c, isString, 2);
    if (!isObject(k) || !isObject(k.calls) || !Object.values(k.calls).every((calls) => isList(calls, pair))) wrong(Reason.kernels, k);
    if (k.progressOffset !== undefined) c.region("kernels.progressOffset", k.progressOffset, 4);
  }
  for (const check of parts) check(m, c);
  checkOverlaps(spans);
}

/** No span of state shares bytes with any other span, nor one input with another (sorted by start: one pass). */
function checkOverlaps(spans: [number, number, string, number][]): void {
  const ends: [number, string][] = [[0, ""], [0, ""], [0, ""]];
  for (const [start, end, what, kind] of spans.sort((a, b) => a[0] - b[0])) {
    if (start === end) continue;
    // What each kind may not overlap: kinds 0 to 2 − kind (state nothing; inputs state and inputs; written regions state).
    for (let k = 0; k <= 2 - kind; k++) if (start < ends[k][0]) wrong(Reason.overlap, what, ends[k][1]);
    if (end > ends[kind][0]) ends[kind] = [end, what];
  }
}
