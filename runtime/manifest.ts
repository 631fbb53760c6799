/**
 * Runtime stage 1: read the `kiln.manifest` custom section of a compiled module and check that it
 * describes a memory layout the runtime can use safely (4-byte aligned tensors inside the declared
 * memory, the exports it names present). The manifest is the runtime's only knowledge of the
 * model; nothing here knows about ops.
 */
import { KilnError } from "./errors.js";
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

export interface TrainingInfo {
  loss: { type: string; output: string; target: string; from_logits: boolean };
  metrics: string[];
  optimizer: Record<string, unknown> & { type: string };
  /** f32 [loss, ...metrics], batch means. */
  resultOffset: number;
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
   * [maxBatch, ...shape] at `offset`, left intact until train_step returns.
   */
  layerOutputs?: { layer: string; offset: number; shape: number[] }[];
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

/** An optimizer slot's name: it becomes part of a safetensors tensor name (optimizer/<slot>/<weight>). */
const SLOT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

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
  exports: { predict: string; trainStep?: string; evaluate?: string };
  training?: TrainingInfo;
  /** true: the module's data already holds trained weights; do not initialize. */
  weightsEmbedded?: boolean;
  kernels?: KernelTable;
  /** Debug builds: the guard regions the runtime fills and checks after every kernel. */
  debug?: DebugInfo;
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function bad(message: string): never {
  throw new KilnError({ code: "manifest", path: "kiln.manifest", message });
}

/** Reads and checks the manifest of a compiled module. */
export function readManifest(mod: WebAssembly.Module): Manifest {
  const sections = WebAssembly.Module.customSections(mod, "kiln.manifest");
  if (sections.length !== 1) {
    bad(`expected one "kiln.manifest" custom section (is this a module kiln compiled?), found ${sections.length}`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(new TextDecoder().decode(sections[0]));
  } catch (e) {
    return bad(`the manifest is not valid JSON (${(e as Error).message})`);
  }
  checkManifest(m, WebAssembly.Module.exports(mod).map((e) => e.name));
  return m;
}

const isInt = (v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const show = (v: unknown) => String(JSON.stringify(v)).slice(0, 80);

/** The initializers the runtime knows (init.ts). */
export const INITIALIZERS = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal", "random_normal", "random_uniform", "uniform", "orthogonal", "ones", "zeros"];

/**
 * Structural checks; a manifest that fails them would make the runtime write out of bounds, throw
 * a TypeError, or compute silently wrong answers. Every region must lie inside memory, and no
 * state (weights, optimizer slots, the step and seed words) may share bytes with anything else,
 * nor one input with another: a crafted manifest must not let predict overwrite a weight.
 */
export function checkManifest(m: Manifest, exportNames: string[]): void {
  if (!isObject(m) || m.format !== "kiln.module/v1") bad(`expected format "kiln.module/v1", got ${show((m as Manifest)?.format)}`);
  if (!isInt(m.maxBatch, 1)) bad(`maxBatch must be a positive integer, got ${m.maxBatch}`);
  if (!isInt(m.memory?.pages, 1, 65536)) bad(`memory.pages must be an integer in [1, 65536], got ${m.memory?.pages}`);
  if (!Number.isSafeInteger(m.seed)) bad(`seed must be an integer, got ${m.seed}`);
  const limit = m.memory.pages * 65536;
  // [start, end, what, kind]: kind 0 state, 1 input data, 2 written by the module (outputs, results).
  const spans: [number, number, string, number][] = [];
  const region = (what: string, offset: unknown, bytes: number, kind = 2) => {
    if (!isInt(offset) || offset % 4 !== 0 || offset + bytes > limit) {
      bad(`${what}: offset ${show(offset)} (+${bytes} bytes) is not 4-byte aligned inside the ${limit}-byte memory`);
    }
    spans.push([offset, offset + bytes, what, kind]);
  };
  const shapeOk = (s: unknown): s is number[] => Array.isArray(s) && s.length <= 8 && s.every((d) => isInt(d, 1)) && size(s) <= limit;
  const names = <T extends { name: string }>(key: string): T[] => {
    const list = m[key as "inputs"] as unknown as T[];
    if (!Array.isArray(list) || !list.every((e) => isObject(e) && isString(e.name))) bad(`${key} must be a list of named entries`);
    if (new Set(list.map((e) => e.name)).size !== list.length) bad(`${key}: two entries share a name`);
    return list;
  };
  for (const key of ["inputs", "targets", "outputs"] as const) {
    for (const s of names<Slot>(key)) {
      const range = s.range === undefined || (Array.isArray(s.range) && s.range.length === 2 && s.range.every((x) => isInt(x, -(2 ** 31), 2 ** 31)) && s.range[0] < s.range[1]);
      if (!shapeOk(s.shape) || (s.dtype !== "float32" && s.dtype !== "int32") || !range) {
        bad(`${key} "${s.name}": bad shape ${show(s.shape)}, dtype ${show(s.dtype)} or range ${show(s.range)}`);
      }
      region(`${key} "${s.name}"`, s.offset, m.maxBatch * size(s.shape) * 4, key === "outputs" ? 2 : 1);
    }
  }
  const weights = new Map(names<WeightEntry>("weights").map((w) => [w.name, w]));
  for (const w of weights.values()) {
    if (!shapeOk(w.shape)) bad(`weight "${w.name}": bad shape ${show(w.shape)}`);
    const i = w.initializer, n = size(w.shape);
    const ones = i?.onesRange === undefined || (Array.isArray(i.onesRange) && isInt(i.onesRange[0]) && isInt(i.onesRange[1], i.onesRange[0], n));
    if (!isObject(i) || !INITIALIZERS.includes(i.name as string) || !isInt(i.fanIn) || !isInt(i.fanOut) || !ones) bad(`weight "${w.name}": bad initializer ${show(i)}`);
    region(`weight "${w.name}"`, w.offset, n * 4, 0);
  }
  const e = m.exports;
  if (!isObject(e) || !isString(e.predict) || [e.trainStep, e.evaluate, "train_step"].includes(e.predict as string)) bad(`exports.predict must name the inference program, got ${show(e)}`);
  const need = [e.predict];
  const t = m.training;
  if (m.canTrain && (!t || !isString(e.trainStep) || !isString(e.evaluate) || e.trainStep === e.evaluate)) bad("canTrain is set but training or its exports are missing");
  // Checked whenever present: loadModel writes the seed word of any module that has one.
  if (t !== undefined) {
    if (!isObject(t) || !Array.isArray(t.metrics) || !t.metrics.every(isString) || !Array.isArray(t.slots)) bad("training: expected metrics (names) and slots (lists)");
    if (m.canTrain) need.push(e.trainStep!, e.evaluate!);
    region("training.resultOffset", t.resultOffset, 4 * (1 + t.metrics.length));
    region("training.stepOffset", t.stepOffset, 4, 0);
    region("training.seedOffset", t.seedOffset, 4, 0);
    if (t.learningRateOffset !== undefined) region("training.learningRateOffset", t.learningRateOffset, 4, 0);
    for (const s of t.slots) {
      const w = isObject(s) && isString(s.slot) && SLOT_NAME.test(s.slot) && isString(s.weight) ? weights.get(s.weight) : undefined;
      if (!w) bad(`training.slots: expected { slot: a name matching ${SLOT_NAME}, weight: a weight's name, offset }, got ${show(s)}`);
      region(`optimizer slot ${s.slot}/${s.weight}`, s.offset, size(w.shape) * 4, 0);
    }
    if (new Set(t.slots.map((s) => s.slot + "/" + s.weight)).size !== t.slots.length) bad("training.slots: a slot is listed twice");
    for (const o of t.layerOutputs ?? []) {
      if (!isObject(o) || !isString(o.layer) || !shapeOk(o.shape)) bad(`training.layerOutputs: bad layer ${show(o?.layer)} or shape`);
      region(`output of layer "${o.layer}"`, o.offset, m.maxBatch * size(o.shape) * 4);
    }
  }
  if (m.kernels !== undefined) {
    const k = m.kernels;
    if (!isObject(k)) bad("kernels must be an object");
    if (k.progressOffset !== undefined) region("kernels.progressOffset", k.progressOffset, 4);
    const pair = (c: unknown) => Array.isArray(c) && c.length === 2 && c.every(isString);
    if (!isObject(k.calls)) bad("kernels.calls is missing");
    for (const calls of Object.values(k.calls)) {
      if (!Array.isArray(calls) || !calls.every(pair)) bad("kernels.calls: expected lists of [kernel, layer] pairs");
    }
    if (k.functions !== undefined && !(isObject(k.functions) && Object.values(k.functions).every(isString))) bad("kernels.functions: expected kernel names");
  }
  if (m.threads) checkThreads(m, region);
  const debug = (m as { debug?: { guards?: { persistent?: unknown; programs?: unknown } } }).debug;
  if (debug !== undefined) {
    const g = debug?.guards, list = (l: unknown) => Array.isArray(l) && l.every((x) => Array.isArray(x) && x.length === 2 && isInt(x[1]) && x[1] % 4 === 0 && (region("debug.guards", x[0], x[1]), true));
    if (!isObject(g) || !list(g.persistent) || !isObject(g.programs) || !Object.values(g.programs).every(list)) bad("debug.guards: expected lists of [offset, bytes] inside memory");
  }
  for (const name of need) {
    if (!exportNames.includes(name as string)) bad(`the module does not export "${name}" named by the manifest`);
  }
  checkOverlaps(spans);
}

/** Threaded builds: the thread count, control words and each program's barrier count (the runtime sizes per-thread buffers by it). */
function checkThreads(m: Manifest, region: (what: string, offset: unknown, bytes: number) => void): void {
  const n = m.maxThreads;
  if (!isInt(n, 1, 64)) bad(`maxThreads must be an integer in [1, 64], got ${show(n)}`);
  region("threadControl", m.threadControl, 16);
  region("threadSplits", m.threadSplits, 4 * (n + 1));
  if (m.kernels?.threadProgress !== undefined) region("kernels.threadProgress", m.kernels.threadProgress, 4 * n);
  if (!isObject(m.threadSegments)) bad("threadSegments must be an object");
  for (const [name, p] of Object.entries(m.threadSegments)) {
    // A program passes at most one barrier per kernel call.
    const most = Math.min(65536, m.kernels?.calls?.[name]?.length ?? 65536);
    const ok = isObject(p) && isInt(p.barriers, 0, most) && Array.isArray(p.batch) && p.batch.every((b) => isInt(b, 0, p.barriers - 1)) && (p.align === undefined || isInt(p.align, 1));
    if (!ok) bad(`threadSegments.${name}: expected barriers (an integer ≤ ${most}), batch (barrier indices) and align (a positive integer), got ${show(p)}`);
  }
}

/** No span of state shares bytes with any other span, nor one input with another (sorted by start: one pass). */
function checkOverlaps(spans: [number, number, string, number][]): void {
  const ends: [number, string][] = [[0, ""], [0, ""], [0, ""]];
  // What each kind may not overlap: state nothing; inputs state and inputs; written regions state.
  const clash = [[0, 1, 2], [0, 1], [0]];
  for (const [start, end, what, kind] of spans.sort((a, b) => a[0] - b[0])) {
    if (start === end) continue;
    for (const k of clash[kind]) if (start < ends[k][0]) bad(`${what} overlaps ${ends[k][1]}`);
    if (end > ends[kind][0]) ends[kind] = [end, what];
  }
}
