/**
 * Runtime stage 3 for `kiln/runtime`: a loaded model that predicts (predictor.ts) and, when its
 * module was compiled with training, trains (trainStep, evaluate, fit: train.ts and fit.ts,
 * loaded only for modules that train), and saves its weights and optimizer state.
 */
import type { FitOptions, History } from "./fit.js";
import type { Batches } from "./stream.js";
import type { Feeds } from "./feeds.js";
import { parts } from "./parts.js";
import { Predictor } from "./predictor.js";
import { saveWeights } from "./weights-io.js";

export type { TensorInfo } from "./predictor.js";

export interface StepResult {
  loss: number;
  metrics: Record<string, number>;
}

export class Model extends Predictor {
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

  /** Safetensors bytes of every weight and (by default, when the model trains) the optimizer state. */
  saveWeights({ optimizer = this.canTrain }: { optimizer?: boolean } = {}): Uint8Array {
    this.live();
    return saveWeights(this, optimizer && this.canTrain);
  }

  /** @internal Set while fit() runs: a second fit on the same model is refused. */
  fitting = false;

  /** @internal A Model's load checks the manifest's training part, so one of a module compiled with training trains. */
  override get checksTraining(): boolean {
    return true;
  }

  #training(caller: string): typeof import("./train.js") {
    this.live();
    if (!this.canTrain) this.fail("", `${caller} needs a model compiled with training; this one is inference-only`);
    return parts().train!;
  }

  /** @internal Writes initial weights (`seeded`: unless embedded or loaded from a file) and the dropout seed. */
  override initialize(seeded: boolean): void {
    super.initialize(seeded);
    const m = this.manifest;
    if (m.training) new Uint32Array(this.live().buffer, m.training.seedOffset, 1)[0] = m.seed >>> 0;
  }
}
