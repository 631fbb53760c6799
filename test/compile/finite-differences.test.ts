/**
 * Compiled gradients of every op against central finite differences of the compiled forward loss
 * (issue 15.8): nothing of the reference interpreter is involved, so a rule that is wrong in both
 * the compiler and the reference (they were written from the same formulas) still shows.
 *
 * Each op case (cases.ts) gets input projections and a mean-squared-error loss (harness.ts:
 * withTraining), so the projections' weight gradients check the op's input gradients. One sgd
 * step with learning rate 1 gives the compiled gradient g of every trainable weight. For each
 * weight tensor, along two unit directions v (g itself and a seeded random one), the loss L is
 * evaluated in training mode (trainStep's loss, computed before its update, from weights set
 * anew each time) at w ± h·v as stored in f32, and the difference L(w+) − L(w−) is compared in
 * float64 with g · (w+ − w−): the error beyond the losses' f32 rounding, relative to 2h‖g‖, must
 * be below 1e-2 for one of two steps h (see STEPS).
 */
import { describe, expect, it } from "vitest";
import { CASES } from "./cases.js";
import { build, randomFeeds, randomizeWeights, rng } from "./harness.js";
import { deterministicTraining, withTraining } from "./training-graph.js";

const BATCH = 3;
/**
 * Steps along the unit direction. A kink (relu at 0, a max-pool window's top two values) within
 * a step of the point spoils that difference but rarely both; a wrong gradient spoils every one.
 */
const STEPS = [1e-3, 2.5e-4];
const TOLERANCE = 1e-2;

/** The spacing of f32 values around x. */
const ulp = (x: number) => (x === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23));
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

describe("compiled gradients vs finite differences of the compiled loss", () => {
  // Dropout and the noise layers draw anew every step, so their loss is not one function of the weights.
  for (const c of CASES.filter(deterministicTraining)) {
    it(c.name, async () => {
      const { model } = await build(withTraining(c.graph), { maxBatch: BATCH, debug: false });
      const w0 = randomizeWeights(model, 5, 0.5);
      const feeds = { ...randomFeeds(model.inputs as any, BATCH, 61), ...randomFeeds(model.targets as any, BATCH, 62) };
      model.trainStep(feeds);
      const w1 = model.getWeights();
      const lossAt = (name: string, w: Float32Array) => {
        model.setWeights({ ...w0, [name]: w });
        return model.trainStep(feeds).loss;
      };
      const trainable = model.weights.filter((w) => w.trainable).map((w) => w.name);
      const grads = Object.fromEntries(trainable.map((name) => [name, Float64Array.from(w0[name]!, (v, i) => v - w1[name]![i]!)]));
      // A gradient that is zero in exact arithmetic (a bias in front of batch normalization) is
      // measured against the scale of the whole gradient instead of against its own rounding noise.
      const scale = Math.max(...Object.values(grads).map(norm));
      expect(scale).toBeGreaterThan(0);
      const next = rng(17);
      const errors: string[] = [];
      for (const name of trainable) {
        const g = grads[name]!, size = norm(g);
        const random = Float64Array.from(g, () => next() * 2 - 1);
        for (const [label, dir] of [["along g", g], ["random", random]] as const) {
          const n = norm(dir);
          if (n === 0) continue;
          const tried: string[] = [];
          for (const h of STEPS) {
            const plus = Float32Array.from(w0[name]!, (v, i) => v + (h * dir[i]!) / n);
            const minus = Float32Array.from(w0[name]!, (v, i) => v - (h * dir[i]!) / n);
            const lp = lossAt(name, plus), lm = lossAt(name, minus);
            const predicted = g.reduce((s, gi, i) => s + gi * (plus[i]! - minus[i]!), 0);
            // The losses are f32: a difference is known to a few units in their last place.
            const err = Math.max(0, Math.abs(lp - lm - predicted) - 2 * (ulp(lp) + ulp(lm))) / (2 * h * Math.max(size, 1e-3 * scale));
            tried.push(`h ${h}: finite difference ${lp - lm}, gradient predicts ${predicted} (error ${err.toExponential(2)})`);
            if (err < TOLERANCE) break;
            if (tried.length === STEPS.length) errors.push(`${name} ${label}: ${tried.join("; ")}`);
          }
        }
      }
      expect(errors).toEqual([]);
    });
  }
});
