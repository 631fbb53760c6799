/**
 * Text generation with the pretrained GPT: `generate(prompt, { maxTokens, temperature, topK, topP, seed })`.
 *
 * WITHOUT a key/value cache: kiln compiles one program per graph, for a fixed sequence length,
 * and has no program that runs one new token against cached keys and values. So every new token
 * reruns the whole window (the last `context` tokens, padded after the end: attention is causal,
 * so the padding cannot change the logits of the last real position). Each token costs a full
 * forward pass of `context` positions; tokens/s is reported as measured.
 */
import { rng } from "../shared/rng.mjs";
import { END_OF_TEXT } from "./bpe.mjs";

export class GptGenerator {
  /** `model`: the loaded language model (input `tokens` [context], output `logits` [context, vocab]). */
  constructor(model, tokenizer, context) {
    this.model = model;
    this.tokenizer = tokenizer;
    this.context = context;
    this.vocab = tokenizer.vocabSize;
  }

  /**
   * Continues `prompt` by up to `maxTokens` tokens (stopping early at end-of-text). `temperature`
   * 0 is greedy; `topK` 0 and `topP` 1 turn those filters off. The same seed gives the same text.
   * Returns `{ text, ids, tokens, seconds, tokensPerSecond }` (`text` is the continuation only).
   */
  generate(prompt, { maxTokens = 64, temperature = 1, topK = 0, topP = 1, seed = 1 } = {}) {
    checkOptions({ maxTokens, temperature, topK, topP, seed });
    if (typeof prompt !== "string") throw new TypeError(`generate: prompt must be a string, got ${typeof prompt}`);
    const random = rng(seed);
    const ids = [END_OF_TEXT, ...this.tokenizer.encode(prompt)];
    const start = ids.length, window = new Int32Array(this.context);
    const started = performance.now();
    for (let step = 0; step < maxTokens; step++) {
      const from = Math.max(0, ids.length - this.context), used = ids.length - from;
      window.fill(END_OF_TEXT);
      window.set(ids.slice(from), 0);
      const { logits } = this.model.predict({ tokens: window });
      const next = sampleToken(logits.subarray((used - 1) * this.vocab, used * this.vocab), { temperature, topK, topP }, random);
      if (next === END_OF_TEXT) break;
      ids.push(next);
    }
    const seconds = (performance.now() - started) / 1000, generated = ids.slice(start);
    return { text: this.tokenizer.decode(generated), ids: generated, tokens: generated.length, seconds, tokensPerSecond: generated.length / seconds };
  }
}

function checkOptions({ maxTokens, temperature, topK, topP, seed }) {
  const problems = [];
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 0) problems.push(`maxTokens: expected an integer ≥ 0, got ${maxTokens}`);
  if (!(Number.isFinite(temperature) && temperature >= 0)) problems.push(`temperature: expected a finite number ≥ 0, got ${temperature}`);
  if (!Number.isSafeInteger(topK) || topK < 0) problems.push(`topK: expected an integer ≥ 0 (0 = off), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) problems.push(`topP: expected a number in (0, 1], got ${topP}`);
  if (!Number.isSafeInteger(seed)) problems.push(`seed: expected an integer, got ${seed}`);
  if (problems.length) throw new RangeError(`generate: ${problems.join("; ")}`);
}

/**
 * Draws a token id from one row of logits: temperature, then the `topK` most likely, then the
 * smallest set of those whose probabilities reach `topP`, renormalised. Ties sort by id.
 */
export function sampleToken(logits, { temperature, topK, topP }, random) {
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const ranked = Array.from(logits, (v, id) => ({ id, p: Math.exp((v - max) / temperature) }));
  ranked.sort((a, b) => b.p - a.p || a.id - b.id);
  let kept = topK > 0 ? ranked.slice(0, topK) : ranked;
  const total = kept.reduce((s, t) => s + t.p, 0);
  if (topP < 1) {
    let mass = 0, cut = 0;
    while (cut < kept.length && mass < topP * total) mass += kept[cut++].p;
    kept = kept.slice(0, Math.max(1, cut));
  }
  const sum = kept.reduce((s, t) => s + t.p, 0);
  let r = random() * sum;
  for (const t of kept) if ((r -= t.p) < 0) return t.id;
  return kept.at(-1).id;
}
