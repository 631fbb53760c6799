/**
 * Runtime stage 3: a loaded model. Moves caller data into the module's planned memory (the
 * manifest's byte offsets), calls the exports (`predict`, `train_step`, `evaluate`) with a batch
 * count, and reads results back. Every call checks all of its arguments before it writes any
 * memory; a trap inside an export surfaces as a KilnError naming the export.
 */
import { KilnError, type Diagnostic } from "./errors.js";
import type { ThreadPool } from "./threads.js";
import type { runChecked } from "./debug.js";
import { checkCount, checkFeeds, type Feeds } from "./feeds.js";
import type { FitOptions, History } from "./fit.js";
import { capabilities, typeName, type Capabilities } from "./load.js";
import { size, type DType, type Manifest, type Slot } from "./manifest.js";
import { parts } from "./parts.js";

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: DType;
  range?: [number, number];
}

export interface StepResult {
  loss: number;
  metrics: Record<string, number>;
}

type Export = "predict" | "trainStep" | "evaluate";

const info = ({ name, shape, dtype, range }: Slot): TensorInfo => (range ? { name, shape, dtype, range } : { name, shape, dtype });

export class Model {
  readonly manifest: Manifest;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  readonly targets: TensorInfo[];
  readonly weights: { name: string; shape: number[]; trainable: boolean }[];
  readonly maxBatch: number;
  readonly canTrain: boolean;
  readonly capabilities: Capabilities = capabilities();
  private memory?: WebAssembly.Memory;
  private exports: WebAssembly.Exports;

  /** Use loadModel(); this wires an instantiated module to its manifest. */
  constructor(manifest: Manifest, exports: WebAssembly.Exports, memory: WebAssembly.Memory) {
    this.manifest = manifest;
    this.exports = exports;
    this.memory = memory;
    this.inputs = manifest.inputs.map(info);
    this.outputs = manifest.outputs.map(info);
    this.targets = manifest.targets.map(info);
    this.weights = manifest.weights.map(({ name, shape, trainable }) => ({ name, shape, trainable }));
    this.maxBatch = manifest.maxBatch;
    this.canTrain = manifest.canTrain;
  }

  /** Outputs for any number of examples; batches above maxBatch are split transparently. */
  predict(inputs: Feeds): Record<string, Float32Array> {
    this.live();
    const n = checkFeeds(this.manifest.inputs, inputs, "input");
    if (n <= this.maxBatch) {
      // One chunk (the latency case): each output is one copy out of module memory, nothing else allocated.
      this.stage(this.manifest.inputs, inputs, 0, n);
      this.run("predict", n);
      // fromEntries defines own properties: an output named "__proto__" is data, not the prototype.
      return Object.fromEntries(this.manifest.outputs.map((s) => [s.name, this.outputCopy(s, n)]));
    }
    const out: Record<string, Float32Array> = Object.fromEntries(this.manifest.outputs.map((s) => [s.name, new Float32Array(n * size(s.shape))]));
    for (let start = 0; start < n; start += this.maxBatch) {
      const count = Math.min(this.maxBatch, n - start);
      this.stage(this.manifest.inputs, inputs, start, count);
      this.run("predict", count);
      for (const s of this.manifest.outputs) {
        const per = size(s.shape);
        out[s.name].set(this.view(s.dtype, s.offset, count * per), start * per);
      }
    }
    return out;
  }

  /** One optimizer step on one batch (at most maxBatch examples); loss and metrics before the update. */
  trainStep(batch: Feeds): StepResult {
    const n = this.checkData(batch, "trainStep");
    if (n > this.maxBatch) {
      this.fail("batch", `trainStep takes at most maxBatch = ${this.maxBatch} examples, got ${n}; use fit() for more`);
    }
    return this.trainRows(batch, 0, n);
  }

  /** Trains on `data`; see fit.ts for the options and the History it resolves to. */
  async fit(data: Feeds, opts?: FitOptions): Promise<History> {
    // Loaded on first use, so pages that only predict never fetch the training loop.
    const { fit } = await import("./fit.js");
    return fit(this, data, opts);
  }

  /** Inference-mode loss and metrics over all of `data`, means weighted by batch size. */
  evaluate(data: Feeds, { batchSize = 32 }: { batchSize?: number } = {}): StepResult {
    const n = this.checkData(data, "evaluate");
    checkCount("batchSize", batchSize, 1, Infinity);
    const step = Math.min(batchSize, this.maxBatch); // inference mode: chunking does not change results
    const sums = new Float64Array(1 + this.manifest.training!.metrics.length);
    for (let start = 0; start < n; start += step) {
      const count = Math.min(step, n - start);
      this.stage(this.trainSlots(), data, start, count);
      this.run("evaluate", count);
      this.results().forEach((v, i) => (sums[i] += v * count));
    }
    return this.toResult(Array.from(sums, (s) => s / n));
  }

  /** Copies of every weight by full name. */
  getWeights(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const w of this.manifest.weights) out[w.name] = this.f32(w.offset, size(w.shape)).slice();
    return out;
  }

  /** Sets some weights; every entry is checked (known name, Float32Array, exact length) before any is written. */
  setWeights(partial: Record<string, Float32Array>): void {
    this.live();
    if (typeof partial !== "object" || partial === null) this.fail("", `setWeights expects an object of Float32Arrays, got ${typeName(partial)}`);
    const problems: Diagnostic[] = [];
    for (const [name, value] of Object.entries(partial)) {
      const w = this.manifest.weights.find((x) => x.name === name);
      const n = w && size(w.shape);
      const message = !w
        ? `unknown weight "${name}"; the model has ${this.manifest.weights.map((x) => `"${x.name}"`).join(", ")}`
        : !(value instanceof Float32Array)
          ? `expected a Float32Array, got ${typeName(value)}`
          : value.length !== n
            ? `expected ${n} elements (shape [${w.shape.join(", ")}]), got ${value.length}`
            : "";
      if (message) problems.push({ code: "weights", path: name, message });
    }
    if (problems.length) throw new KilnError(problems);
    for (const [name, value] of Object.entries(partial)) {
      const w = this.manifest.weights.find((x) => x.name === name)!;
      this.f32(w.offset, value.length).set(value);
    }
  }

  /** Safetensors bytes of every weight and (by default, when the model trains) the optimizer state. */
  saveWeights({ optimizer = this.canTrain }: { optimizer?: boolean } = {}): Uint8Array {
    return parts().io.saveWeights(this, optimizer && this.canTrain);
  }

  /**
   * Loads safetensors weights: every weight must be present; optimizer state is optional but, when
   * present, complete (an inference-only model ignores it). All is checked before anything is written.
   * (The code is in weights-io.ts, loaded lazily with the safetensors reader.)
   */
  loadWeights(bytes: Uint8Array): void {
    this.live();
    parts().io.loadWeights(this, bytes);
  }

  /** Releases the module; every later call throws a KilnError. */
  dispose(): void {
    this.pool?.terminate();
    this.pool = undefined;
    this.memory = undefined;
    this.exports = {};
    this.views.clear();
    this.viewBuffer = undefined;
  }

  /**
   * Debugging: a live view of the module's whole linear memory (tests hash it to prove rejected
   * calls wrote nothing; the NaN finder saves and restores training state through it). Do not write.
   */
  memoryView(): Uint8Array {
    return new Uint8Array(this.live().buffer);
  }

  // ---- internals shared with fit.ts and loadModel ----

  /** @internal Checks training data (inputs and targets); returns its example count. */
  checkData(data: Feeds, caller: string): number {
    this.live();
    if (!this.canTrain) this.fail("", `${caller} needs a model compiled with training; this one is inference-only`);
    return checkFeeds(this.trainSlots(), data, "input or target");
  }

  /** @internal One train_step on `count` examples: rows `rows` (a start index, or a list of indices). */
  trainRows(data: Feeds, rows: number | Uint32Array, count: number): StepResult {
    this.stage(this.trainSlots(), data, rows, count);
    this.run("trainStep", count);
    return this.toResult(Array.from(this.results()));
  }

  /** @internal Writes initial weights (unless embedded) and the dropout seed. */
  initialize(): void {
    const m = this.manifest;
    if (!m.weightsEmbedded) m.weights.forEach((w, i) => this.f32(w.offset, size(w.shape)).set(parts().init.initialValues(w, m.seed, i)));
    if (m.training) new Uint32Array(this.memory!.buffer, m.training.seedOffset, 1)[0] = m.seed >>> 0;
  }

  private trainSlots(): Slot[] {
    return [...this.manifest.inputs, ...this.manifest.targets];
  }

  private stage(slots: Slot[], data: Feeds, rows: number | Uint32Array, count: number): void {
    for (const s of slots) {
      const per = this.per(s), src = data[s.name], dst = this.slotView(s);
      if (typeof rows === "number") {
        const from = rows * per, len = count * per;
        dst.set(from === 0 && len === src.length ? src : src.subarray(from, from + len));
      } else {
        for (let j = 0; j < count; j++) dst.set(src.subarray(rows[j] * per, (rows[j] + 1) * per), j * per);
      }
    }
  }

  /** A Float32Array copy of an output slot's first `n` examples (one allocation). */
  private outputCopy(s: Slot, n: number): Float32Array {
    const v = this.slotView(s);
    return v instanceof Float32Array ? v.slice(0, n * this.per(s)) : new Float32Array(v.subarray(0, n * this.per(s)));
  }

  /** Elements per example of a slot (cached: predict runs this per call). */
  private per(s: Slot): number {
    let n = this.perSlot.get(s);
    if (n === undefined) this.perSlot.set(s, (n = size(s.shape)));
    return n;
  }
  private readonly perSlot = new Map<Slot, number>();

  /**
   * A typed view of a slot's whole buffer (maxBatch examples), made once per memory buffer: views
   * are rebuilt only when `memory.buffer` is a new object (after a grow), so calls allocate none.
   */
  private slotView(s: Slot): Float32Array | Int32Array {
    const buffer = this.live().buffer;
    if (buffer !== this.viewBuffer) {
      this.views.clear();
      this.viewBuffer = buffer;
    }
    let v = this.views.get(s);
    if (!v) this.views.set(s, (v = this.view(s.dtype, s.offset, this.maxBatch * this.per(s))));
    return v;
  }
  private readonly views = new Map<Slot, Float32Array | Int32Array>();
  private viewBuffer?: ArrayBufferLike;

  /** Threaded modules: the workers sharing every call (set by loadModel({ threads })). */
  pool?: ThreadPool;
  /** Debug builds: runs a program call by call, checking the guards (set by loadModel). */
  checked?: typeof runChecked;

  private run(which: Export, batch: number): void {
    const name = this.manifest.exports[which]!;
    try {
      if (this.pool) this.pool.run(name, batch);
      else if (this.checked) this.checked(this.manifest, this.exports, this.live(), name, batch);
      else (this.exports[name] as (batch: number) => void)(batch);
    } catch (e) {
      if (e instanceof KilnError) throw e; // the debug runner's "corruption": already names the kernel call
      const at = this.trapSite(name, e);
      const where = at ? ` in kernel ${at.kernel} of layer ${at.layers.map((l) => `"${l}"`).join(" or ")}` : "";
      this.fail(name, `the module failed inside export "${name}"${where} (batch ${batch}): ${(e as Error)?.message ?? e}`, "trap", at?.layers.join(", "));
    }
  }

  /**
   * The kernel call a trap came from (manifest.kernels): the progress cell when the module keeps
   * one (exact, even when kernels were inlined), else the innermost kernel frame of the stack —
   * "wasm-function[7]" through kernels.functions, or a named frame "at k3 (wasm…" / "k3@wasm…".
   */
  private trapSite(exp: string, e: unknown): { kernel: string; layers: string[] } | undefined {
    const table = this.manifest.kernels, calls = table?.calls[exp];
    if (!table || !Array.isArray(calls)) return;
    if (table.progressOffset !== undefined && this.memory) {
      const call = calls[new Int32Array(this.memory.buffer, table.progressOffset, 1)[0]];
      if (call) return { kernel: call[0], layers: [call[1]] };
    }
    for (const line of String((e as Error)?.stack).split("\n")) {
      const index = /wasm-function\[(\d+)\]/.exec(line)?.[1];
      const fn = (index && table.functions?.[index]) || /(\w+)(?: \(|@)wasm/.exec(line)?.[1];
      const layers = [...new Set(calls.filter((c) => c[0] === fn).map((c) => c[1]))];
      if (layers.length) return { kernel: fn!, layers };
    }
  }

  private results(): Float32Array {
    const t = this.manifest.training!;
    return this.f32(t.resultOffset, 1 + t.metrics.length);
  }

  private toResult(values: number[]): StepResult {
    const metrics: Record<string, number> = {};
    this.manifest.training!.metrics.forEach((name, i) => (metrics[name] = values[i + 1]));
    return { loss: values[0], metrics };
  }

  /** @internal A typed view of module memory (weights-io.ts reads and writes weights through it). */
  view(dtype: DType, offset: number, length: number): Float32Array | Int32Array {
    const buffer = this.live().buffer;
    return dtype === "int32" ? new Int32Array(buffer, offset, length) : new Float32Array(buffer, offset, length);
  }

  private f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.live().buffer, offset, length);
  }

  private live(): WebAssembly.Memory {
    return this.memory ?? this.fail("", "the model was disposed", "disposed");
  }

  private fail(path: string, message: string, code = "input", layer?: string): never {
    throw new KilnError(layer ? { code, path, layer, message } : { code, path, message });
  }
}
