/**
 * How a forward case (cases.ts) becomes the training graph whose compiled gradients are tested:
 * shared by the gradient test (gradients.test.ts) and the meta-test that checks every primitive
 * with a gradient rule is exercised by it (test/meta/registry.test.ts), so both see the same graphs.
 */
import { checkGraph } from "../../compiler/frontend/index.js";
import { CASES, type OpCase } from "./cases.js";

/** Ops that draw new random masks or noise in every training step. */
export const RANDOM_IN_TRAINING: ReadonlySet<string> = new Set(["dropout", "spatial_dropout1d", "spatial_dropout2d", "gaussian_noise", "gaussian_dropout"]);

/** Is a case's training step one function of its weights (no layer, nor layer wrapped by time_distributed, that draws random masks or noise)? */
export const deterministicTraining = (c: OpCase): boolean =>
  !c.graph.layers.some((l: { op: string; layer?: { op: string } }) => RANDOM_IN_TRAINING.has(l.op) || RANDOM_IN_TRAINING.has(l.layer?.op ?? ""));

/**
 * The cases whose gradients are compared against the float64 reference. Masks and noise in
 * training steps are random (the reference needs the module's), so those cases are left out here:
 * test/training/dropout.test.ts and noise-layers.test.ts recompute them and compare loss and
 * gradients there.
 */
export const GRADIENT_CASES: OpCase[] = CASES.filter(deterministicTraining);

/**
 * Puts a trainable dense layer (same width) in front of every float input, so that the weight
 * gradient of that layer checks the input gradient of every op behind it, weightless ops included.
 */
export function withInputProjections(graph: any): any {
  const floats = graph.inputs.filter((i: any) => i.dtype !== "int32").map((i: any) => i.name);
  const rename = (n: string) => (floats.includes(n) ? `pre_${n}` : n);
  const pre = graph.inputs.filter((i: any) => floats.includes(i.name))
    .map((i: any) => ({ name: `pre_${i.name}`, op: "dense", units: i.shape.at(-1), inputs: [i.name] }));
  const layers = graph.layers.map((l: any, idx: number) => ({
    ...l, inputs: (l.inputs ?? (idx === 0 ? [graph.inputs[0].name] : [graph.layers[idx - 1].name])).map(rename),
  }));
  return { ...graph, layers: [...pre, ...layers], outputs: graph.outputs ?? [graph.layers.at(-1).name] };
}

/** The case with input projections, a mean-squared-error loss on its (first) output and sgd at learning rate 1. */
export function withTraining(plain: any): any {
  const graph = withInputProjections(plain);
  const checked = checkGraph(JSON.stringify(graph));
  const last = checked.outputs[0]!;
  const shape = checked.layers.find((l) => l.name === last)!.shape;
  return {
    ...graph,
    targets: [{ name: "y", shape }],
    training: { loss: { type: "mean_squared_error", output: last, target: "y" }, optimizer: { type: "sgd", learning_rate: 1 } },
  };
}
