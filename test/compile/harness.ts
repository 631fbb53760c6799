/**
 * Test harness for compiled modules: compile a graph (at -O0, small max batch), load it with the
 * runtime, feed seeded random weights and inputs, and compare against the float64 reference
 * interpreter in test/reference (which shares no code with the compiler).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileOptions } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { runReference, type RefGraph } from "../reference/interpret.js";
import { referenceGradients } from "../reference/gradients.js";
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
    for (let i = 0; i < n; i++) v[i] = w.name.endsWith("variance") ? 0.5 + next() : (next() * 2 - 1) * scale;
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


// ------------------------------------------------------------------ hostile names and threads

/** One graph built twice by `make`: with `names` (hostile) and with neutral ones (`qzneutral<j>x`), and the map between them. */
export interface NameTwins {
  hostile: any;
  neutral: any;
  /** A hostile layer, input or weight name as its neutral twin (every part but a weight's own short name). */
  toNeutral(name: string): string;
  rekey<T>(rec: Record<string, T>): Record<string, T>;
}

export type GraphMaker = (name: (j: number) => string, graphName: string) => any;

export function nameTwins(names: readonly string[], make: GraphMaker): NameTwins {
  const neutralNames = names.map((_h, j) => `qzneutral${j}x`);
  const one = (part: string) => neutralNames[names.indexOf(part)] ?? part;
  const toNeutral = (name: string) => {
    const parts = name.split("/");
    // `<layer>/<weight>` or `<wrapper>/<inner>/<weight>`: the weight's short name is the op's, not the file's.
    return parts.map((p, i) => (i < parts.length - 1 || parts.length === 1 ? one(p) : p)).join("/");
  };
  return {
    hostile: make((j) => names[j]!, "prototype"),
    neutral: make((j) => neutralNames[j]!, "qzneutralgraph"),
    toNeutral,
    rekey: (rec) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [toNeutral(k), v])),
  };
}

const NAME_RULE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const sortedBytes = (record: Record<string, Float32Array>) => Object.keys(record).sort().map((k) => new Uint8Array(record[k]!.buffer.slice(0)));

/** Four train steps and a predict on `threads` threads (optionally with fixed per-thread shares of the batch). */
async function stepsAndPredict(wasm: Uint8Array, threads: number, feeds: Record<string, Float32Array | Int32Array>, shares?: number[]) {
  const model = await loadModel(wasm, { threads });
  if (shares) {
    model.pool!.balance = false;
    for (const p of ["train_step", "predict"]) model.pool!.shares.set(p, shares);
  }
  try {
    const losses = [0, 1, 2, 3].map(() => model.trainStep(feeds).loss);
    const inputs = Object.fromEntries(model.inputs.map((i) => [i.name, feeds[i.name]!]));
    return { losses, weights: sortedBytes(model.getWeights()), pred: sortedBytes(model.predict(inputs)) };
  } finally {
    model.dispose();
  }
}

/**
 * The checks each op family's hostile-names-and-threads test makes, as vitest tests under
 * `title`, for the graph `make` builds (every input, target and layer name — inner layers'
 * too — from `names`, which must be valid names, each used once):
 * - names are data: the graph with every name replaced by a neutral one compiles to the very same
 *   source, in which no neutral name appears;
 * - predict matches the float64 reference (run on the renamed graph) at batch 1, 3 and 4;
 * - with `gradients`, one sgd step's loss and every weight gradient match the reference (1e-4);
 *   leave it out for graphs that draw dropout masks or noise in training;
 * - a threaded build gives bit-identical train steps and predictions on 1 and 2 threads, with any
 *   split of the batch, and the same as the single-threaded build.
 * `weights(model)` adds checks of the hostile build's weight names.
 */
export function describeHostileNamesAndThreads(title: string, names: readonly string[], make: GraphMaker, opts: { gradients?: boolean; weights?: (model: Model) => void } = {}): void {
  const twins = nameTwins(names, make);
  const text = JSON.stringify(twins.hostile);
  describe(`${title} under hostile names`, () => {
    let hostile: { model: Model; source: string };
    let neutralSource: string;
    beforeAll(async () => {
      const h = await compile(text, { optimizeLevel: 0, maxBatch: 4 });
      neutralSource = (await compile(JSON.stringify(twins.neutral), { optimizeLevel: 0, maxBatch: 4 })).source;
      hostile = { model: await loadModel(h.wasm), source: h.source };
    }, 120_000);

    it("are valid names, each used once", () => {
      for (const name of names) expect(name).toMatch(NAME_RULE);
      const g = twins.hostile;
      const used = [...g.inputs, ...(g.targets ?? []), ...g.layers].map((x: { name: string }) => x.name)
        .concat(g.layers.flatMap((l: any) => (l.layer?.name ? [l.layer.name] : [])));
      expect(used.sort()).toEqual([...names].sort());
    });

    it("never reach the generated source: renaming every name leaves it unchanged", () => {
      expect(hostile.source.length).toBeGreaterThan(1000);
      for (const j of names.keys()) expect(neutralSource.includes(`qzneutral${j}x`), names[j]).toBe(false);
      expect(neutralSource.includes("qzneutralgraph")).toBe(false);
      expect(hostile.source).toBe(neutralSource);
      expect(Object.keys(hostile.model.getWeights()).sort()).toEqual(hostile.model.weights.map((w) => w.name).sort());
      opts.weights?.(hostile.model);
    });

    it("predict matches the reference (run on the renamed graph), batch 1, 3 and 4", () => {
      const m = hostile.model;
      const weights = randomizeWeights(m, 17, 0.6);
      for (const batch of [1, 3, 4]) {
        const feeds = randomFeeds(m.inputs as never, batch, 70 + batch);
        const out = m.predict(feeds);
        const ref = runReference(twins.neutral, twins.rekey(weights), twins.rekey(feeds), batch, { training: false });
        expect(Object.keys(out).sort()).toEqual([...twins.hostile.outputs].sort());
        for (const name of Object.keys(out)) {
          const t = ref.outputs[twins.toNeutral(name)]!;
          expect(out[name]!.length, name).toBe(t.data.length);
          expect(relErr(out[name]!, t.data), `${name} at batch ${batch}`).toBeLessThan(1e-4);
        }
      }
    });

    if (opts.gradients) {
      it("a train step matches the reference's loss and every weight gradient", async () => {
        // sgd at a power-of-two rate: the weight change over it is the gradient, unrounded (see gradients.test.ts).
        const lr = 1024;
        const graph = { ...twins.hostile, training: { ...twins.hostile.training, optimizer: { type: "sgd", learning_rate: lr } } };
        const neutral = { ...twins.neutral, training: { ...twins.neutral.training, optimizer: { type: "sgd", learning_rate: lr } } };
        const m = await loadModel((await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 4 })).wasm);
        const w0 = randomizeWeights(m, 23, 0.6);
        const batch = 3;
        const feeds = { ...randomFeeds(m.inputs as never, batch, 90), ...randomFeeds(m.targets as never, batch, 91) };
        const step = m.trainStep(feeds);
        const w1 = m.getWeights();
        const ref = referenceGradients(neutral, twins.rekey(w0), twins.rekey(feeds), twins.rekey(feeds), batch);
        expect(Math.abs(step.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
        expect(Object.keys(ref.grads).sort()).toEqual(m.weights.filter((w) => w.trainable).map((w) => twins.toNeutral(w.name)).sort());
        for (const w of m.weights.filter((x) => x.trainable)) {
          const got = Float64Array.from(w0[w.name]!, (v, j) => (v - w1[w.name]![j]!) / lr);
          expect(relErr(got, ref.grads[twins.toNeutral(w.name)]!), w.name).toBeLessThan(1e-4);
        }
      }, 120_000);
    }
  });

  describe(`${title}: threaded builds are bit-identical to one thread`, () => {
    it("train steps and predict on 1 and 2 threads, any batch split, and the single-threaded build", async () => {
      const { wasm, manifest } = await compile(text, { maxBatch: 16, threads: 2, optimizeLevel: 0 });
      expect(manifest.threads).toBe(true);
      const model = await loadModel(wasm, { threads: 1 });
      const feeds = { ...randomFeeds(model.inputs as never, 13, 5), ...randomFeeds(model.targets as never, 13, 6) };
      model.dispose();
      const one = await stepsAndPredict(wasm, 1, feeds);
      const two = await stepsAndPredict(wasm, 2, feeds);
      expect(one.losses.every(Number.isFinite)).toBe(true);
      expect(one.losses[3]).not.toEqual(one.losses[0]); // it did train
      expect(two).toEqual(one);
      const plain = await compile(text, { maxBatch: 16, optimizeLevel: 0 });
      expect(await stepsAndPredict(plain.wasm, 1, feeds)).toEqual(one);
      for (const shares of [[1, 0], [0.3, 0.7]]) expect(await stepsAndPredict(wasm, 2, feeds, shares), `shares ${shares}`).toEqual(two);
    }, 300_000);
  });
}
