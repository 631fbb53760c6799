/**
 * The decode program (compile({ decode: true }), spec §7 "Generation"): one position per call
 * against key/value caches. Its outputs at every position equal predict's for the whole sequence
 * at that position; the caches reset; positions past the context and graphs it cannot run are
 * clear errors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import type { Decoding } from "../../runtime/decode.js";
import { gptGraph, memoryHash, tokens } from "./gpt-fixture.js";
import { customSection } from "../hardening/crafted.js";
import { withoutSection } from "../hardening/fixtures.js";
import { kilnError } from "../util/errors.js";

const CONFIG = { vocab: 29, context: 8, width: 16, heads: 2, blocks: 2 };

/** Largest absolute difference. */
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);


describe("decode program", () => {
  let model: Model & Decoding;
  beforeAll(async () => {
    const { wasm, manifest } = await compile(gptGraph(CONFIG), { decode: true, maxBatch: 4 });
    expect(manifest.decode!.context).toBe(CONFIG.context);
    expect(manifest.decode!.caches.length).toBe(2 * CONFIG.blocks);
    model = <Model & Decoding>await loadModel(wasm);
  });

  /** predict's logits for `sequences` (each of `context` tokens) and decode's, position by position. */
  function both(sequences: Int32Array[]) {
    const { context, vocab } = CONFIG, n = sequences.length;
    const all = new Int32Array(n * context);
    sequences.forEach((s, i) => all.set(s, i * context));
    const full = model.predict({ tokens: all }).logits;
    model.resetCache();
    const steps: Float32Array[] = [];
    for (let p = 0; p < context; p++) {
      expect(model.cachePosition).toBe(p);
      steps.push(model.decode({ tokens: Int32Array.from(sequences, (s) => s[p]!) }).logits);
    }
    const atPosition = (p: number) => Float32Array.from({ length: n * vocab }, (_, k) => full[(Math.floor(k / vocab) * context + p) * vocab + (k % vocab)]!);
    return { steps, atPosition };
  }

  it("gives predict's logits at every position, for several prompts at once and alone (1e-4)", () => {
    const prompts = [1, 2, 3].map((seed) => tokens(CONFIG.context, CONFIG.vocab, seed));
    for (const batch of [prompts, [prompts[1]!]]) {
      const { steps, atPosition } = both(batch);
      steps.forEach((s, p) => {
        expect(s.length).toBe(batch.length * CONFIG.vocab);
        expect(maxDiff(s, atPosition(p))).toBeLessThan(1e-4);
      });
    }
  });

  it("after resetCache, a new prompt gives that prompt's logits (nothing of the old one is left)", () => {
    const a = tokens(CONFIG.context, CONFIG.vocab, 11), b = tokens(CONFIG.context, CONFIG.vocab, 12);
    both([a]);
    const { steps, atPosition } = both([b]);
    steps.forEach((s, p) => expect(maxDiff(s, atPosition(p))).toBeLessThan(1e-4));
    // Half-way through a sequence, then reset: position 0 again, the same logits as a fresh start.
    model.resetCache();
    const first = model.decode({ tokens: Int32Array.of(a[0]!) }).logits;
    model.decode({ tokens: Int32Array.of(a[1]!) });
    model.resetCache();
    expect(model.cachePosition).toBe(0);
    expect(model.decode({ tokens: Int32Array.of(a[0]!) }).logits).toEqual(first);
  });

  it("a position past the context is a clear error that changes nothing", () => {
    model.resetCache();
    for (const t of tokens(CONFIG.context, CONFIG.vocab, 5)) model.decode({ tokens: Int32Array.of(t) });
    const before = memoryHash(model.memoryView());
    const e = kilnError(() => model.decode({ tokens: Int32Array.of(1) }));
    expect(e.diagnostics[0]!.code).toBe("decode");
    expect(e.message).toMatch(/position 8 is past the context: the caches hold 8 positions/);
    expect(memoryHash(model.memoryView())).toBe(before);
    expect(model.cachePosition).toBe(CONFIG.context);
  });

  it("refuses another sequence count mid-sequence, and bad token ids, writing nothing", () => {
    model.resetCache();
    model.decode({ tokens: Int32Array.of(1, 2) });
    const before = memoryHash(model.memoryView());
    expect(kilnError(() => model.decode({ tokens: Int32Array.of(1) })).message).toMatch(/the caches hold 2 sequence\(s\) at position 1; got 1/);
    expect(kilnError(() => model.decode({ tokens: Int32Array.of(1, CONFIG.vocab) })).message).toMatch(/tokens/);
    expect(memoryHash(model.memoryView())).toBe(before);
    expect(model.cachePosition).toBe(1);
  });
});

describe("decode in a debug build", () => {
  it("writes nothing outside its buffers (the guards after every kernel hold) and matches predict", async () => {
    const config = { ...CONFIG, context: 5, blocks: 1 };
    const model = <Model & Decoding>await loadModel((await compile(gptGraph(config), { decode: true, debug: true, maxBatch: 2 })).wasm);
    const seqs = [tokens(5, config.vocab, 21), tokens(5, config.vocab, 22)];
    const full = model.predict({ tokens: Int32Array.from([...seqs[0]!, ...seqs[1]!]) }).logits;
    for (let p = 0; p < 5; p++) {
      const step = model.decode({ tokens: Int32Array.of(seqs[0]![p]!, seqs[1]![p]!) }).logits;
      for (let b = 0; b < 2; b++) {
        const want = full.subarray((b * 5 + p) * config.vocab, (b * 5 + p + 1) * config.vocab);
        expect(maxDiff(step.subarray(b * config.vocab, (b + 1) * config.vocab), want)).toBeLessThan(1e-4);
      }
    }
  });
});

describe("decode in a threaded build", () => {
  it("2 workers sharing the sequences give predict's logits at every position", async () => {
    const config = { ...CONFIG, blocks: 1 };
    const model = <Model & Decoding>await loadModel((await compile(gptGraph(config), { decode: true, threads: 2, maxBatch: 4 })).wasm, { threads: 2 });
    try {
      const seqs = [31, 32, 33, 34].map((seed) => tokens(config.context, config.vocab, seed));
      const full = model.predict({ tokens: Int32Array.from(seqs.flatMap((s) => Array.from(s))) }).logits;
      for (let p = 0; p < config.context; p++) {
        const step = model.decode({ tokens: Int32Array.from(seqs, (s) => s[p]!) }).logits;
        const want = Float32Array.from({ length: 4 * config.vocab }, (_, k) => full[(Math.floor(k / config.vocab) * config.context + p) * config.vocab + (k % config.vocab)]!);
        expect(maxDiff(step, want)).toBeLessThan(1e-4);
      }
    } finally {
      model.dispose();
    }
  });
});

describe("decode: what it refuses", () => {
  it("a module without a decode program: decode, resetCache and generate are KilnErrors saying how to get one, changing nothing", async () => {
    const model = await loadModel((await compile(gptGraph(CONFIG))).wasm);
    expect(model.manifest.decode).toBeUndefined();
    expect(model.cachePosition).toBeUndefined(); // how an app tells a decode module's model
    const before = memoryHash(model.memoryView());
    const calls: [string, () => unknown][] = [
      ["generate", () => model.generate!(tokens(3, 29, 1), { maxTokens: 2 })],
      ["decode", () => model.decode!({ tokens: Int32Array.of(1) })],
      ["resetCache", () => model.resetCache!()],
    ];
    for (const [name, call] of calls) {
      // Before: "model.generate is not a function", a TypeError.
      const e = kilnError(call);
      expect(e.diagnostics[0]).toMatchObject({ code: "decode", path: name });
      expect(e.message).toBe(`${name}: ${name} needs a module compiled with a decode program (compile(graph, { decode: true }) or kiln compile --decode, for a causal language model); this one has none`);
    }
    expect(memoryHash(model.memoryView())).toBe(before);
    model.dispose();
    expect(kilnError(() => model.generate!([1])).message).toBe("the model was disposed");
  });

  it("graphs it cannot run one position at a time, naming the layer", async () => {
    const graph = gptGraph(CONFIG) as { layers: Record<string, unknown>[]; outputs: string[] };
    const att = graph.layers.find((l) => l.name === "b0_att")!;
    att.causal = false;
    graph.layers.push({ name: "flat", op: "flatten", inputs: ["logits"] });
    graph.outputs = ["flat"];
    const e = await compile(graph, { decode: true }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(KilnError);
    const d = (e as KilnError).diagnostics;
    expect(d.map((x) => x.layer)).toEqual(["b0_att", "flat"]);
    expect(d[0]!.message).toMatch(/must be causal/);
    expect(d[1]!.message).toMatch(/flatten\) has no decode lowering/);
  });
});

describe("decode: crafted manifests are refused at load", () => {
  it("a cache over a weight, a position word outside memory, a missing export", async () => {
    const { wasm, manifest } = await compile(gptGraph(CONFIG), { decode: true, maxBatch: 2 });
    const bare = withoutSection(wasm, "kiln.manifest");
    const withManifest = (m: unknown) => Uint8Array.from([...bare, ...customSection("kiln.manifest", new TextEncoder().encode(JSON.stringify(m)))]);
    const refusal = (edit: (m: any) => void) => {
      const m = structuredClone(manifest) as any;
      edit(m);
      return loadModel(withManifest(m)).then(() => "loaded", (e: unknown) => (e instanceof KilnError ? e.message : `not a KilnError: ${e}`));
    };
    expect(await refusal(() => undefined)).toBe("loaded");
    expect(await refusal((m) => (m.decode.caches[1].offset = m.weights[0].offset))).toMatch(/decode cache of layer "b0_att" overlaps weight|overlaps decode cache of layer "b0_att"/);
    expect(await refusal((m) => (m.decode.positionOffset = m.memory.pages * 65536))).toMatch(/decode.positionOffset/);
    expect(await refusal((m) => (m.exports.decode = "nope"))).toMatch(/nope/);
    expect(await refusal((m) => (m.decode.outputs[0].shape = [8, CONFIG.vocab]))).toMatch(/decode.outputs: expected slots of one position/);
  });
});
