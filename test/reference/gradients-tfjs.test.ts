/**
 * Gradients of the reference against TF.js's autodiff (cpu backend) for the activation,
 * normalization, merge and noise-layer cases (tfjs-cases-*.ts), in inference mode: the gradient of
 * Σ out·r (r a fixed random tensor) with respect to every input and, where the TF.js side is a
 * TF.js layer with weights (prelu's alpha; batch/layer normalization's gamma and beta), to every
 * trainable weight (also for the compositions of tf ops that hold theirs as variables: group
 * normalization, normalization without gamma or beta). A case's `tfGrad` replaces the TF.js layer
 * where TF.js cannot differentiate it (the case says why). Relative error ‖ref − tf‖/‖tf‖ below
 * 1e-4. Training-mode cases (random masks) are left out; forward values are checked by
 * layers-tfjs.test.ts.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { RawLayer } from "./attrs.js";
import { runReference } from "./interpret.js";
import { makeRng } from "./prng.js";
import { backward, sizeOf } from "./tensor.js";
import type { TfjsCase } from "./tfjs-cases.js";
import { ACTIVATION_CASES } from "./tfjs-cases-activations.js";
import { MERGE_CASES } from "./tfjs-cases-merge.js";
import { NORMALIZATION_CASES } from "./tfjs-cases-normalization.js";
import { NOISE_CASES } from "./tfjs-cases-noise.js";
import { PREPROCESSING_CASES } from "./tfjs-cases-preprocessing.js";

const BATCH = 3;
const rng = makeRng(2024);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));

interface Grads { inputs: Float64Array[]; weights: Record<string, Float64Array> }

function compareGradients(c: TfjsCase): { ref: Grads; tfg: Grads; weighted: string[] } {
  const names = c.inputs.map((_s, i) => `x${i}`);
  const inputs = c.inputs.map((s) => f32(rng.array(BATCH * sizeOf(s), -2, 2)));
  const short: Record<string, Float64Array> = {};
  for (const [w, shape] of c.weights ?? []) {
    const positive = c.positive?.includes(w);
    short[w] = f32(rng.array(sizeOf(shape), positive ? 0.5 : -0.7, positive ? 1.5 : 0.7));
  }
  const xs = c.inputs.map((s, i) => tf.variable(tf.tensor(Float32Array.from(inputs[i]!), [BATCH, ...s])));
  const layer = (c.tfGrad ?? c.tfLayer)();
  const arg = () => (xs.length === 1 ? xs[0]! : xs);
  layer.apply(arg());
  if (c.weights) layer.setWeights(c.tfWeights ? c.tfWeights(short) : c.weights.map(([w, shape]) => tf.tensor(Float32Array.from(short[w]!), shape)));
  // TF.js layers keep their weights in LayerVariables; compositions of tf ops have none to differentiate.
  const layerVars: tf.Variable[] = ((layer as { trainableWeights?: { read(): tf.Variable }[] }).trainableWeights ?? []).map((w) => w.read());
  const trainable = (c.weights ?? []).map(([w]) => w).filter((w) => !w.startsWith("moving_"));
  const weighted = layerVars.length ? trainable : [];
  if (layerVars.length) expect(layerVars.length).toBe(trainable.length);

  const out = layer.apply(arg()) as tf.Tensor;
  const r = f32(rng.array(out.size, -1, 1));
  const rt = tf.tensor(Float32Array.from(r), out.shape);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(arg()) as tf.Tensor, rt)) as tf.Scalar, [...xs, ...layerVars]);
  const tfg: Grads = {
    inputs: xs.map((v) => Float64Array.from(grads[v.name]!.dataSync())),
    weights: Object.fromEntries(weighted.map((w, i) => [w, Float64Array.from(grads[layerVars[i]!.name]!.dataSync())])),
  };

  const res = runReference(
    { inputs: c.inputs.map((shape, i) => ({ name: names[i]!, shape })), layers: [{ ...c.layer, name: "l", inputs: names } as RawLayer] },
    Object.fromEntries(Object.entries(short).map(([w, v]) => [`l/${w}`, v])),
    Object.fromEntries(names.map((n, i) => [n, inputs[i]!])),
    BATCH,
    { training: false, inputGrads: true },
  );
  backward(res.outputs.l!, r);
  const ref: Grads = {
    inputs: names.map((n) => res.inputs[n]!.grad ?? new Float64Array(res.inputs[n]!.size)),
    weights: Object.fromEntries(weighted.map((w) => [w, res.weights[`l/${w}`]!.grad ?? new Float64Array(short[w]!.length)])),
  };
  return { ref, tfg, weighted };
}

const CASES = [...ACTIVATION_CASES, ...NORMALIZATION_CASES, ...MERGE_CASES, ...NOISE_CASES, ...PREPROCESSING_CASES].filter((c) => !c.training);

describe("reference gradients vs TF.js autodiff (cpu): new activation, normalization, merge, noise and preprocessing ops", () => {
  it("covers weights: prelu, batch and layer normalization cases differentiate their weights", () => {
    const ops = new Set(CASES.filter((c) => c.weights?.length).map((c) => c.layer.op));
    for (const op of ["prelu", "batch_normalization", "layer_normalization", "group_normalization"]) expect(ops.has(op as never), op).toBe(true);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const { ref, tfg, weighted } = compareGradients(c);
      ref.inputs.forEach((g, i) => {
        expect(tfg.inputs[i]!.some((v) => v !== 0), `TF.js input ${i} gradient is not all zero`).toBe(true);
        expect(relErr(g, tfg.inputs[i]!), `input ${i}`).toBeLessThan(1e-4);
      });
      for (const w of weighted) expect(relErr(ref.weights[w]!, tfg.weights[w]!), w).toBeLessThan(1e-4);
    });
  }
});
