/**
 * Model.saveWeights / loadWeights: which tensors a weights file holds (weights, optionally the
 * optimizer slots and step), a safetensors reader and writer for exactly those (F32 and I32),
 * matching a file against them, and copying in and out of memory. (safetensors.ts is the full
 * reader the compiler and CLI use; this one is small because every app ships it — a predict-only
 * app only the reader, which a bundler keeps alone — and as strict where it matters: every byte
 * of the data area belongs to exactly one tensor, nothing is read outside the file, every value
 * is checked before any is written.) Values must be finite and optimizer state possible, or the
 * next step would turn every weight NaN. A bad file throws a Refusal: its sentences are
 * load-errors.ts's, fetched by loadModel only when a file is refused (Model.loadWeights imports
 * them with itself).
 */
import { Refusal, refuse, type Problem } from "./errors.js";
import { firstNonFinite, genuine, put } from "./feeds.js";
import { typeName } from "./load.js";
import { isInt, isList, isObject, size } from "./manifest.js";
import type { Predictor } from "./predictor.js";
import type { Reasons } from "./load-errors.js";
import { Reason } from "./reasons.js";

/** A name from the file, cut short so one hostile name can't make a megabyte-long message. */
export const cut = (s: string, max: number) => (s.length > max ? s.slice(0, max) + "…" : s);

type Dtype = "F32" | "I32";
type Stored = { dtype: Dtype; shape: number[]; offset: number };
type Tensor = { dtype: string; shape: number[]; bytes: Uint8Array };

const SIZES: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };

/** The weights of a weights file (a model that does not train reads and writes no other tensor). */
function weightTensors(model: Predictor): Map<string, Stored> {
  return new Map(model.manifest.weights.map((w) => [w.name, { dtype: "F32", ...w }]));
}

/** Every tensor of a training model's weights file: the weights, the optimizer slots and the step. */
function trainingTensors(model: Predictor): Map<string, Stored> {
  const m = model.manifest, t = m.training!, map = weightTensors(model);
  for (const s of t.slots) {
    const shape = m.weights.find((w) => w.name === s.weight)!.shape;
    map.set(`optimizer/${s.slot}/${s.weight}`, { dtype: "F32", shape, offset: s.offset });
  }
  return map.set("optimizer/step", { dtype: "I32", shape: [], offset: t.stepOffset });
}

/** Safetensors bytes of every weight and, with `optimizer`, the optimizer state, laid out as the reference writer lays them out. */
export function saveWeights(model: Predictor, optimizer: boolean): Uint8Array {
  const enc = new TextEncoder(), memory = model.memoryView();
  const list = [...(optimizer ? trainingTensors(model) : weightTensors(model))].map(([name, t]) => ({ name, key: enc.encode(name), bytes: 4 * size(t.shape), ...t }));
  // The reference writer's order: wider dtypes first (F32 before I32), then names by UTF-8 bytes.
  list.sort((a, b) => (a.dtype === b.dtype ? compareBytes(a.key, b.key) : a.dtype === "F32" ? -1 : 1));
  let end = 0;
  const json = enc.encode(`{${list.map((t) => `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape}],"data_offsets":[${end},${(end += t.bytes)}]}`)}}`);
  const header = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + header + end).fill(32, 8 + json.length, 8 + header);
  new DataView(out.buffer).setUint32(0, header, true);
  out.set(json, 8);
  let at = 8 + header;
  for (const t of list) put(out, memory.subarray(t.offset, t.offset + t.bytes), (at += t.bytes) - t.bytes);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The file is refused for `reason` (a sentence of load-errors.ts); `path` names the tensor, or "header". */
const fileError = <R extends Reason>(path: string, reason: R, ...values: Parameters<Reasons[R]>): never => refuse("safetensors", cut(path, 256), reason, ...values);

/**
 * Reads the tensors of a safetensors file: a u64 header length, a JSON header of
 * name → { dtype, shape, data_offsets }, then the data, which the tensors must tile exactly.
 */
function read(file: unknown, maxTensors: number): Map<string, Tensor> {
  const bytes = genuine(file, Uint8Array) ?? fileError("header", Reason.fileType, typeof file === "object" ? typeName(file) : String(file).slice(0, 40));
  if (bytes.length < 8) fileError("header", Reason.short, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset), n = dv.getUint32(0, true) + 2 ** 32 * dv.getUint32(4, true);
  // The data area: from `data` to the end of the file.
  const data = 8 + n, dataBytes = bytes.length - data;
  if (dataBytes < 0 || n > 1e8) fileError("header", Reason.headerLength, n, bytes.length);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, data)));
  } catch (e) {
    fileError("header", Reason.headerJson, (e as Error).message);
  }
  if (!isObject(header)) return fileError("header", Reason.headerJson, "");
  const names = Object.keys(header).filter((name) => name !== "__metadata__");
  // Counted before any tensor is built: a hostile header may name millions.
  if (names.length > maxTensors) fileError("header", Reason.tensorCount, maxTensors);
  const out = new Map<string, Tensor>(), spans: [number, number, string][] = [];
  for (const name of names) {
    const info = header[name];
    const { dtype, shape, data_offsets: at, ...rest } = (info ?? {}) as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const ints = (a: unknown, length?: number): a is number[] => isList(a, (d): d is number => isInt(d), length);
    if (!Object.hasOwn(SIZES, dtype) || !ints(shape) || !ints(at, 2) || Object.keys(rest).length) fileError(name, Reason.entry, Object.keys(SIZES), info);
    const length = size(shape) * SIZES[dtype];
    if (at[1] - at[0] !== length) fileError(name, Reason.entryBytes, at, length, dtype, shape);
    spans.push([at[0], at[1], name]);
    out.set(name, { dtype, shape, bytes: bytes.subarray(data + at[0], data + at[1]) });
  }
  // Back to back from byte 0 to the end of the file: no gaps, no overlaps, nothing outside.
  let end = 0;
  for (const [b, e, name] of spans.sort((x, y) => x[0] - y[0] || x[1] - y[1])) {
    if (b !== end) fileError(name, Reason.packed, b, e, end);
    end = e;
  }
  if (end !== dataBytes) fileError("header", Reason.cover, dataBytes, end);
  return out;
}

/**
 * A training model's optimizer state in a weights file: its tensors, and the values no training
 * could have produced (a step count out of range, a negative second moment). Passed to loadWeights
 * by Model only, so a predict-only bundle leaves it out.
 */
export const optimizerState = { tensors: trainingTensors, impossible: impossibleState };

/**
 * Loads safetensors weights: every weight must be present; with `optimizer` (a model that
 * trains), optimizer state is optional but, when present, complete; other models ignore it. All
 * is checked before anything is written. A bad file throws a Refusal.
 */
export function loadWeights(model: Predictor, file: Uint8Array, optimizer?: typeof optimizerState): void {
  // A file from a training model holds at most two optimizer slots per weight and the step.
  const tensors = read(file, 3 * model.manifest.weights.length + 1);
  const want = optimizer ? optimizer.tensors(model) : weightTensors(model);
  // A hostile file can hold many bad tensors: the list keeps the first 20 and counts the rest (a
  // million bad entries cost neither a million objects nor a 70 MB message), and what is missing
  // (at most the model's own tensors) comes first so the cap never hides it.
  const problems: Problem[] = [];
  let left = 0;
  const add = (name: string, ...sentence: Problem[1]) => (problems.length < 20 ? problems.push([cut(name, 256), sentence]) : left++);
  const isState = (name: string) => name.startsWith("optimizer/");
  const anyOptimizer = [...tensors.keys()].some((k) => want.has(k) && isState(k));
  for (const name of want.keys()) {
    if (!tensors.has(name) && (anyOptimizer || !isState(name))) add(name, Reason.missing);
  }
  const writes: [Stored, Float32Array | Int32Array][] = [];
  for (const [name, t] of tensors) {
    const w = want.get(name);
    if (!w) {
      if (!isState(name) || optimizer) add(name, Reason.noTensor, cut(name, 64));
    } else if (t.dtype !== w.dtype || String(t.shape) !== String(w.shape)) {
      // (Integer lists: equal strings are equal lists, the empty one included.)
      add(name, Reason.tensorType, w.dtype, w.shape, t.dtype, t.shape);
    } else {
      // A copy: aligned, and independent of the caller's buffer. (Little-endian hosts only, as every engine in use is.)
      const data = new (w.dtype === "I32" ? Int32Array : Float32Array)(t.bytes.slice().buffer);
      const i = firstNonFinite(data);
      const problem: Problem[1] | undefined = i >= 0 ? [Reason.nonFinite, i, data[i]] : optimizer?.impossible(name, data);
      if (problem) add(name, ...problem);
      writes.push([w, data]);
    }
  }
  if (problems.length) throw new Refusal("weights", problems, left);
  const memory = model.memoryView();
  for (const [w, data] of writes) put(memory, new Uint8Array(data.buffer), w.offset);
}

/** Optimizer state no training could have produced (the values are finite): a step count out of range, a negative second moment. */
function impossibleState(name: string, data: Float32Array | Int32Array): Problem[1] | undefined {
  // The most optimizer steps a file may claim: 2^30 (the i32 counter must not overflow while training goes on).
  if (name === "optimizer/step") return data[0] < 0 || data[0] > 2 ** 30 ? [Reason.step, data[0]] : undefined;
  const v = name.startsWith("optimizer/velocity/") ? data.findIndex((x) => x < 0) : -1;
  return v < 0 ? undefined : [Reason.velocity, v, data[v]];
}
