/**
 * Test harness for compiled modules: compile a graph (at -O0, small max batch), load it with the
 * runtime, feed seeded random weights and inputs, and compare against the float64 reference
 * interpreter in test/reference (which shares no code with the compiler).
 */
import { compile, type CompileOptions } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { runReference, type RefGraph } from "../reference/interpret.js";
import { makeRng } from "../reference/prng.js";

/** Seeded uniform [0, 1) numbers: the tests' one PRNG (mulberry32, test/reference/prng.ts). */
export const rng = (seed: number): (() => number) => makeRng(seed).next;

export async function build(graph: object, opts: CompileOptions = {}): Promise<{ model: Model; wasm: Uint8Array; source: string; ir: string }> {
  // Debug builds: every buffer guarded, checked after every kernel call (zero corruptions).
  const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 5, debug: true, ...opts });
  const model = await loadModel(r.wasm);
  return { model, wasm: r.wasm, source: r.source, ir: r.ir };
}

/** Seeded weights in ±scale (variances positive), set into the model and returned as float64 for the reference. */
export function randomizeWeights(model: Model, seed: number, scale = 0.5): Record<string, Float32Array> {
  const next = rng(seed);
  const out: Record<string, Float32Array> = {};
  for (const w of model.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = w.name.endsWith("moving_variance") ? 0.5 + next() : (next() * 2 - 1) * scale;
    out[w.name] = v;
  }
  model.setWeights(out);
  return out;
}

export function randomFeeds(infos: { name: string; shape: number[]; dtype: string; range?: [number, number] }[], batch: number, seed: number): Record<string, Float32Array | Int32Array> {
  const next = rng(seed);
  const feeds: Record<string, Float32Array | Int32Array> = {};
  for (const info of infos) {
    const n = batch * info.shape.reduce((a, b) => a * b, 1);
    if (info.dtype === "int32") {
      const hi = info.range?.[1] ?? 2;
      feeds[info.name] = Int32Array.from({ length: n }, () => Math.floor(next() * hi));
    } else {
      feeds[info.name] = Float32Array.from({ length: n }, () => next() * 2 - 1);
    }
  }
  return feeds;
}

/** ‖out − ref‖ / ‖ref‖ (absolute when the reference is all zero). */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (out[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Compiled predict vs the reference's inference-mode forward for every graph output. */
export function comparePredict(graph: RefGraph, model: Model, weights: Record<string, Float32Array>, batch: number, seed: number): Record<string, number> {
  const feeds = randomFeeds(model.inputs as any, batch, seed);
  const out = model.predict(feeds);
  const ref = runReference(graph, weights, feeds, batch, { training: false });
  const errs: Record<string, number> = {};
  for (const [name, t] of Object.entries(ref.outputs)) errs[name] = relErr(out[name]!, t.data);
  return errs;
}

