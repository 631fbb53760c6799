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

describe("gpt-spam fine-tuning helpers (finetune.mjs, model.mjs)", () => {
  const load = async (file: string): Promise<any> => import(new URL(`../../examples/gpt-spam/${file}`, import.meta.url).href);

  test("the classifier takes the language model's weights by name: backbone copied, head and optimizer state left out", async () => {
    const { compile } = await import("../../compiler/index.js");
    const { loadModel } = await import("../../runtime/index.js");
    const { lmGraph, classifierGraph } = await load("model.mjs");
    const { transferableWeights } = await load("finetune.mjs");
    const config = { vocab: 300, context: 8, width: 8, layers: 1, heads: 2 };
    const lm = await loadModel((await compile(lmGraph(config, { seed: 5 }), { maxBatch: 2, optimizeLevel: 0 })).wasm);
    // One training step so the file also holds optimizer state (optimizer/… and the I32 step).
    const tokens = new Int32Array(16).map((_, i) => (i * 37) % 300);
    lm.trainStep({ tokens, next: tokens.map((t) => (t + 1) % 300) });
    const bytes = lm.saveWeights();
    const cls = await loadModel((await compile(classifierGraph(config, { seed: 9, length: 4 }), { maxBatch: 2, optimizeLevel: 0 })).wasm);
    const headBefore = cls.getWeights()["head/kernel"]!;
    const moved = transferableWeights(bytes, cls);
    expect(Object.keys(moved)).toContain("b0_att/query/kernel");
    expect(Object.keys(moved).some((n) => n.startsWith("optimizer/") || n.startsWith("logits/") || n.startsWith("head/"))).toBe(false);
    cls.setWeights(moved);
    const after = cls.getWeights(), source = lm.getWeights();
    for (const name of Object.keys(moved)) expect(Array.from(after[name]!)).toEqual(Array.from(source[name]!));
    // Every classifier weight but the head's came from the language model.
    expect(cls.weights.map((w: any) => w.name).filter((n: string) => !(n in moved)).sort()).toEqual(["head/bias", "head/kernel"]);
    expect(Array.from(after["head/kernel"]!)).toEqual(Array.from(headBefore));
  });

  test("scores: accuracy, F1 on spam and balanced accuracy from 2-way logits", async () => {
    const { classificationScores } = await load("finetune.mjs");
    // guesses: 1, 0, 1, 0 against labels 1, 1, 0, 0 → tp 1, fn 1, fp 1, tn 1
    const s = classificationScores(new Float32Array([0, 1, 1, 0, 0, 2, 3, 0]), [1, 1, 0, 0]);
    expect(s.accuracy).toBe(0.5);
    expect(s.f1Spam).toBe(0.5);
    expect(s.balancedAccuracy).toBe(0.5);
    // Always "ham": accuracy is the ham share, balanced accuracy 0.5, F1 on spam 0.
    const ham = classificationScores(new Float32Array([1, 0, 1, 0, 1, 0, 1, 0]), [0, 0, 0, 1]);
    expect(ham).toEqual({ accuracy: 0.75, f1Spam: 0, balancedAccuracy: 0.5 });
  });
});
