// The gpt-spam example in quick mode: BPE on the train emails, a tiny GPT pretrained (loss falls
// and beats its untrained self on held-out text), fine-tuned to tell spam from ham (better than
// any constant guess), with the from-scratch and frozen-backbone variants run beside it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/gpt-spam", () => {
  test("run.mjs --quick: pretraining loss falls; fine-tuning beats chance; table and files written", async () => {
    const { dir, stdout, summary } = await runExample("gpt-spam");
    expect(summary.quick).toBe(true);
    // Pretraining: the epoch losses fall and held-out loss ends below where it started.
    expectLossFalls(summary.pretraining.history);
    expect(summary.pretraining.heldOutNll).toBeLessThan(summary.pretraining.heldOutLossBefore);
    expect(summary.pretraining.heldOutPerplexity).toBeCloseTo(Math.exp(summary.pretraining.heldOutNll), 6);
    expect(summary.bigram.nll).toBeLessThan(summary.bigram.unigramNll);
    expect(summary.improvementNatsPerToken).toBeCloseTo(summary.bigram.nll - summary.pretraining.heldOutNll, 9);
    // Tokenizer and pretrained weights saved together.
    expect(existsSync(join(dir, "data", "tokenizer.json"))).toBe(true);
    expect(existsSync(join(dir, "data", "gpt-lm.safetensors"))).toBe(true);
    // Fine-tuning: the pretrained model fine-tuned tells spam from ham better than a constant guess
    // (balanced accuracy 0.5), on the held-out test emails.
    const runs: any[] = summary.fineTuning.runs;
    expect(runs.map((r) => r.variant).sort()).toEqual(["frozen", "pretrained", "scratch"]);
    const tuned = runs.find((r) => r.variant === "pretrained");
    expect(tuned.balancedAccuracy).toBeGreaterThan(0.5);
    expect(tuned.accuracy).toBeGreaterThan(0.5);
    expect(summary.fineTuning.testEmails).toBeGreaterThan(100);
    expect(stdout).toContain("| labelled emails | pretrained + fine-tuned | from scratch | frozen backbone |");
    expect(stdout).toMatch(/generated \d+ tokens/);
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Perplexity"]);
  }, EXAMPLE_TIMEOUT);
});

describe("gpt-spam sampling (generate.mjs)", () => {
  const load = async (): Promise<any> => import(new URL("../../examples/gpt-spam/generate.mjs", import.meta.url).href);
  const seeded = (values: number[]) => { let i = 0; return () => values[i++ % values.length]!; };
  const logits = new Float32Array([0, 3, 1, 2.9, -5]);

  test("temperature 0 is greedy; topK 1 is greedy at any temperature", async () => {
    const { sampleToken } = await load();
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, seeded([0.99]))).toBe(1);
    for (const r of [0, 0.5, 0.999]) expect(sampleToken(logits, { temperature: 2, topK: 1, topP: 1 }, seeded([r]))).toBe(1);
  });

  test("topK and topP keep only the most likely tokens", async () => {
    const { sampleToken } = await load();
    // topK 2: only ids 1 and 3 can come out, whatever the draw.
    const drawn = new Set([0, 0.3, 0.6, 0.9, 0.999].map((r) => sampleToken(logits, { temperature: 1, topK: 2, topP: 1 }, seeded([r]))));
    expect([...drawn].sort()).toEqual([1, 3]);
    // topP 0.4: id 1 alone holds over 40% of the mass, so it is the only one kept.
    for (const r of [0, 0.5, 0.999]) expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.4 }, seeded([r]))).toBe(1);
    // Without filters the least likely id can come out at the top of the range.
    expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, seeded([0.99999]))).toBe(4);
  });

  test("generate: same seed, same text; options checked before any work", async () => {
    const { GptGenerator } = await load();
    const { Tokenizer } = await import(new URL("../../examples/gpt-spam/bpe.mjs", import.meta.url).href);
    const tokenizer = new Tokenizer([]);
    // A stand-in model whose logits depend on the window, so the sampler's path matters.
    let calls = 0;
    const model = { predict: ({ tokens }: { tokens: Int32Array }) => {
      calls++;
      const out = new Float32Array(tokens.length * 257);
      tokens.forEach((t, i) => { for (let v = 97; v < 123; v++) out[i * 257 + v] = ((t * 31 + v * 17) % 13) / 4; });
      return { logits: out };
    } };
    const gen = new GptGenerator(model, tokenizer, 8);
    const a = gen.generate("hi", { maxTokens: 12, temperature: 1, topK: 5, topP: 0.9, seed: 3 });
    const b = gen.generate("hi", { maxTokens: 12, temperature: 1, topK: 5, topP: 0.9, seed: 3 });
    expect(a.text).toBe(b.text);
    expect(a.tokens).toBe(12);
    expect(a.text).toMatch(/^[a-z]{12}$/);
    const before = calls;
    expect(() => gen.generate("hi", { maxTokens: -1, topP: 0, topK: 1.5 })).toThrow(/maxTokens.*topK.*topP/);
    expect(calls).toBe(before);
  });
});
