/**
 * Shared pieces of the training tests: compiling small graphs, reading a compiled gradient out of
 * one sgd step with learning rate 1 (w₁ = w₀ − g, so g = w₀ − w₁), and error measures that do not
 * fail on gradients that are exactly zero in exact arithmetic.
 */
import { build, randomizeWeights, relErr, rng } from "../compile/harness.js";
import type { Model } from "../../runtime/model.js";

export { build, randomizeWeights, relErr, rng };

export type Feeds = Record<string, Float32Array | Int32Array>;

export const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** Loss, metrics and per-weight gradients of one compiled train step (the graph must use sgd, lr 1). */
export function compiledGradients(model: Model, feeds: Feeds): { loss: number; metrics: Record<string, number>; grads: Record<string, Float32Array> } {
  const w0 = model.getWeights();
  const step = model.trainStep(feeds);
  const w1 = model.getWeights();
  const grads: Record<string, Float32Array> = {};
  for (const w of model.weights) if (w.trainable) grads[w.name] = w0[w.name]!.map((v, i) => v - w1[w.name]![i]!);
  return { ...step, grads };
}

/**
 * ‖got − want‖ / max(‖want‖, floor·scale) per gradient, where scale is the largest gradient norm:
 * a gradient that is zero in exact arithmetic is measured against the scale of the others.
 */
export function gradientErrors(got: Record<string, ArrayLike<number>>, want: Record<string, ArrayLike<number>>, floor = 1e-3): Record<string, number> {
  const scale = Math.max(...Object.values(want).map(norm));
  const errs: Record<string, number> = {};
  for (const [name, g] of Object.entries(want)) {
    const o = got[name];
    if (!o || o.length !== g.length) {
      errs[name] = Infinity;
      continue;
    }
    const diff = norm(Array.from(g, (v, i) => o[i]! - v));
    errs[name] = diff / Math.max(norm(g), floor * scale);
  }
  return errs;
}

/** Float32 data in [lo, hi) from a seeded stream. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
}

/** Integers in [0, k). */
export function ints(n: number, k: number, seed: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(next() * k));
}

/** Rows of `k` positive values summing to 1 (soft categorical targets). */
export function distributions(rows: number, k: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += out[r * k + j] = 0.05 + next();
    for (let j = 0; j < k; j++) out[r * k + j]! /= s;
  }
  return out;
}

/** Float64 copies of float32 weights. */
export function f64(rec: Record<string, Float32Array>): Record<string, Float64Array> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, Float64Array.from(v)]));
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
