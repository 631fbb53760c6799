/**
 * Lowering: checked Graph → IR Module with its programs.
 *  predict     inference-mode forward, outputs written to the output slots
 *  evaluate    inference-mode forward + loss and metrics (when the graph trains)
 *  train_step  training-mode forward + loss; the `autodiff` pass appends its backward part and
 *              the `optimizer` pass its update (both below, each a pass of its own)
 *  decode      with `decode`: one new position per example against key/value caches (decode.ts)
 * All programs share the tensors that persist (weights, slots, inputs, outputs); activations are
 * per program and planned separately over one shared arena.
 */
import type { Graph, Layer } from "../../frontend/graph-types.js";
import { Module, numel, type Node, type Program, type Tensor } from "../../ir/ir.js";
import { backward } from "../autodiff.js";
import { Builder, type Mode } from "./builder.js";
import { checkNodeLimit } from "../../limits.js";
import { OPS } from "../../frontend/ops/index.js";
import { lowerLoss, metricStateWords } from "./loss.js";
import { lowerOptimizer } from "./optimizer.js";
import { lowerDecode, type DecodeProgram } from "./decode.js";

export interface Lowered {
  mod: Module;
  graph: Graph;
  inputs: Tensor[];
  targets: Tensor[];
  /** Output tensors of the predict program, in graph.outputs order. */
  outputs: Tensor[];
  weights: Map<string, Tensor>;
  /** Optimizer slots per weight full name. */
  slots: { slot: string; weight: string; tensor: Tensor }[];
  /**
   * [seed u32, step i32, learning rate f32, unused] — the dropout stream, the optimizer's step
   * counter and, with a settable learning rate, the rate set at run time (0: the graph's).
   */
  state?: Tensor;
  /** f32 [loss, ...training.logNames]: running values since the metric state was zeroed, written by train_step and evaluate. */
  result?: Tensor;
  /** f32 [batch]: each example's weight in the loss (Keras sample_weight; the runtime writes 1 when none is given). */
  sampleWeight?: Tensor;
  /** f64 words (2 f32 slots each): the logs' running totals and counts, zeroed by the runtime (spec §4). */
  metricState?: Tensor;
  metricStateWords?: number;
  /** Each layer's output tensor in train_step, in forward order (the NaN finder reads them). */
  trainLayerOutputs: { layer: string; tensor: Tensor }[];
  /** What autodiff differentiates: train_step's forward nodes and the loss gradient that seeds it. */
  training?: { program: Program; forward: Node[]; seeds: { tensor: Tensor; grad: Tensor }[]; trainable: Set<number> };
  /** After autodiff: the gradient of each trainable weight (by tensor id) that received one. */
  weightGrads?: Map<number, Tensor>;
  /** The optimizer reads its learning rate from state word 2 (CompileOptions.settableLearningRate). */
  settableLearningRate?: boolean;
  /** The decode program (CompileOptions.decode): one position per call against key/value caches. */
  decode?: DecodeProgram;
}

export function lower(graph: Graph, o: { decode?: boolean } = {}): Lowered {
  const mod = new Module();
  const dtype = (d: string) => (d === "int32" ? "i32" : "f32") as "i32" | "f32";
  const inputs = graph.inputs.map((v) => mod.tensor({ shape: v.shape, batched: true, dtype: dtype(v.dtype), kind: "input", name: v.name }));
  const targets = graph.targets.map((v) => mod.tensor({ shape: v.shape, batched: true, dtype: dtype(v.dtype), kind: "target", name: v.name }));
  const weights = new Map<string, Tensor>();
  for (const layer of graph.layers) {
    for (const w of layer.weights) {
      weights.set(w.fullName, mod.tensor({ shape: w.shape, batched: false, dtype: "f32", kind: "weight", name: w.fullName, layer: layer.name }));
    }
  }
  const out: Lowered = { mod, graph, inputs, targets, outputs: [], weights, slots: [], trainLayerOutputs: [] };
  const training = graph.training;
  if (training) {
    out.state = mod.tensor({ shape: [4], batched: false, dtype: "i32", kind: "state" });
    out.result = mod.tensor({ shape: [1 + training.logNames.length], batched: false, dtype: "f32", kind: "result" });
    out.sampleWeight = mod.tensor({ shape: [], batched: true, dtype: "f32", kind: "target", layer: "loss" });
    out.metricStateWords = metricStateWords(out);
    out.metricState = mod.tensor({ shape: [2 * out.metricStateWords], batched: false, dtype: "f32", kind: "state", layer: "loss" });
  }

  const predict: Program = { name: "predict", nodes: [] };
  mod.programs.push(predict);
  const values = forward(out, predict, "infer");
  for (const name of graph.outputs) out.outputs.push(materializeOutput(out, predict, values.get(name)!, name));

  if (training) {
    const evaluate: Program = { name: "evaluate", nodes: [] };
    mod.programs.push(evaluate);
    const evalValues = forward(out, evaluate, "infer");
    lowerLoss(out, evaluate, evalValues, { withGradient: false });

    const train: Program = { name: "train_step", nodes: [] };
    mod.programs.push(train);
    const trainValues = forward(out, train, "train");
    out.trainLayerOutputs = graph.layers.map((l) => ({ layer: l.name, tensor: trainValues.get(l.name)! })).filter((o) => o.tensor.dtype === "f32");
    const forwardNodes = train.nodes.slice();
    const seeds = lowerLoss(out, train, trainValues, { withGradient: true });
    const trainable = new Set<number>();
    for (const layer of graph.layers) for (const w of layer.weights) if (w.trainable) trainable.add(weights.get(w.fullName)!.id);
    out.training = { program: train, forward: forwardNodes, seeds, trainable };
  }
  if (o.decode) out.decode = lowerDecode(out);
  return out;
}

/** The autodiff pass: train_step's backward nodes, after its loss. */
export function differentiate(lw: Lowered): void {
  if (!lw.training) return;
  const { mod } = lw, { program, forward, seeds, trainable } = lw.training;
  lw.weightGrads = backward(mod, program, forward, seeds, trainable,
    (w) => mod.tensor({ shape: w.shape, batched: false, dtype: "f32", kind: "grad", name: w.name, layer: w.layer })).weightGrads;
}

/** The optimizer pass: the update of every weight that has a gradient, at the end of train_step. */
export function lowerUpdate(lw: Lowered, o: { settable: boolean } = { settable: false }): void {
  if (!lw.training) return;
  if (!lw.weightGrads) throw new Error("internal: the optimizer pass runs after autodiff");
  lowerOptimizer(lw, lw.training.program, lw.weightGrads, o.settable);
}

function forward(lw: Lowered, prog: Program, mode: Mode): Map<string, Tensor> {
  const b = new Builder(lw.mod, prog, mode, lw.graph, lw.weights, { rng: lw.state, dropoutStreams: 0 });
  lw.graph.inputs.forEach((v, i) => b.values.set(v.name, lw.inputs[i]!));
  lw.graph.targets.forEach((v, i) => b.values.set(v.name, lw.targets[i]!));
  for (const layer of lw.graph.layers) {
    b.values.set(layer.name, lowerLayer(b, layer));
    // Stop a huge graph while lowering it, not after.
    checkNodeLimit(lw.mod, "lower");
  }
  return b.values;
}

function lowerLayer(b: Builder, layer: Layer): Tensor {
  b.layer = layer.name;
  const y = OPS[layer.op].lower(b, layer, layer.inputs.map((n) => b.values.get(n)!));
  if (numel(y.shape) !== numel(layer.shape)) throw new Error(`internal: ${layer.name} lowered to ${y.shape} but its shape is ${layer.shape}`);
  return y.shape.join() === layer.shape.join() ? y : b.alias(y, layer.shape);
}

/** The predict output must be its own buffer in the I/O region: copy when it is an alias or shared. */
export function materializeOutput(lw: Lowered, prog: Program, t: Tensor, name: string): Tensor {
  const mod = lw.mod;
  const producedHere = prog.nodes.some((n) => n.outputs.includes(t.id));
  const isOutputAlready = lw.outputs.some((o) => o.id === t.id);
  if (t.aliasOf === undefined && producedHere && !isOutputAlready && t.kind === "activation") {
    t.kind = "output";
    t.name = name;
    return t;
  }
  const o = mod.tensor({ shape: t.shape, batched: t.batched, dtype: t.dtype, kind: "output", name, layer: name });
  const n = numel(t.shape);
  mod.node(prog, "copy", [t], [o], { shape: [{ batch: 1 }, n], srcStrides: [n, 1], dstStrides: [n, 1] }, name);
  return o;
}
