/**
 * Reference gradients: a training-mode forward of the raw graph, the spec §3 loss on top, one
 * reverse walk of the tape. Also central finite differences for checking any scalar function.
 * Frozen layers' weights and moving statistics get no entry in `grads`.
 */

import { RefGraph, RunOptions, RunResult, runReference } from "./interpret.js";
import { lossTensor, metricValue } from "./losses.js";
import { backward } from "./tensor.js";

export interface GradientOptions {
  dropoutMasks?: Record<string, Float64Array>;
  /** Gaussian noise and gaussian dropout factors, by layer name (see RunOptions). */
  noise?: Record<string, Float64Array>;
  /** Also return d loss / d (float) graph input. */
  inputGrads?: boolean;
  /** Forward mode; defaults to training (the mode of a train step). */
  training?: boolean;
}

export interface GradientResult {
  loss: number;
  grads: Record<string, Float64Array>;
  inputGrads?: Record<string, Float64Array>;
  /** Metrics of graph.training.metrics on the same forward pass. */
  metrics: Record<string, number>;
  run: RunResult;
}

export function referenceGradients(
  graph: RefGraph,
  weights: Record<string, Float64Array | Float32Array>,
  inputs: Record<string, ArrayLike<number>>,
  targets: Record<string, ArrayLike<number>>,
  batch: number,
  opts: GradientOptions = {},
): GradientResult {
  const spec = graph.training?.loss;
  if (!spec) throw new Error("graph has no training.loss");
  const runOpts: RunOptions = { training: opts.training ?? true, dropoutMasks: opts.dropoutMasks, noise: opts.noise, inputGrads: opts.inputGrads };
  const run = runReference(graph, weights, inputs, batch, runOpts);
  const out = run.values[spec.output];
  if (!out) throw new Error(`loss output "${spec.output}" is not a layer`);
  const info = graph.targets?.find((t) => t.name === spec.target);
  const target = targets[spec.target];
  if (!info || !target) throw new Error(`loss target "${spec.target}" is missing`);
  const fromLogits = spec.from_logits ?? false;
  const loss = lossTensor(spec.type, out, target, [batch, ...info.shape], fromLogits);
  backward(loss);

  const grads: Record<string, Float64Array> = {};
  for (const [name, w] of Object.entries(run.weights)) {
    if (w.requiresGrad) grads[name] = w.grad ?? new Float64Array(w.size);
  }
  const metrics: Record<string, number> = {};
  for (const m of graph.training?.metrics ?? []) metrics[m] = metricValue(m, spec.type, out, target, fromLogits);
  const result: GradientResult = { loss: loss.data[0], grads, metrics, run };
  if (opts.inputGrads) {
    result.inputGrads = {};
    for (const [name, x] of Object.entries(run.inputs)) {
      if (x.requiresGrad) result.inputGrads[name] = x.grad ?? new Float64Array(x.size);
    }
  }
  return result;
}

/** Central differences (f(x+ε) − f(x−ε)) / 2ε for every element of x (restored afterwards). */
export function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = f(x);
    x[i] = keep - eps;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}
