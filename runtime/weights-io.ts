/**
 * Model.saveWeights / loadWeights, in the lazily loaded part of the runtime (with the safetensors
 * reader and writer, which only they use): which tensors a weights file holds (weights, optionally
 * the optimizer slots and step), matching a file against them, and copying in and out of memory.
 */
import { KilnError, more, type Diagnostic } from "./errors.js";
import { size } from "./manifest.js";
import type { Model } from "./model.js";
import { asFloat32, asInt32, readSafetensors, writeSafetensors } from "./safetensors.js";

/** A name from the file, cut short so one hostile name can't make a megabyte-long message. */
const cut = (s: string, max: number) => (s.length > max ? s.slice(0, max) + "…" : s);

type Stored = { dtype: "F32" | "I32"; shape: number[]; offset: number };
const kind = (t: Stored) => (t.dtype === "I32" ? "int32" : "float32");

/** Every tensor of a weights file: weights, and optionally the optimizer slots and step. */
function stored(model: Model, optimizer: boolean): Map<string, Stored> {
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

/** Safetensors bytes of every weight and, with `optimizer`, the optimizer state. */
export function saveWeights(model: Model, optimizer: boolean): Uint8Array {
  const record: Record<string, { dtype: "F32" | "I32"; shape: number[]; data: Float32Array | Int32Array }> = {};
  for (const [name, t] of stored(model, optimizer)) {
    record[name] = { dtype: t.dtype, shape: t.shape, data: model.view(kind(t), t.offset, size(t.shape)).slice() };
  }
  return writeSafetensors(record);
}

/**
 * Loads safetensors weights: every weight must be present; optimizer state is optional but, when
 * present, complete (an inference-only model ignores it). All is checked before anything is written.
 */
export function loadWeights(model: Model, bytes: Uint8Array): void {
  const want = stored(model, model.canTrain);
  // A file from a training model holds at most two optimizer slots per weight and the step.
  const { tensors } = readSafetensors(bytes, { maxTensors: { count: 3 * model.manifest.weights.length + 1, what: "the model's weights and optimizer state" } });
  // A hostile file can hold millions of tensors: the list is capped, and what is missing (at most
  // the model's own tensors) comes first so the cap never hides it.
  const problems = new Problems();
  const add = (name: string, message: string) => problems.add({ code: "weights", path: cut(name, 256), message });
  let anyOptimizer = false;
  for (const k of tensors.keys()) if (want.has(k) && k.startsWith("optimizer/")) anyOptimizer = true;
  for (const name of want.keys()) {
    if (!tensors.has(name) && (anyOptimizer || !name.startsWith("optimizer/"))) add(name, `missing from the weights file`);
  }
  for (const [name, t] of tensors) {
    const w = want.get(name);
    if (!w) {
      if (!name.startsWith("optimizer/") || model.canTrain) add(name, `the model has no tensor "${cut(name, 64)}"`);
    } else if (t.dtype !== w.dtype || String(t.shape) !== String(w.shape) || t.shape.length !== w.shape.length) {
      add(name, `expected ${w.dtype} [${w.shape.join(", ")}], got ${t.dtype} [${t.shape.join(", ")}]`);
    }
  }
  problems.throwIfAny();
  for (const [name, t] of tensors) {
    const w = want.get(name);
    if (!w) continue;
    const data = w.dtype === "I32" ? asInt32(t, name) : asFloat32(t, name);
    model.view(kind(w), w.offset, data.length).set(data);
  }
}

/**
 * A list of problems that keeps the first `max` and counts the rest, so a hostile file with a
 * million bad entries costs neither a million objects nor a 70 MB message.
 */
class Problems {
  readonly list: Diagnostic[] = [];
  private rest = 0;
  constructor(private readonly max = 20) {}

  add(d: Diagnostic): void {
    if (this.list.length < this.max) this.list.push(d);
    else this.rest++;
  }

  /** Throws one KilnError with the kept problems and the count of the rest, if there were any. */
  throwIfAny(): void {
    if (!this.list.length) return;
    throw new KilnError(this.rest ? [...this.list, more(this.list[0]!.code, this.rest)] : this.list);
  }
}
