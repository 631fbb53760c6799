/**
 * kiln/runtime: load a compiled kiln module and train or run it, in Node or a browser, with no
 * dependencies (open.ts has the pipeline). The runtime knows nothing about ops: only the
 * manifest and the module's exports. An app that only predicts imports `kiln/runtime/predict`
 * (predict.ts), which carries none of the training and saving code.
 */
import type { Source } from "./load.js";
import { Model } from "./model.js";
import { open, type LoadOptions } from "./open.js";

export { KilnError, type Diagnostic } from "./errors.js";
export { capabilities, type Capabilities } from "./capabilities.js";
export type { Source } from "./load.js";
export type { LoadOptions } from "./open.js";
export type { Manifest, Slot, WeightEntry } from "./manifest.js";
export type { Model, StepResult, TensorInfo } from "./model.js";
export type { Predictor } from "./predictor.js";
export type { FitOptions, History, Logs } from "./fit.js";
export type { Feeds } from "./feeds.js";
export type { Batches, BatchIterable } from "./stream.js";
export type { GenerateOptions } from "./decode.js";

/**
 * Loads a model from bytes, a Response, a URL, a file path (Node) or a compiled module. Weights
 * start at their seeded initial values (unless the module embeds trained ones), then `opts.weights`.
 */
export function loadModel(source: Source, opts: LoadOptions = {}): Promise<Model> {
  return open(source, opts, Model, () => import("./train.js"));
}
