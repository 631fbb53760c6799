/**
 * Runtime stage 3 for `kiln/runtime`: a loaded model that predicts (predictor.ts) and, when its
 * module was compiled with training, trains (trainStep, evaluate, fit: train.ts and fit.ts,
 * loaded only for modules that train), sets weights, and saves and loads weights and optimizer
 * state. It imports the sentences of a refused weights file (weights-errors.ts) with itself, as
 * loadWeights refuses synchronously.
 */
import type { FitOptions, History } from "./fit.js";
import type { Batches } from "./stream.js";
import type { Feeds } from "./feeds.js";
import type { GenerateOptions } from "./decode.js";
import { KilnError, Refusal, type Diagnostic } from "./errors.js";
import { genuine, put } from "./feeds.js";
import { capabilities, type Capabilities } from "./capabilities.js";
import { typeName } from "./load.js";
import { explainWith, WEIGHT_REASONS } from "./weights-errors.js";
import { size } from "./manifest.js";
import { parts } from "./parts.js";
import { Predictor } from "./predictor.js";
import { loadWeights, optimizerState, saveWeights } from "./weights-io.js";

export type { TensorInfo } from "./predictor.js";

export interface StepResult {
  loss: number;
  metrics: Record<string, number>;
}

export class Model extends Predictor {
  /** What this engine supports (capabilities()). */
  readonly capabilities: Capabilities = capabilities();

  /** One optimizer step on one batch (at most maxBatch examples), optionally weighted per example or class; loss and metrics before the update. A non-finite loss throws and undoes the step. */
  trainStep(batch: Feeds, opts?: { sampleWeight?: ArrayLike<number>; classWeight?: Record<string | number, number> }): StepResult {
    return this.#training("trainStep").trainStep(this, batch, opts);
  }

  /** Trains on `data` (whole arrays, or batches: stream.ts); see fit.ts for the options and the History it resolves to. */
  async fit(data: Feeds | Batches, opts?: FitOptions): Promise<History> {
    this.#training("fit");
    // Loaded on first use, so pages that only predict never fetch the training loop.
    return (await import("./fit.js")).fit(this, data, opts);
  }

  /**
   * Inference-mode loss and metrics over all of `data` (Keras's stateful metrics), the loss weighted
   * by `sampleWeight` when given; given batches (stream.ts: train.ts sends them there), a Promise of
   * them over `steps` batches or all.
   */
  evaluate(data: Feeds, opts?: { batchSize?: number; sampleWeight?: ArrayLike<number> }): StepResult;
  evaluate(data: Batches, opts?: { steps?: number }): Promise<StepResult>;
  evaluate(data: Feeds | Batches, opts?: { batchSize?: number; steps?: number; sampleWeight?: ArrayLike<number> }): StepResult | Promise<StepResult> {
    return this.#training("evaluate").evaluate(this, data, opts);
  }

  /** Set to true (in a callback) to end fit after the current batch, as Keras's `model.stop_training`. */
  declare stopTraining?: boolean;

  /**
   * Sets some weights; every entry is checked (known name, Float32Array, exact length) before any
   * is written, and each value is read once: what was checked is what is written.
   */
  setWeights(partial: Record<string, Float32Array>): void {
    this.live();
    if (typeof partial !== "object" || partial === null) this.fail("", `setWeights expects an object of Float32Arrays, got ${typeName(partial)}`);
    const problems: Diagnostic[] = [], writes: [number, Float32Array][] = [];
    for (const [name, value] of Object.entries(partial)) {
      const w = this.manifest.weights.find((x) => x.name === name);
      const v = genuine(value, Float32Array), n = w && size(w.shape);
      const message = !w
        ? `unknown weight "${name}"; the model has ${this.manifest.weights.map((x) => `"${x.name}"`).join(", ")}`
        : !v ? `expected a Float32Array, got ${typeName(value)}`
        : v.length !== n ? `expected ${n} elements (shape [${w.shape.join(", ")}]), got ${v.length}` : "";
      if (message) problems.push({ code: "weights", path: name, message });
      else writes.push([w!.offset, v!]);
    }
    if (problems.length) throw new KilnError(problems);
    for (const [offset, v] of writes) put(this.f32(offset, v.length), v);
  }

  /**
   * Loads safetensors weights: every weight must be present; optimizer state is optional but, when
   * present, complete (an inference-only model ignores it). All is checked before anything is written.
   * (The code is in weights-io.ts.)
   */
  loadWeights(bytes: Uint8Array): void {
    this.live();
    try {
      this.readWeights(bytes);
    } catch (e) {
      throw e instanceof Refusal ? explainWith(WEIGHT_REASONS, e) : e;
    }
  }

  /** Safetensors bytes of every weight and (by default, when the model trains) the optimizer state. */
  saveWeights({ optimizer = this.canTrain }: { optimizer?: boolean } = {}): Uint8Array {
    this.live();
    return saveWeights(this, optimizer && this.canTrain);
  }

  /**
   * Modules without a decode program: decode, resetCache and generate refuse with a KilnError that
   * says what enables them (a bare "is not a function" TypeError before), changing nothing. A
   * decode module's model has decode.ts's own, which shadow these. kiln/runtime/predict's
   * Predictor has no such refusals: they cost its runtime 230 B (109 gzipped), past its LIMIT.
   */
  override decode(_inputs: Feeds): Record<string, Float32Array> {
    return this.#noDecode("decode");
  }
  override resetCache(): void {
    this.#noDecode("resetCache");
  }
  override generate(_prompt: ArrayLike<number>, _options?: GenerateOptions): Int32Array {
    return this.#noDecode("generate");
  }

  #noDecode(caller: string): never {
    this.live();
    return this.fail(caller, `${caller} needs a module compiled with a decode program (compile(graph, { decode: true }) or kiln compile --decode, for a causal language model); this one has none`, "decode");
  }

  /** @internal Set while fit() runs: a second fit on the same model is refused. */
  fitting = false;

  #training(caller: string): typeof import("./train.js") {
    this.live();
    if (!this.canTrain) this.fail("", `${caller} needs a model compiled with training; this one is inference-only`);
    return parts().train!;
  }

  /** @internal Reads a weights file, with optimizer state when the model trains. */
  override readWeights(bytes: Uint8Array): void {
    loadWeights(this, bytes, this.canTrain ? optimizerState : undefined);
  }

  /** @internal Writes initial weights (`seeded`: unless embedded or loaded from a file) and the dropout seed. */
  override initialize(seeded: boolean): void {
    super.initialize(seeded);
    const m = this.manifest;
    if (m.training) new Uint32Array(this.live().buffer, m.training.seedOffset, 1)[0] = m.seed >>> 0;
  }
}
