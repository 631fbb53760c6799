/**
 * Every op of the reference against TF.js (tfjs-layers, cpu backend): the cases are the table in
 * tfjs-cases.ts (one or more per op, each naming its kiln op; test/meta/registry.test.ts checks
 * that every op has one). Same seeded float32 weights on both sides via setWeights, compared
 * within 1e-4 relative ‖out − ref‖/‖ref‖.
 */

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { RawLayer } from "./attrs.js";
import { RefGraph, type RunResult, runReference } from "./interpret.js";
import { makeRng } from "./prng.js";
import { backward, sizeOf } from "./tensor.js";
import { TFJS_CASES, batchNorm, type TfjsCase, type TfLayer } from "./tfjs-cases.js";

const rng = makeRng(99);
const BATCH = 3;

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

interface Compared {
  ref: Float64Array;
  tfOut: Float32Array;
  /** The reference's updated moving statistics (training mode), by full weight name. */
  state: Record<string, Float64Array>;
  tfWeights: Float32Array[];
  /** With `weightGradients`: d Σ(out ⊙ seed) / d weight on both sides, by short weight name. */
  grads?: Record<string, { ref: Float64Array; tf: Float32Array }>;
}

function compare(c: TfjsCase): Compared {
  const names = c.inputs.map((_s, i) => `x${i}`);
  // Float32-representable data so both sides see identical inputs and weights.
  const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  const inputs: Record<string, Float64Array> = {};
  c.inputs.forEach((s, i) => {
    const n = BATCH * sizeOf(s);
    inputs[names[i]] = c.intInputs ? Float64Array.from({ length: n }, () => rng.int(c.intInputs!)) : f32(rng.array(n, -2, 2));
  });
  const short: Record<string, Float64Array> = {};
  for (const [w, shape] of c.weights ?? []) {
    const positive = c.positive?.includes(w);
    short[w] = f32(rng.array(sizeOf(shape), positive ? 0.5 : -0.7, positive ? 1.5 : 0.7));
  }
  c.adjustWeights?.(short);

  const xs = c.inputs.map((s, i) => tf.tensor(Float32Array.from(inputs[names[i]]), [BATCH, ...s], c.intInputs ? "int32" : "float32"));
  const layer = c.tfLayer();
  const arg = xs.length === 1 ? xs[0] : xs;
  layer.apply(arg); // builds the layer
  if (c.weights) {
    layer.setWeights(c.tfWeights ? c.tfWeights(short) : c.weights.map(([w, shape]) => tf.tensor(Float32Array.from(short[w]), shape)));
  }
  const out = layer.apply(arg, { training: !!c.training }) as tf.Tensor;
  const tfOut = out.dataSync() as Float32Array;

  const graph: RefGraph = {
    inputs: c.inputs.map((shape, i) => ({ name: names[i], shape, dtype: c.intInputs ? "int32" : "float32" })),
    layers: [{ ...c.layer, name: "l", inputs: names } as RawLayer],
  };
  const weights = Object.fromEntries(Object.entries(short).map(([w, v]) => [`l/${w}`, v]));
  const dropoutMasks = c.maskFromTf ? { l: Float64Array.from(tfOut, (v) => (v !== 0 ? 1 : 0)) } : undefined;
  const res = runReference(graph, weights, inputs, BATCH, { training: !!c.training, dropoutMasks });
  expect(out.shape).toEqual(res.outputs.l.shape);
  const tfWeights = layer.getWeights().map((w) => w.dataSync() as Float32Array);
  return { ref: res.outputs.l.data, tfOut, state: res.state, tfWeights, grads: c.weightGradients ? weightGradients(c, layer, arg, res) : undefined };
}

/**
 * Weight gradients of Σ(out ⊙ seed), one random seed per output element: the reference's tape
 * against tf.variableGrads over the TF.js layer's trainable variables (getWeights() order).
 */
function weightGradients(c: TfjsCase, layer: TfLayer, arg: tf.Tensor | tf.Tensor[], res: RunResult): Record<string, { ref: Float64Array; tf: Float32Array }> {
  const out = res.outputs.l;
  const seed = Float64Array.from(Float32Array.from(rng.array(out.size, -1, 1)));
  backward(out, seed);
  const vars = layer.trainableWeights!.map((w) => w.read() as tf.Variable);
  const seedT = tf.tensor(Float32Array.from(seed), out.shape);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(arg, { training: false }) as tf.Tensor, seedT)) as tf.Scalar, vars);
  const pairs: Record<string, { ref: Float64Array; tf: Float32Array }> = {};
  (c.weights ?? []).forEach(([w], i) => {
    pairs[w] = { ref: res.weights[`l/${w}`]!.grad ?? new Float64Array(res.weights[`l/${w}`]!.size), tf: grads[vars[i]!.name]!.dataSync() as Float32Array };
  });
  return pairs;
}

describe("reference layers vs TF.js cpu", () => {
  for (const c of TFJS_CASES) {
    it(c.name, () => {
      const { ref, tfOut, state, tfWeights } = compare(c);
      expect(ref.some((v) => v !== 0), "the reference output is not all zero").toBe(true);
      expect(relErr(ref, tfOut)).toBeLessThan(c.tolerance ?? 1e-4);
      if (c.movingStatistics) {
        expect(relErr(state["l/moving_mean"], tfWeights[2])).toBeLessThan(1e-5);
        expect(relErr(state["l/moving_variance"], tfWeights[3])).toBeLessThan(1e-5);
      }
      if (c.weightGradients) {
        const grads = Object.entries(compare(c).grads!);
        expect(grads.length).toBe(c.weights!.length);
        for (const [w, g] of grads) {
          expect(g.ref.some((v) => v !== 0), `${w}: the reference gradient is not all zero`).toBe(true);
          expect(relErr(g.ref, g.tf), `gradient of ${w}`).toBeLessThan(1e-4);
        }
      }
      if (c.maskFromTf) {
        // Both kept and dropped elements, so the case checks the scale and not only the identity.
        const kept = tfOut.filter((v) => v !== 0).length;
        expect(kept).toBeGreaterThan(0);
        expect(kept).toBeLessThan(tfOut.length);
      }
    });
  }

  it("batch_normalization moving statistics against tf.layers.batchNormalization({ axis }) itself", () => {
    for (const axis of [1, 2, -2, -3]) {
      const c = batchNorm(true, axis);
      const { state, tfWeights } = compare({ ...c, tfLayer: () => tf.layers.batchNormalization({ axis, momentum: 0.9 }) });
      expect(relErr(state["l/moving_mean"], tfWeights[2]), `axis ${axis}`).toBeLessThan(1e-5);
      expect(relErr(state["l/moving_variance"], tfWeights[3]), `axis ${axis}`).toBeLessThan(1e-5);
    }
  });

  it("TF.js's upSampling2d bilinear still samples the legacy grid, not Keras 3's half-pixel centres (why its cases use tf.image.resizeBilinear)", () => {
    const x = tf.tensor([1, 2, 3, 4], [1, 2, 2, 1]);
    const legacy = (tf.layers.upSampling2d({ size: [2, 2], interpolation: "bilinear" }).apply(x) as tf.Tensor).dataSync();
    const halfPixel = tf.image.resizeBilinear(x as tf.Tensor4D, [4, 4], false, true).dataSync();
    // Half-pixel centres: output (0, 1) samples input column 0.25 → 1.25; the legacy grid samples 0.5 → 1.5.
    expect(halfPixel[1]).toBeCloseTo(1.25, 6);
    expect(legacy[1]).toBeCloseTo(1.5, 6);
  });

  it("TF.js's GRU still refuses reset_after=true (why the gru cases compare through reset_after=false or tf ops)", () => {
    expect(() => tf.layers.gru({ units: 2, ...{ resetAfter: true } })).toThrow(/reset_after/);
  });
});
