/**
 * Reference optimizers after 3 steps against an independent scalar loop of the Keras 3 formulas
 * (one weight element at a time, written here from spec §4), for every optimizer and option,
 * with clipnorm / global_clipnorm applied before weight decay and the update.
 */

import { describe, expect, it } from "vitest";
import { OptimizerConfig, clipGradients, newOptimizerState, optimizerStep } from "./optimizers.js";
import { makeRng } from "./prng.js";

const rng = makeRng(555);
const SIZES = { a: 5, b: 3 };

/** The Keras rule for one scalar weight over a list of (already clipped) gradients. */
function scalarKeras(cfg: OptimizerConfig, w0: number, gs: number[]): number {
  let w = w0, m = 0, v = 0;
  const lr = cfg.learning_rate ?? (cfg.type === "sgd" ? 0.01 : 0.001);
  gs.forEach((g, k) => {
    const t = k + 1;
    if (cfg.type === "sgd") {
      const mu = cfg.momentum ?? 0;
      if (mu === 0) w = w - lr * g;
      else {
        m = mu * m - lr * g;
        w = cfg.nesterov ? w + mu * m - lr * g : w + m;
      }
    } else if (cfg.type === "rmsprop") {
      const rho = cfg.rho ?? 0.9, mu = cfg.momentum ?? 0, eps = cfg.epsilon ?? 1e-7;
      v = rho * v + (1 - rho) * g * g;
      if (mu === 0) w = w - (lr * g) / Math.sqrt(v + eps);
      else {
        m = mu * m + (lr * g) / Math.sqrt(v + eps);
        w = w - m;
      }
    } else {
      if (cfg.type === "adamw") w = w - lr * (cfg.weight_decay ?? 0.004) * w;
      const b1 = cfg.beta_1 ?? 0.9, b2 = cfg.beta_2 ?? 0.999, eps = cfg.epsilon ?? 1e-7;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      w = w - ((lr * Math.sqrt(1 - Math.pow(b2, t))) / (1 - Math.pow(b1, t))) * (m / (Math.sqrt(v) + eps));
    }
  });
  return w;
}

/** Independent clipping of one step's gradients (norms summed by hand). */
function scalarClip(cfg: OptimizerConfig, grads: Record<string, number[]>): Record<string, number[]> {
  const sq = (xs: number[]) => xs.reduce((s, x) => s + x * x, 0);
  if (cfg.clipnorm !== undefined) {
    const c = cfg.clipnorm;
    return Object.fromEntries(Object.entries(grads).map(([k, g]) => {
      const n = Math.sqrt(sq(g));
      return [k, g.map((x) => (n > c ? (x * c) / n : x))];
    }));
  }
  if (cfg.global_clipnorm !== undefined) {
    const c = cfg.global_clipnorm;
    const n = Math.sqrt(Object.values(grads).reduce((s, g) => s + sq(g), 0));
    return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.map((x) => (n > c ? (x * c) / n : x))]));
  }
  return grads;
}

const CONFIGS: [string, OptimizerConfig][] = [
  ["sgd", { type: "sgd" }],
  ["sgd momentum", { type: "sgd", learning_rate: 0.1, momentum: 0.9 }],
  ["sgd nesterov", { type: "sgd", learning_rate: 0.05, momentum: 0.8, nesterov: true }],
  ["adam", { type: "adam" }],
  ["adam custom", { type: "adam", learning_rate: 0.01, beta_1: 0.8, beta_2: 0.99, epsilon: 1e-3 }],
  ["adamw", { type: "adamw", learning_rate: 0.01 }],
  ["adamw strong decay", { type: "adamw", learning_rate: 0.05, weight_decay: 0.1 }],
  ["rmsprop", { type: "rmsprop" }],
  ["rmsprop momentum", { type: "rmsprop", learning_rate: 0.01, momentum: 0.9, rho: 0.8 }],
  ["sgd + clipnorm", { type: "sgd", learning_rate: 0.1, clipnorm: 0.5 }],
  ["adam + global_clipnorm", { type: "adam", learning_rate: 0.01, global_clipnorm: 0.7 }],
  ["adamw + clipnorm", { type: "adamw", learning_rate: 0.01, clipnorm: 0.3 }],
  ["rmsprop + global_clipnorm", { type: "rmsprop", momentum: 0.5, global_clipnorm: 1 }],
];

describe("optimizers: 3 steps vs a scalar loop of the Keras formulas", () => {
  for (const [label, cfg] of CONFIGS) {
    it(label, () => {
      const w0 = Object.fromEntries(Object.entries(SIZES).map(([k, n]) => [k, rng.array(n, -2, 2)]));
      const steps = [0, 1, 2].map(() => Object.fromEntries(Object.entries(SIZES).map(([k, n]) => [k, rng.array(n, -1.5, 1.5)])));
      const weights = Object.fromEntries(Object.entries(w0).map(([k, v]) => [k, v.slice()]));
      const state = newOptimizerState();
      for (const g of steps) optimizerStep(cfg, weights, g, state);
      expect(state.step).toBe(3);

      const clipped = steps.map((g) => scalarClip(cfg, Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Array.from(v)]))));
      for (const [k, n] of Object.entries(SIZES)) {
        for (let i = 0; i < n; i++) {
          const expected = scalarKeras(cfg, w0[k][i], clipped.map((g) => g[k][i]));
          expect(weights[k][i]).not.toBe(w0[k][i]);
          expect(Math.abs(weights[k][i] - expected)).toBeLessThan(1e-13 * Math.max(1, Math.abs(expected)));
        }
      }
    });
  }

  it("clipping actually changes large gradients and leaves small ones alone", () => {
    const big = { a: Float64Array.from([3, 4]) };
    const c = clipGradients({ type: "sgd", clipnorm: 1 }, big).a;
    expect(c[0]).toBeCloseTo(0.6, 15);
    expect(c[1]).toBeCloseTo(0.8, 15);
    expect(Array.from(clipGradients({ type: "sgd", clipnorm: 10 }, big).a)).toEqual([3, 4]);
    const two = { a: Float64Array.from([3]), b: Float64Array.from([4]) };
    const g = clipGradients({ type: "sgd", global_clipnorm: 2.5 }, two);
    expect(g.a[0]).toBeCloseTo(1.5, 15);
    expect(g.b[0]).toBeCloseTo(2, 15);
    expect(() => clipGradients({ type: "sgd", clipnorm: 1, global_clipnorm: 1 }, two)).toThrow(/exclusive/);
  });

  it("keeps Keras slot state: adam's momentum and velocity after one step", () => {
    const state = newOptimizerState();
    const w = { a: Float64Array.from([1]) };
    optimizerStep({ type: "adam" }, w, { a: [2] }, state);
    expect(state.momentum.a[0]).toBeCloseTo(0.2, 15);
    expect(state.velocity.a[0]).toBeCloseTo(0.004, 15);
    // t = 1: the bias-corrected step is lr·g/(|g| + ε·…) ≈ lr.
    expect(w.a[0]).toBeCloseTo(1 - 0.001 * (0.2 * Math.sqrt(0.001) / 0.1) / (Math.sqrt(0.004) + 1e-7), 15);
  });
});
