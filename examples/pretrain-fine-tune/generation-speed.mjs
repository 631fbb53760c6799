/**
 * Tokens per second of generation with and without the key/value cache, at 128 and 256
 * positions (issue 20 item 3). The full run's model (settings.mjs; vocabulary 257 + merges) is
 * compiled with a decode program at context 128, and a variant at context 256 (the same model with
 * a 256-row position table). Each measurement generates from an end-of-text token until the
 * context is full (128 or 256 positions): with the cache, one decode call per token; without it,
 * every token runs predict over the whole context window (causal attention: the padding after the
 * sequence does not change its logits). Sampling as the example's (temperature 0.8, top-k 40,
 * top-p 0.95) with the same seed both ways; the script reports whether the tokens are identical.
 * Weights: `--weights` (a gpt-lm.safetensors of the full run) for context 128; otherwise, and at
 * 256, the seeded initial weights (the cost per token does not depend on their values).
 * Usage: node examples/pretrain-fine-tune/generation-speed.mjs [--weights file] [--repeats 3] [--json out.json]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { END_OF_TEXT } from "./bpe.mjs";
import { loadGenerator } from "./generate.mjs";
import { SETTINGS } from "./settings.mjs";

const opts = new Command("generation-speed")
  .option("--weights <file>", "pretrained gpt-lm.safetensors for the context-128 model")
  .option("--repeats <n>", "runs per measurement (the median is reported)", (v) => Number(v), 3)
  .option("--seed <n>", "sampling seed", (v) => Number(v), 1)
  .option("--json <file>", "also write the figures as JSON")
  .parse(process.argv).opts();

const { model: shape, merges } = SETTINGS.full;
const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, seed: opts.seed };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Seconds for `repeats` generations of context − 1 new tokens after one end-of-text (so every position is used). */
function measure(model, context, cache) {
  const seconds = [];
  let tokens;
  for (let r = 0; r < opts.repeats; r++) {
    const started = performance.now();
    tokens = model.generate([END_OF_TEXT], { ...SAMPLING, maxTokens: context - 1, cache });
    seconds.push((performance.now() - started) / 1000);
  }
  return { tokens, seconds: median(seconds), tokensPerSecond: tokens.length / median(seconds) };
}

const rows = [];
for (const context of [128, 256]) {
  const config = { ...shape, context, vocab: 257 + merges };
  const weights = context === 128 && opts.weights ? new Uint8Array(readFileSync(opts.weights)) : undefined;
  const model = await loadGenerator(config, { weights, seed: opts.seed });
  // Warm-up: the engine's optimizing tier compiles the kernels on the first calls.
  model.generate([END_OF_TEXT], { ...SAMPLING, maxTokens: 8 });
  model.generate([END_OF_TEXT], { ...SAMPLING, maxTokens: 2, cache: false });
  const withCache = measure(model, context, true), without = measure(model, context, false);
  const identical = withCache.tokens.length === without.tokens.length && withCache.tokens.every((t, i) => t === without.tokens[i]);
  const row = {
    positions: context, newTokens: withCache.tokens.length, weights: weights ? "pretrained" : "initial",
    cachedTokensPerSecond: withCache.tokensPerSecond, uncachedTokensPerSecond: without.tokensPerSecond,
    speedup: withCache.tokensPerSecond / without.tokensPerSecond, identicalTokens: identical,
  };
  rows.push(row);
  console.log(`${context} positions (${row.weights} weights, ${row.newTokens} new tokens, median of ${opts.repeats}): ` +
    `with cache ${row.cachedTokensPerSecond.toFixed(0)} tokens/s, without ${row.uncachedTokensPerSecond.toFixed(1)} tokens/s, ` +
    `${row.speedup.toFixed(1)}× faster; same tokens both ways: ${identical ? "yes" : "NO"}`);
  model.dispose();
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString().slice(0, 10), sampling: SAMPLING, model: { ...shape, vocab: 257 + merges }, rows }, null, 2) + "\n");
