/**
 * model.generate (runtime/decode.ts): greedy at temperature 0, seeded sampling (the same seed gives
 * the same tokens, with or without the cache), top-k keeps only the k most likely tokens, top-p
 * the nucleus; bad options are KilnErrors that leave the model as it was.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import { sampleToken } from "../../runtime/decode.js";
import { Rng } from "../../runtime/rng.js";
import type { Model } from "../../runtime/model.js";
import type { Decoding } from "../../runtime/decode.js";
import { gptGraph, memoryHash, tokens } from "./gpt-fixture.js";
import { kilnError } from "../util/errors.js";

const CONFIG = { vocab: 31, context: 12, width: 16, heads: 2, blocks: 1 };


/** How often each id comes out of `draws` samples. */
function counts(logits: number[], o: { temperature: number; topK: number; topP: number }, draws: number, seed: number): Map<number, number> {
  const rng = new Rng(seed, 0), seen = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const t = sampleToken(logits, o, rng);
    seen.set(t, (seen.get(t) ?? 0) + 1);
  }
  return seen;
}

describe("sampling one token", () => {
  // Probabilities at temperature 1: 0.4, 0.25, 0.15, 0.1, 0.06, 0.04 (ids in that order, shuffled below).
  const probs = [0.15, 0.4, 0.04, 0.25, 0.06, 0.1];
  const logits = probs.map(Math.log);

  it("temperature 0 is the most likely token, ties to the smallest id", () => {
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, new Rng(1, 0))).toBe(1);
    expect(sampleToken([0, 3, 1, 3], { temperature: 0, topK: 3, topP: 0.5 }, new Rng(1, 0))).toBe(1);
  });

  it("top-k keeps exactly the k most likely tokens, in their proportions", () => {
    const seen = counts(logits, { temperature: 1, topK: 3, topP: 1 }, 20000, 3);
    expect([...seen.keys()].sort()).toEqual([0, 1, 3]);
    expect(seen.get(1)! / 20000).toBeCloseTo(0.4 / 0.8, 1);
    expect([...counts(logits, { temperature: 1, topK: 1, topP: 1 }, 500, 4).keys()]).toEqual([1]);
  });

  it("top-p keeps the smallest set of most likely tokens whose mass reaches p", () => {
    // 0.4 < 0.6 ≤ 0.4 + 0.25: ids 1 and 3.
    const seen = counts(logits, { temperature: 1, topK: 0, topP: 0.6 }, 20000, 5);
    expect([...seen.keys()].sort()).toEqual([1, 3]);
    expect(seen.get(1)! / 20000).toBeCloseTo(0.4 / 0.65, 1);
    // 0.8 of the mass: 0.4 + 0.25 + 0.15.
    expect([...counts(logits, { temperature: 1, topK: 0, topP: 0.8 }, 20000, 6).keys()].sort()).toEqual([0, 1, 3]);
    // Applied after top-k, to what top-k kept: 0.6 of the top two's 0.65 is 0.39, which id 1 (0.4) reaches alone.
    expect([...counts(logits, { temperature: 1, topK: 2, topP: 0.6 }, 5000, 7).keys()]).toEqual([1]);
    expect([...counts(logits, { temperature: 1, topK: 2, topP: 0.7 }, 5000, 7).keys()].sort()).toEqual([1, 3]);
  });

  it("every token can come out without filters, and temperature flattens the distribution", () => {
    const flat = counts(logits, { temperature: 4, topK: 0, topP: 1 }, 20000, 8), sharp = counts(logits, { temperature: 1, topK: 0, topP: 1 }, 20000, 8);
    expect(flat.size).toBe(6);
    expect(flat.get(2)!).toBeGreaterThan(sharp.get(2)!);
  });
});

describe("model.generate", () => {
  let model: Model & Decoding;
  beforeAll(async () => {
    model = <Model & Decoding>await loadModel((await compile(gptGraph(CONFIG), { decode: true, maxBatch: 2 })).wasm);
  });
  const prompt = tokens(4, CONFIG.vocab, 9);

  it("temperature 0 follows the most likely token of predict's logits at every step", () => {
    const out = model.generate(prompt, { maxTokens: 6, temperature: 0 });
    const seq = Array.from(prompt);
    for (let i = 0; i < 6; i++) {
      const window = new Int32Array(CONFIG.context);
      window.set(seq);
      const row = model.predict({ tokens: window }).logits.subarray((seq.length - 1) * CONFIG.vocab, seq.length * CONFIG.vocab);
      seq.push(row.indexOf(Math.max(...row)));
    }
    expect(Array.from(out)).toEqual(seq.slice(prompt.length));
  });

  it("the same seed gives the same tokens, with and without the cache; other seeds other tokens", () => {
    const o = { maxTokens: 8, temperature: 1.5, topK: 20, topP: 0.95 };
    const runs = [1, 2, 3, 4].map((seed) => Array.from(model.generate(prompt, { ...o, seed })));
    for (const [i, seed] of [1, 2, 3, 4].entries()) {
      expect(Array.from(model.generate(prompt, { ...o, seed }))).toEqual(runs[i]);
      expect(Array.from(model.generate(prompt, { ...o, seed, cache: false }))).toEqual(runs[i]);
    }
    expect(new Set(runs.map((r) => r.join())).size).toBeGreaterThan(1);
  });

  it("stops before the stop token, and may fill the context exactly", () => {
    const free = Array.from(model.generate(prompt, { maxTokens: CONFIG.context - prompt.length + 1, temperature: 0 }));
    expect(free.length).toBe(CONFIG.context - prompt.length + 1);
    const stopped = Array.from(model.generate(prompt, { maxTokens: free.length, temperature: 0, stopToken: free[2] }));
    expect(stopped).toEqual(free.slice(0, free.indexOf(free[2]!)));
    expect(Array.from(model.generate(prompt, { maxTokens: 0 }))).toEqual([]);
  });

  it("bad prompts and options are KilnErrors naming them, and change nothing", () => {
    model.resetCache();
    model.decode({ tokens: Int32Array.of(3) });
    const before = memoryHash(model.memoryView());
    const cases: [unknown, unknown, string, RegExp][] = [
      [prompt, { topK: -1 }, "options.topK", /an integer ≥ 0/],
      [prompt, { topK: 1.5 }, "options.topK", /an integer ≥ 0/],
      [prompt, { topP: 0 }, "options.topP", /in \(0, 1\]/],
      [prompt, { topP: 1.2 }, "options.topP", /in \(0, 1\]/],
      [prompt, { temperature: -1 }, "options.temperature", /≥ 0/],
      [prompt, { temperature: NaN }, "options.temperature", /finite/],
      [prompt, { seed: 0.5 }, "options.seed", /an integer/],
      [prompt, { maxTokens: -2 }, "options.maxTokens", /an integer ≥ 0/],
      [prompt, { stopToken: CONFIG.vocab }, "options.stopToken", /token id in \[0, 31\)/],
      [prompt, { cache: "yes" }, "options.cache", /true or false/],
      [prompt, { top_k: 3 }, "options.top_k", /unknown option "top_k"/],
      [prompt, { maxTokens: CONFIG.context }, "options.maxTokens", /needs 15 positions; the model's context is 12/],
      [[], {}, "prompt", /non-empty/],
      ["hello", {}, "prompt", /non-empty array or Int32Array of token ids, got string/],
      [[1, 99], {}, "prompt[1]", /token id in \[0, 31\), got 99/],
    ];
    for (const [p, o, path, message] of cases) {
      const e = kilnError(() => model.generate(p as number[], o as object));
      expect(e.diagnostics.map((d) => d.path)).toContain(path);
      expect(e.message).toMatch(message);
    }
    // All problems at once.
    expect(kilnError(() => model.generate(prompt, { maxTokens: 4, topK: -1, topP: 2 })).diagnostics.length).toBe(2);
    expect(memoryHash(model.memoryView())).toBe(before);
    expect(model.cachePosition).toBe(1);
  });
});
