/**
 * Loss lowering: one fused `loss` node computes the Keras loss (spec §3), the metrics (§4) and,
 * in a training step, the gradient of the loss with respect to the output. When the output layer
 * ends in a softmax over the last axis and the loss is a (sparse) categorical cross-entropy on
 * probabilities, the softmax moves into the loss kernel, which then returns the gradient with
 * respect to the logits directly (softmax + cross-entropy in one pass).
 */
import { numel, type Program, type Tensor } from "../../ir/ir.js";
import type { Lowered } from "./index.js";

export function lowerLoss(lw: Lowered, prog: Program, values: Map<string, Tensor>, opts: { withGradient: boolean }): { tensor: Tensor; grad: Tensor } | undefined {
  const { mod, graph } = lw;
  const spec = graph.training!;
  const { type, from_logits } = spec.loss;
  let pred = values.get(spec.loss.output)!;
  const target = values.get(spec.loss.target)!;
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
    pred = mod.t(node.inputs[0]!);
  }
  const grad = opts.withGradient ? mod.tensor({ shape: pred.shape, batched: true, dtype: "f32", kind: "activation", layer: "loss" }) : undefined;
  // outputs: [result, probs (fused softmax only), grad (training only)]
  const outputs = [lw.result!, ...(probs ? [probs] : []), ...(grad ? [grad] : [])];
  mod.node(prog, "loss", [pred, target], outputs, {
    type, fromLogits: from_logits, rows: { batch: rows }, classes, fusedSoftmax: !!probs, metrics: spec.metrics, withGradient: opts.withGradient,
  }, "loss");
  return grad ? { tensor: pred, grad } : undefined;
}
