/**
 * The float64 reference oracle's public surface, for tests elsewhere in the suite:
 * run a raw graph, take gradients, apply losses/metrics and optimizer steps in float64.
 * Nothing here imports compiler/ or runtime/: the oracle stays independent of what it checks.
 */

export { runReference, REF_LAYERS } from "./interpret.js";
export type { RefGraph, RefValueInfo, RunOptions, RunResult } from "./interpret.js";
export { referenceGradients, finiteDifferences } from "./gradients.js";
export type { GradientOptions, GradientResult } from "./gradients.js";
export { lossTensor, accuracy, metricValue, LOSS_TYPES } from "./losses.js";
export { optimizerStep, clipGradients, newOptimizerState } from "./optimizers.js";
export type { OptimizerConfig, OptimizerState } from "./optimizers.js";
export { Tensor, tensor, backward } from "./tensor.js";
export { makeRng } from "./prng.js";
export type { Rng } from "./prng.js";
