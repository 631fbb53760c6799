/**
 * kiln/runtime/predict: loadModel for apps that only predict. The model it gives (a Predictor)
 * has everything of `kiln/runtime`'s Model but trainStep, evaluate, fit and saveWeights; loading
 * a module compiled with training neither checks nor fetches its training part (the manifest's
 * training regions are never touched, and a weights file's optimizer state is ignored). This
 * entry is what scripts/runtime-size.mjs holds to the runtime's size budget.
 */
import type { Source } from "./load.js";
import { open, type LoadOptions } from "./open.js";
import { Predictor } from "./predictor.js";

export { KilnError, type Diagnostic } from "./errors.js";
export type { Source } from "./load.js";
export type { LoadOptions } from "./open.js";
export type { Manifest, Slot, WeightEntry } from "./manifest.js";
export type { Predictor, TensorInfo } from "./predictor.js";
export type { Feeds } from "./feeds.js";
export type { GenerateOptions } from "./decode.js";

/**
 * Loads a model that predicts from bytes, a Response, a URL, a file path (Node) or a compiled
 * module. Weights start at their seeded initial values (unless the module embeds trained ones),
 * then `opts.weights`.
 */
export function loadModel(source: Source, opts: LoadOptions = {}): Promise<Predictor> {
  return open(source, opts, Predictor);
}
