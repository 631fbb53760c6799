/**
 * Loss and log lowering. Per output with a loss, one fused `loss` node computes its Keras loss
 * (spec §3), weighted per example by the sample weights, and in a training step the gradient of
 * loss_weight·loss with respect to the output. When the output layer ends in a softmax over the
 * last axis and the loss is a (sparse) categorical cross-entropy on probabilities, the softmax
 * moves into the loss kernel, which then returns the gradient with respect to the logits directly
 * (softmax + cross-entropy in one pass). Then one `log_metric` node per log entry (§4): the total
 * loss, each output's loss when there are several, and each metric — running values over the
 * calls since the runtime last zeroed the metric state, as Keras's metrics are over an epoch.
 */
import type { LossSpec } from "../../frontend/graph-types.js";
import { numel, type Program, type Tensor } from "../../ir/ir.js";
import { logStateWords } from "../../emit/metrics.js";
import type { Lowered } from "./index.js";

type Seed = { tensor: Tensor; grad: Tensor };

/** The loss and log nodes of `prog`; in a training step, the loss gradients that seed autodiff. */
export function lowerLoss(lw: Lowered, prog: Program, values: Map<string, Tensor>, opts: { withGradient: boolean }): Seed[] {
  const spec = lw.graph.training!;
  const seeds: Seed[] = [];
  const lossValues = spec.losses.map((l) => {
    const { value, seed } = lowerOneLoss(lw, prog, values, l, opts.withGradient);
    if (seed) seeds.push(seed);
    return value;
  });
  lowerLogs(lw, prog, values, lossValues);
  return seeds;
}

function lowerOneLoss(lw: Lowered, prog: Program, values: Map<string, Tensor>, l: LossSpec, withGradient: boolean): { value: Tensor; seed?: Seed } {
  const { mod } = lw;
  const { type, from_logits } = l;
  let pred = values.get(l.output)!;
  const target = values.get(l.target)!;
  const classes = pred.shape.at(-1) ?? 1;
  const rows = numel(pred.shape) / classes;

  let probs: Tensor | undefined;
  const producer = prog.nodes.findIndex((n) => n.outputs.includes(mod.storage(pred).id));
  const node = producer >= 0 ? prog.nodes[producer]! : undefined;
  const readElsewhere = prog.nodes.some((n) => n.inputs.some((i) => mod.storage(mod.t(i)).id === mod.storage(pred).id));
  const fusable = !from_logits && (type === "categorical_crossentropy" || type === "sparse_categorical_crossentropy");
  if (fusable && node?.op === "softmax" && node.attrs.inner === 1 && node.attrs.mid === classes && !readElsewhere) {
    prog.nodes.splice(producer, 1);
    probs = mod.storage(pred);
    pred = mod.t(node.inputs[0]);
  }
  const value = mod.tensor({ shape: [1], batched: false, dtype: "f32", kind: "activation", layer: "loss" });
  const grad = withGradient ? mod.tensor({ shape: pred.shape, batched: true, dtype: "f32", kind: "activation", layer: "loss" }) : undefined;
  // outputs: [value, probs (fused softmax only), grad (training only)]
  const outputs = [value, ...(probs ? [probs] : []), ...(grad ? [grad] : [])];
  mod.node(prog, "loss", [pred, target, lw.sampleWeight!], outputs, {
    type, fromLogits: from_logits, rows: { batch: rows }, classes, fusedSoftmax: !!probs, perExample: rows, lossWeight: l.weight, withGradient,
  }, "loss");
  return { value, ...(grad ? { seed: { tensor: pred, grad } } : {}) };
}

/**
 * result[0] = the running total loss, then per output its running loss (several outputs), then the
 * metrics in spec order (training.logNames names them). Each node owns a run of state words.
 */
function lowerLogs(lw: Lowered, prog: Program, values: Map<string, Tensor>, lossValues: Tensor[]): void {
  const { mod } = lw;
  const spec = lw.graph.training!;
  const result = lw.result!, state = lw.metricState!;
  let word = 0;
  const at = (words: number) => (word += words) - words;
  const batch = { batch: 1 };
  mod.node(prog, "log_metric", lossValues, [result, state], { kind: "total_loss", weights: spec.losses.map((l) => l.weight), rows: batch, stateAt: at(2), outAt: 0 }, "loss");
  const several = spec.losses.length > 1;
  if (several) {
    lossValues.forEach((v, k) => mod.node(prog, "log_metric", [v], [result, state], { kind: "output_loss", rows: batch, stateAt: at(2), outAt: 1 + k }, "loss"));
  }
  spec.metrics.forEach((m, i) => {
    const out = values.get(m.output)!, target = values.get(m.target)!;
    const classes = out.shape.at(-1) ?? 1;
    const { type, threshold, k, num_thresholds, curve, summation_method, from_logits, class_aggregation, num_regressors } = m;
    const metric = Object.fromEntries(Object.entries({ type, threshold, k, num_thresholds, curve, summation_method, from_logits, class_aggregation, num_regressors }).filter(([, v]) => v !== undefined)) as any;
    const attrs = { kind: "metric" as const, classes, sparse: target.dtype === "i32", metric, rows: { batch: numel(out.shape) / classes } };
    mod.node(prog, "log_metric", [out, target], [result, state], { ...attrs, stateAt: at(logStateWords({ ...attrs, rows: 1 })), outAt: 1 + (several ? spec.losses.length : 0) + i }, "loss");
  });
  if (word !== lw.metricStateWords) throw new Error(`internal: the logs use ${word} state words, ${lw.metricStateWords} were planned`);
}

/** The f64 words of metric state a graph's logs need (the same in every program). */
export function metricStateWords(lw: Pick<Lowered, "graph">): number {
  const spec = lw.graph.training!;
  let words = 2 + (spec.losses.length > 1 ? 2 * spec.losses.length : 0);
  for (const m of spec.metrics) {
    const layer = lw.graph.layers.find((l) => l.name === m.output)!;
    const classes = layer.shape.at(-1) ?? 1;
    const sparse = lw.graph.targets.find((t) => t.name === m.target)!.dtype === "int32";
    words += logStateWords({ kind: "metric", rows: 1, classes, sparse, metric: m as any });
  }
  return words;
}
