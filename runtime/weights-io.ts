/**
 * Model.saveWeights / loadWeights: which tensors
 * a weights file holds (weights, optionally the optimizer slots and step), a safetensors reader
 * and writer for exactly those (F32 and I32), matching a file against them, and copying in and
 * out of memory. (safetensors.ts is the full reader the compiler and CLI use; this one is small
 * because every app ships it — a predict-only app only the reader, which a bundler keeps alone — and as strict where it matters: every byte of the data area belongs
 * to exactly one tensor, nothing is read outside the file, every value is checked before any is
 * written.) Values must be finite and optimizer state possible, or the next step would turn
 * every weight NaN.
 */
import { fail, KilnError, type Diagnostic } from "./errors.js";
import { firstNonFinite, genuine, put } from "./feeds.js";
import { typeName } from "./load.js";
import { size } from "./manifest.js";
import type { Predictor } from "./predictor.js";

/** A name from the file, cut short so one hostile name can't make a megabyte-long message. */
const cut = (s: string, max: number) => (s.length > max ? s.slice(0, max) + "…" : s);

type Dtype = "F32" | "I32";
type Stored = { dtype: Dtype; shape: number[]; offset: number };
type Tensor = { dtype: string; shape: number[]; bytes: Uint8Array };

/** The most optimizer steps a file may claim: 2^30 (the i32 counter must not overflow while training goes on). */
const MAX_STEP = 2 ** 30;
const SIZES: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Every tensor of a weights file: weights, and optionally the optimizer slots and step (a null-prototype map). */
function stored(model: Predictor, optimizer: boolean): Map<string, Stored> {
  const m = model.manifest;
  const map = new Map<string, Stored>(m.weights.map((w) => [w.name, { dtype: "F32", shape: w.shape, offset: w.offset }]));
  if (optimizer && m.training) {
    for (const s of m.training.slots) {
      const shape = m.weights.find((w) => w.name === s.weight)!.shape;
      map.set(`optimizer/${s.slot}/${s.weight}`, { dtype: "F32", shape, offset: s.offset });
    }
    map.set("optimizer/step", { dtype: "I32", shape: [], offset: m.training.stepOffset });
  }
  return map;
}

/** Safetensors bytes of every weight and, with `optimizer`, the optimizer state, laid out as the reference writer lays them out. */
export function saveWeights(model: Predictor, optimizer: boolean): Uint8Array {
  const enc = new TextEncoder(), memory = model.memoryView();
  const list = [...stored(model, optimizer)].map(([name, t]) => ({ name, key: enc.encode(name), bytes: 4 * size(t.shape), ...t }));
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

const fileError = (path: string, message: string): never => fail("safetensors", cut(path, 256), message);

/**
 * Reads the tensors of a safetensors file: a u64 header length, a JSON header of
 * name → { dtype, shape, data_offsets }, then the data, which the tensors must tile exactly.
 */
function read(file: unknown, maxTensors: { count: number; what: string }): Map<string, Tensor> {
  const bytes = genuine(file, Uint8Array) ?? fileError("header", `expected the weights file as a Uint8Array, got ${typeof file === "object" ? typeName(file) : String(file).slice(0, 40)}`);
  if (bytes.length < 8) fileError("header", `expected at least 8 bytes (the header length), got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8), n = dv.getUint32(0, true) + 2 ** 32 * dv.getUint32(4, true);
  if (n > bytes.length - 8 || n > 1e8) fileError("header", `header length ${n} runs past the end of the ${bytes.length}-byte file (or past 100 MB)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fileError("header", `expected a JSON object in UTF-8: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || !header || Array.isArray(header)) return fileError("header", "expected a JSON object");
  const names = Object.keys(header);
  // Counted before any tensor is built: a hostile header may name millions.
  if (names.length - (Object.hasOwn(header, "__metadata__") ? 1 : 0) > maxTensors.count) {
    fileError("header", `expected at most ${maxTensors.count} tensors (${maxTensors.what}), got more`);
  }
  const out = new Map<string, Tensor>(), spans: [number, number, string][] = [];
  for (const name of names) {
    const info = (header as Record<string, unknown>)[name];
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: at, ...rest } = (info ?? {}) as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const ints = (a: unknown): a is number[] => Array.isArray(a) && a.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!Object.hasOwn(SIZES, dtype) || !ints(shape) || !ints(at) || at.length !== 2 || Object.keys(rest).length) {
      fileError(name, `expected { "dtype": one of ${Object.keys(SIZES)}, "shape": [integers ≥ 0], "data_offsets": [begin, end] }, got ${JSON.stringify(info)?.slice(0, 120)}`);
    }
    if (at[1] - at[0] !== size(shape) * SIZES[dtype]) fileError(name, `data_offsets [${at}]: expected ${size(shape) * SIZES[dtype]} bytes for ${dtype} [${shape}]`);
    spans.push([at[0], at[1], name]);
    out.set(name, { dtype, shape, bytes: bytes.subarray(8 + n + at[0], 8 + n + at[1]) });
  }
  // Back to back from byte 0 to the end of the file: no gaps, no overlaps, nothing outside.
  let end = 0;
  for (const [b, e, name] of spans.sort((x, y) => x[0] - y[0] || x[1] - y[1])) {
    if (b !== end) fileError(name, `data_offsets [${b}, ${e}]: expected the data to start at byte ${end} (tensors are packed back to back)`);
    end = e;
  }
  if (end !== bytes.length - 8 - n) fileError("header", `expected the tensors to cover the ${bytes.length - 8 - n} data bytes exactly, got ${end}`);
  return out;
}

/**
 * Loads safetensors weights: every weight must be present; optimizer state (with `optimizer`: a
 * model that trains) is optional but, when present, complete (other models ignore it). All is
 * checked before anything is written.
 */
export function loadWeights(model: Predictor, file: Uint8Array, optimizer: boolean): void {
  // A file from a training model holds at most two optimizer slots per weight and the step.
  const tensors = read(file, { count: 3 * model.manifest.weights.length + 1, what: "the model's weights and optimizer state" });
  const want = stored(model, optimizer);
  // A hostile file can hold many bad tensors: the list keeps the first 20 and counts the rest (a
  // million bad entries cost neither a million objects nor a 70 MB message), and what is missing
  // (at most the model's own tensors) comes first so the cap never hides it.
  const problems: Diagnostic[] = [];
  let left = 0;
  const add = (name: string, message: string) => (problems.length < 20 ? problems.push({ code: "weights", path: cut(name, 256), message }) : left++);
  const anyOptimizer = [...tensors.keys()].some((k) => want.has(k) && k.startsWith("optimizer/"));
  for (const name of want.keys()) {
    if (!tensors.has(name) && (anyOptimizer || !name.startsWith("optimizer/"))) add(name, `missing from the weights file`);
  }
  const writes: [Stored, Float32Array | Int32Array][] = [];
  for (const [name, t] of tensors) {
    const w = want.get(name);
    if (!w) {
      if (!name.startsWith("optimizer/") || optimizer) add(name, `the model has no tensor "${cut(name, 64)}"`);
    } else if (t.dtype !== w.dtype || String(t.shape) !== String(w.shape) || t.shape.length !== w.shape.length) {
      add(name, `expected ${w.dtype} [${w.shape.join(", ")}], got ${t.dtype} [${t.shape.join(", ")}]`);
    } else {
      // A copy: aligned, and independent of the caller's buffer. (Little-endian hosts only, as every engine in use is.)
      const data = new (w.dtype === "I32" ? Int32Array : Float32Array)(t.bytes.slice().buffer);
      const problem = impossible(name, data);
      if (problem) add(name, problem);
      writes.push([w, data]);
    }
  }
  if (problems.length) throw new KilnError(problems, left);
  const memory = model.memoryView();
  for (const [w, data] of writes) put(memory, new Uint8Array(data.buffer), w.offset);
}

/** Values no training could have produced: non-finite ones, a step count out of range, a negative second moment. */
function impossible(name: string, data: Float32Array | Int32Array): string {
  if (name === "optimizer/step") return data[0] < 0 || data[0] > MAX_STEP ? `expected a step count in [0, 2^30], got ${data[0]}` : "";
  const i = firstNonFinite(data as Float32Array);
  if (i >= 0) return `element ${i} is ${data[i]}; expected finite values`;
  const v = name.startsWith("optimizer/velocity/") ? data.findIndex((x) => x < 0) : -1;
  return v < 0 ? "" : `element ${v} is ${data[v]}; an average of squared gradients is never negative`;
}
