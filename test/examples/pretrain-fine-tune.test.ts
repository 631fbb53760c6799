// The pretrain-fine-tune example in quick mode: BPE on the train emails, a tiny GPT pretrained (loss falls
// and beats its untrained self on held-out text), fine-tuned to tell spam from ham (better than
// any constant guess), with the from-scratch and frozen-backbone variants run beside it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/pretrain-fine-tune", () => {
  test("run.mjs --quick: pretraining loss falls; fine-tuning beats chance; table and files written", async () => {
    const { dir, stdout, summary } = await runExample("pretrain-fine-tune");
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
    expect(stdout).toMatch(/generated \d+ tokens \([\d.]+ tokens\/s, key\/value cache\)/);
    expect(summary.generation.kvCache).toBe(true);
    expect(summary.generation.samples.length).toBe(3);
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Perplexity"]);
  }, EXAMPLE_TIMEOUT);
});

describe("pretrain-fine-tune generation (generate.mjs over model.generate)", () => {
  const load = async (file: string): Promise<any> => import(new URL(`../../examples/pretrain-fine-tune/${file}`, import.meta.url).href);

  test("a decode module of the language model: text continues the prompt, the same seed gives the same text with or without the cache", async () => {
    const { loadGenerator, generateText } = await load("generate.mjs");
    const { Tokenizer } = await load("bpe.mjs");
    const tokenizer = new Tokenizer([]);
    const model = await loadGenerator({ vocab: tokenizer.vocabSize, context: 16, width: 8, layers: 1, heads: 2 }, { seed: 4, optimizeLevel: 0 });
    expect(model.manifest.decode.context).toBe(16);
    const o = { maxTokens: 10, temperature: 1, topK: 50, topP: 0.9, seed: 3 };
    const a = generateText(model, tokenizer, "hi", o);
    expect(a.ids.length).toBe(a.tokens);
    expect(a.tokens).toBeLessThanOrEqual(10);
    expect(a.ids.every((t: number) => t >= 0 && t < 256)).toBe(true); // end-of-text (256) ends generation, never appears
    expect(generateText(model, tokenizer, "hi", o)).toMatchObject({ ids: a.ids, text: a.text });
    expect(generateText(model, tokenizer, "hi", { ...o, cache: false })).toMatchObject({ ids: a.ids, text: a.text });
    // The runtime checks the options before any work: a KilnError naming them.
    expect(() => generateText(model, tokenizer, "hi", { maxTokens: -1, topP: 0 })).toThrow(/options.maxTokens[\s\S]*options.topP/);
    // Past the context: 1 + 2 prompt tokens and 15 new ones need 17 positions.
    expect(() => generateText(model, tokenizer, "hi", { maxTokens: 15 })).toThrow(/the model's context is 16/);
  });
});

describe("pretrain-fine-tune fine-tuning helpers (finetune.mjs, model.mjs)", () => {
  const load = async (file: string): Promise<any> => import(new URL(`../../examples/pretrain-fine-tune/${file}`, import.meta.url).href);

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
