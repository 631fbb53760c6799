/**
 * Runtime stage 3: a loaded model that predicts — what `kiln/runtime/predict` gives; model.ts's
 * Model adds training, saving and setting weights (setWeights, loadWeights: a Predictor takes its
 * weights from loadModel, so its sync calls carry no weights-file sentences). Moves caller data into the module's planned memory (the
 * manifest's byte offsets), calls the exports with a batch count, and reads results back. Every
 * call checks all of its arguments before it writes any memory; a trap inside an export surfaces
 * as a KilnError naming the export. It never touches the manifest's training regions (a
 * predict-only load does not check them): only Model writes the dropout seed and optimizer state.
 */
import { fail, KilnError } from "./errors.js";
import type { ThreadPool } from "./threads.js";
import type { runChecked } from "./debug.js";
import { badValue, bufferOf, checkFeeds, put, type Feed, type Feeds } from "./feeds.js";
import type { Decoding } from "./decode.js";
import { size, type DType, type Manifest, type Slot } from "./manifest.js";
import { parts } from "./parts.js";
import { loadWeights } from "./weights-io.js";

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: DType;
  range?: [number, number];
}

type Export = "predict" | "trainStep" | "evaluate" | "decode";

/**
 * Manifest entries as the model shows them: only the documented fields (name, shape and `keys`:
 * a slot's dtype and, when it has one, range), copied into fresh plain objects. A manifest's
 * other keys (a crafted one's too) never reach model.inputs and the rest (they did, with every
 * field but the offset, before), and editing a copy does not edit the manifest's.
 */
const described = (list: object[], keys = ["name", "shape", "dtype", "range"]) => JSON.parse(JSON.stringify(list, keys));

/**
 * Models of modules compiled with `decode` also have decode, resetCache, generate and
 * cachePosition (spec §7 "Generation"): decode.ts gives them to the model when it loads, so the
 * core a predict-only page parses carries none of that code. (Declared as optional methods, not
 * Partial<Decoding>'s properties, so that model.ts's Model can refuse them with methods.)
 */
export interface Predictor {
  decode?(inputs: Feeds): ReturnType<Decoding["decode"]>;
  resetCache?(): void;
  generate?(...args: Parameters<Decoding["generate"]>): Int32Array;
  readonly cachePosition?: number;
}

export class Predictor {
  declare readonly manifest: Manifest;
  declare readonly inputs: TensorInfo[];
  declare readonly outputs: TensorInfo[];
  declare readonly targets: TensorInfo[];
  declare readonly weights: { name: string; shape: number[]; trainable: boolean }[];
  declare readonly maxBatch: number;
  declare readonly canTrain: boolean;
  #memory?: WebAssembly.Memory;
  /** @internal The module's exports (a plain field: the debug-guard test swaps one to sabotage a kernel call). */
  private declare exports: WebAssembly.Exports;

  /** Use loadModel(); this wires an instantiated module to its manifest. */
  constructor(manifest: Manifest, exports: WebAssembly.Exports, memory: WebAssembly.Memory) {
    this.#memory = memory;
    // One assignment of the fields (fewer bytes than one statement each: the predict-only runtime's size limit).
    Object.assign(this, {
      manifest, exports, maxBatch: manifest.maxBatch, canTrain: manifest.canTrain,
      inputs: described(manifest.inputs), outputs: described(manifest.outputs), targets: described(manifest.targets),
      weights: described(manifest.weights, ["name", "shape", "trainable"]),
    });
  }

  /** Outputs for any number of examples; batches above maxBatch are split transparently. */
  predict(inputs: Feeds): Record<string, Float32Array> {
    // A disposed model is refused by staging (#slotView), before anything runs (no live() here: the size limit).
    const { inputs: slots, outputs } = this.manifest, { n, views } = checkFeeds(slots, inputs, "input");
    // fromEntries defines own properties: an output named "__proto__" is data, not the prototype.
    // Each output is one allocation, filled by one copy out of module memory per chunk of maxBatch.
    const out: Record<string, Float32Array> = Object.fromEntries(outputs.map((s) => [s.name, new Float32Array(n * size(s.shape))]));
    for (let start = 0; start < n; start += this.maxBatch) {
      const count = Math.min(this.maxBatch, n - start);
      // One input: checkFeeds ran no caller code after checking it (a getter for another input could change it).
      this.stage(slots, views, start, count, !slots[1]);
      this.run("predict", count);
      for (const s of outputs) put(out[s.name], this.#slotView(s).subarray(0, count * size(s.shape)), start * size(s.shape));
    }
    return out;
  }

  /** Copies of every weight by full name. */
  getWeights(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = Object.create(null);
    for (const w of this.manifest.weights) out[w.name] = this.f32(w.offset, size(w.shape)).slice();
    return out;
  }

  /**
   * @internal Loads a weights file (loadModel's `weights`, or the weights the module embeds): every
   * weight must be present, optimizer state is ignored (Model reads it when it trains). All is
   * checked before anything is written; a bad file throws a Refusal, whose sentences loadModel fetches.
   */
  readWeights(bytes: Uint8Array): void {
    loadWeights(this, bytes);
  }

  /** Releases the module; every later call throws a KilnError. */
  dispose(): void {
    this.pool?.terminate();
    this.pool = undefined;
    this.#memory = undefined;
    this.exports = {};
    this.#views.clear();
    this.#viewBuffer = undefined;
  }

  /**
   * Debugging: a live view of the module's whole linear memory (tests hash it to prove rejected
   * calls wrote nothing; the NaN finder saves and restores training state through it). Do not write.
   */
  memoryView(): Uint8Array {
    return new Uint8Array(this.live().buffer);
  }

  // ---- internals shared with model.ts, train.ts, fit.ts, decode.ts and loadModel ----


  /** @internal Writes initial weights (`seeded`: unless embedded or loaded from a file). */
  initialize(seeded: boolean): void {
    if (seeded) parts().init?.initialize(this);
  }

  /**
   * @internal Copies rows of checked data into the slots' memory (`rows`: a start index, or a list
   * of indices), then checks what was staged: data a caller changed after the check (in a fit
   * callback, or from another thread through shared memory) is refused before the module runs.
   * `checked` (predict of a one-input model): no caller code ran since the views were checked, so
   * only data in a SharedArrayBuffer (another thread writes it at any time) can have changed, and
   * only that is scanned again (the scan cost predict ~0.3 µs of ~47 at batch 1 on the bench MLP).
   * A SharedArrayBuffer whose prototype a caller swapped to ArrayBuffer's passes for unshared: a
   * NaN another thread then writes between the check and the copy reaches the module (a NaN
   * output, no error). ArrayBuffer's byteLength getter would tell it by its internal slot, for
   * ~51 B (24 gzipped) more: past the predict-only runtime's LIMIT on 2026-12-07.
   */
  stage(slots: Slot[], views: Feed[], rows: number | Uint32Array, count: number, checked?: boolean): void {
    slots.forEach((s, k) => {
      const per = size(s.shape), src = views[k], dst = this.#slotView(s);
      // One refusal for both ways data can change after its check (one sentence: the size limit).
      let bad: string | false = "its buffer was detached or resized";
      if (src.length) {
        if (typeof rows === "number") put(dst, src.subarray(rows * per, (rows + count) * per));
        else for (let j = 0; j < count; j++) put(dst, src.subarray(rows[j] * per, (rows[j] + 1) * per), j * per);
        // Unless another thread can write it (a SharedArrayBuffer), what predict checked is what it copied.
        bad = !(checked && bufferOf.call(src) instanceof ArrayBuffer) && badValue(s, dst.subarray(0, count * per));
      }
      if (bad) this.fail(s.name, `"${s.name}" changed after it was checked: ${bad}`);
    });
  }

  /**
   * A typed view of a slot's whole buffer (maxBatch examples), made once per memory buffer: views
   * are rebuilt only when `memory.buffer` is a new object (after a grow), so calls allocate none.
   */
  #slotView(s: Slot): Feed {
    const buffer = this.live().buffer;
    if (buffer !== this.#viewBuffer) {
      this.#views.clear();
      this.#viewBuffer = buffer;
    }
    let v = this.#views.get(s);
    if (!v) this.#views.set(s, (v = new (s.dtype === "int32" ? Int32Array : Float32Array)(buffer, s.offset, this.maxBatch * size(s.shape))));
    return v;
  }
  readonly #views = new Map<Slot, Feed>();
  #viewBuffer?: ArrayBufferLike;

  /** Threaded modules: the workers sharing every call (set by loadModel({ threads })). */
  declare pool?: ThreadPool;
  /** Debug builds: runs a program call by call, checking the guards (set by loadModel). */
  declare checked?: typeof runChecked;

  /** @internal Runs an export on `batch` staged examples; a trap becomes a KilnError naming the layer. */
  run(which: Export, batch: number): void {
    const name = this.manifest.exports[which]!, pool = this.pool;
    if (pool?.stopped) this.fail(name, pool.stopped, "trap");
    try {
      if (pool) pool.run(name, batch);
      else if (this.checked) this.checked(this.manifest, this.exports, this.live(), name, batch);
      else (this.exports[name] as (batch: number) => void)(batch);
    } catch (e) {
      if (e instanceof KilnError && e.diagnostics[0].code === "corruption") throw e;
      const [kernel, layers] = this.#trapSite(name, e) ?? [];
      const where = layers ? ` in kernel ${kernel} of layer ${layers.map((l) => `"${l}"`).join(" or ")}` : "";
      const thread = (e as { thread?: number }).thread;
      const message = `the module failed inside export "${name}"${where}${thread ? ` on thread ${thread}` : ""} (batch ${batch}): ${(e as Error)?.message ?? e}`;
      // Threaded: the pool stops its threads (later calls throw); the weights stay readable.
      pool?.stop(message);
      this.fail(name, message, "trap", layers?.join(", "));
    }
  }

  /**
   * The kernel call a trap came from (manifest.kernels): the progress cell of the thread that
   * trapped (exact, even when kernels were inlined; kiln compiles one into every module), else,
   * for a table without one, the stack (trap-stack.ts, loaded with the manifest's checks then).
   */
  #trapSite(exp: string, e: unknown): [kernel: string, layers: string[]] | undefined {
    // `calls` is a list (the manifest's checks make every entry one) only when the table exists.
    const table = this.manifest.kernels!, calls = table?.calls[exp];
    if (!Array.isArray(calls) || !this.#memory) return;
    // Threaded builds: one cell per thread, and the thread that trapped first is the one to blame.
    const cell = this.pool ? table.threadProgress && table.threadProgress + 4 * ((e as { thread?: number }).thread ?? 0) : table.progressOffset;
    if (cell === undefined) return parts().stack?.(table, calls, e);
    const call = calls[new Int32Array(this.#memory.buffer, cell, 1)[0]];
    return call && [call[0], [call[1]]];
  }

  /** @internal */
  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.live().buffer, offset, length);
  }

  /** @internal The module's memory; a KilnError once the model was disposed. */
  live(): WebAssembly.Memory {
    return this.#memory ?? this.fail("", "the model was disposed", "disposed");
  }

  /** @internal */
  fail(path: string, message: string, code = "input", layer?: string): never {
    return fail(code, path, message, layer);
  }
}
