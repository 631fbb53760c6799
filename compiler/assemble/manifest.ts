/**
 * The `kiln.manifest` custom section (spec §6): everything the runtime knows about a module —
 * names, shapes and byte offsets of inputs, targets, outputs and weights, the optimizer slots,
 * the memory size. User names travel here as JSON data, never as code.
 */
import type { LossInfo, Manifest } from "../../runtime/manifest.js";
import type { Lowered } from "../passes/lower/index.js";
import type { Plan } from "../passes/plan.js";
import type { Tensor } from "../ir/ir.js";
import type { LossSpec } from "../frontend/graph-types.js";

export type { Manifest };

export function buildManifest(lw: Lowered, plan: Plan, o: { maxBatch: number; pages: number; relaxed: boolean; weightsEmbedded: boolean }): Manifest {
  const { graph, mod } = lw;
  const off = (t: Tensor) => plan.offsets.get(mod.storage(t).id)!;
  const ranges = idRanges(lw);
  const slot = (t: Tensor, name: string) => ({
    name, shape: t.shape, dtype: (t.dtype === "i32" ? "int32" : "float32") as "int32" | "float32", offset: off(t),
    ...(ranges.has(name) ? { range: ranges.get(name)! } : {}),
  });
  const training = graph.training;
  const manifest: Manifest = {
    format: "kiln.module/v1",
    name: graph.name,
    seed: graph.seed,
    maxBatch: o.maxBatch,
    canTrain: !!training,
    simd: o.relaxed ? "relaxed-simd" : "simd128",
    threads: false,
    memory: { pages: o.pages, weightsBytes: plan.weightsBytes, arenaBytes: plan.arenaBytes },
    inputs: graph.inputs.map((v, i) => slot(lw.inputs[i]!, v.name)),
    targets: graph.targets.map((v, i) => slot(lw.targets[i]!, v.name)),
    outputs: graph.outputs.map((name, i) => slot(lw.outputs[i]!, name)),
    weights: graph.layers.flatMap((l) => l.weights.map((w) => ({
      name: w.fullName, shape: w.shape, trainable: w.trainable, offset: off(lw.weights.get(w.fullName)!),
      initializer: { name: w.initializer.name, fanIn: w.initializer.fanIn, fanOut: w.initializer.fanOut, ...(w.initializer.onesRange ? { onesRange: w.initializer.onesRange } : {}) },
    }))),
    exports: training ? { predict: "predict", trainStep: "train_step", evaluate: "evaluate" } : { predict: "predict" },
  };
  if (training) {
    const state = off(lw.state!);
    manifest.training = {
      loss: lossInfo(training.loss), ...(training.losses.length > 1 ? { losses: training.losses.map(lossInfo) } : {}),
      metrics: training.logNames, optimizer: training.optimizer as any,
      resultOffset: off(lw.result!), seedOffset: state, stepOffset: state + 4,
      sampleWeightOffset: off(lw.sampleWeight!),
      metricState: { offset: off(lw.metricState!), bytes: 8 * lw.metricStateWords! },
      slots: lw.slots.map((s) => ({ slot: s.slot, weight: s.weight, offset: off(s.tensor) })),
    };
    if (lw.settableLearningRate) manifest.training!.learningRateOffset = state + 8;
  }
  if (lw.decode) {
    const d = lw.decode;
    manifest.exports.decode = "decode";
    manifest.decode = {
      context: d.context, positionOffset: off(d.position),
      inputs: graph.inputs.map((v, i) => slot(d.inputs[i]!, v.name)),
      outputs: graph.outputs.map((name, i) => slot(d.outputs[i]!, name)),
      caches: d.caches.flatMap((c) => [c.key, c.value].map((t) => ({ layer: c.layer, offset: off(t), bytes: o.maxBatch * 4 * t.shape[0]! * t.shape[1]! }))),
    };
  }
  if (o.weightsEmbedded) manifest.weightsEmbedded = true;
  return manifest;
}

/** A loss as the manifest lists it (its weight only when it has one: one output's manifest stays as it was). */
function lossInfo(l: LossSpec): LossInfo {
  return { type: l.type, output: l.output, target: l.target, from_logits: l.from_logits, ...(l.weight !== 1 ? { weight: l.weight } : {}) };
}

/** Integer inputs and targets must hold valid ids: embedding rows, or class ids of a sparse loss. */
function idRanges(lw: Lowered): Map<string, [number, number]> {
  const ranges = new Map<string, [number, number]>();
  const narrow = (name: string, hi: number) => {
    const cur = ranges.get(name);
    ranges.set(name, [0, cur ? Math.min(cur[1], hi) : hi]);
  };
  for (const l of lw.graph.layers) {
    if (l.op === "embedding") for (const i of l.inputs) narrow(i, (l.attrs as any).input_dim);
  }
  for (const loss of lw.graph.training?.losses ?? []) {
    if (loss.type !== "sparse_categorical_crossentropy") continue;
    const out = lw.graph.layers.find((l) => l.name === loss.output)!;
    narrow(loss.target, out.shape.at(-1)!);
  }
  return ranges;
}
