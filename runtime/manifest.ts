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
  slots: { slot: "momentum" | "velocity"; weight: string; offset: number }[];
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

const isInt = (v: unknown, min = 0): v is number => Number.isSafeInteger(v) && (v as number) >= min;

/** Structural checks; a manifest that fails them would make the runtime write out of bounds. */
export function checkManifest(m: Manifest, exportNames: string[]): void {
  if (!m || m.format !== "kiln.module/v1") bad(`expected format "kiln.module/v1", got ${JSON.stringify(m?.format)}`);
  if (!isInt(m.maxBatch, 1)) bad(`maxBatch must be a positive integer, got ${m.maxBatch}`);
  if (!isInt(m.memory?.pages, 1)) bad(`memory.pages must be a positive integer, got ${m.memory?.pages}`);
  if (!Number.isSafeInteger(m.seed)) bad(`seed must be an integer, got ${m.seed}`);
  const limit = m.memory.pages * 65536;
  const region = (what: string, offset: unknown, bytes: number) => {
    if (!isInt(offset) || offset % 4 !== 0 || offset + bytes > limit) {
      bad(`${what}: offset ${offset} (+${bytes} bytes) is not 4-byte aligned inside the ${limit}-byte memory`);
    }
  };
  const shapeOk = (s: unknown): s is number[] => Array.isArray(s) && s.every((d) => isInt(d, 1));
  for (const key of ["inputs", "targets", "outputs"] as const) {
    if (!Array.isArray(m[key])) bad(`${key} must be a list`);
    for (const s of m[key]) {
      if (!shapeOk(s.shape) || (s.dtype !== "float32" && s.dtype !== "int32")) {
        bad(`${key} "${s.name}": bad shape ${JSON.stringify(s.shape)} or dtype ${JSON.stringify(s.dtype)}`);
      }
      region(`${key} "${s.name}"`, s.offset, m.maxBatch * size(s.shape) * 4);
    }
  }
  if (!Array.isArray(m.weights)) bad("weights must be a list");
  for (const w of m.weights) {
    if (!shapeOk(w.shape)) bad(`weight "${w.name}": bad shape ${JSON.stringify(w.shape)}`);
    region(`weight "${w.name}"`, w.offset, size(w.shape) * 4);
  }
  const need = [m.exports?.predict];
  if (m.canTrain) {
    const t = m.training;
    if (!t || !m.exports.trainStep || !m.exports.evaluate) bad("canTrain is set but training or its exports are missing");
    need.push(m.exports.trainStep, m.exports.evaluate);
    region("training.resultOffset", t.resultOffset, 4 * (1 + t.metrics.length));
    region("training.stepOffset", t.stepOffset, 4);
    region("training.seedOffset", t.seedOffset, 4);
    for (const s of t.slots) {
      const w = m.weights.find((x) => x.name === s.weight);
      if (!w) bad(`optimizer slot ${s.slot} names unknown weight "${s.weight}"`);
      region(`optimizer slot ${s.slot}/${s.weight}`, s.offset, size(w.shape) * 4);
    }
    for (const o of t.layerOutputs ?? []) {
      if (typeof o.layer !== "string" || !shapeOk(o.shape)) bad(`training.layerOutputs: bad layer ${JSON.stringify(o.layer)} or shape`);
      region(`output of layer "${o.layer}"`, o.offset, m.maxBatch * size(o.shape) * 4);
    }
  }
  if (m.kernels) {
    const k = m.kernels;
    if (k.progressOffset !== undefined) region("kernels.progressOffset", k.progressOffset, 4);
    const pair = (c: unknown) => Array.isArray(c) && c.length === 2 && c.every((x) => typeof x === "string");
    for (const calls of Object.values(k.calls ?? bad("kernels.calls is missing"))) {
      if (!Array.isArray(calls) || !calls.every(pair)) bad("kernels.calls: expected lists of [kernel, layer] pairs");
    }
    if (k.functions !== undefined && !Object.values(k.functions).every((f) => typeof f === "string")) bad("kernels.functions: expected kernel names");
  }
  for (const name of need) {
    if (!exportNames.includes(name as string)) bad(`the module does not export "${name}" named by the manifest`);
  }
}
