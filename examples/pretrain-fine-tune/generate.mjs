/**
 * Text generation with the pretrained GPT through kiln's runtime: `model.generate(tokens,
 * { maxTokens, temperature, topK, topP, seed })` on a module compiled with `decode: true`, whose
 * decode program runs one new token per call against cached keys and values (spec §7
 * "Generation"). Tokenization stays here: the prompt is encoded with the example's BPE after an
 * end-of-text token, generation stops at the next end-of-text, and the new tokens are decoded.
 */
import { compile } from "kiln";
import { loadModel } from "kiln/runtime";
import { END_OF_TEXT } from "./bpe.mjs";
import { lmGraph } from "./model.mjs";

/**
 * The language model as an inference module with a decode program (maxBatch 1: one sequence),
 * loaded with `weights` (safetensors bytes of the pretrained model; its optimizer state is
 * ignored) or, without them, at its seeded initial weights.
 */
export async function loadGenerator(config, { weights, seed = 1, optimizeLevel = 3 } = {}) {
  const { training: _, ...graph } = lmGraph(config, { seed });
  const debug = process.env.KILN_DEBUG === "1";
  const { wasm } = await compile(graph, { decode: true, maxBatch: 1, optimizeLevel, debug });
  return loadModel(wasm, weights ? { weights } : {});
}

/**
 * Continues `prompt` (text) by up to `maxTokens` tokens, stopping early at end-of-text; `cache`
 * false runs the whole sequence for every token instead (for comparison). Returns
 * `{ text, ids, tokens, seconds, tokensPerSecond }` (`text` is the continuation only).
 */
export function generateText(model, tokenizer, prompt, { maxTokens = 64, temperature = 1, topK = 0, topP = 1, seed = 1, cache = true } = {}) {
  if (typeof prompt !== "string") throw new TypeError(`generateText: prompt must be a string, got ${typeof prompt}`);
  const started = performance.now();
  const ids = Array.from(model.generate([END_OF_TEXT, ...tokenizer.encode(prompt)], { maxTokens, temperature, topK, topP, seed, cache, stopToken: END_OF_TEXT }));
  const seconds = (performance.now() - started) / 1000;
  return { text: tokenizer.decode(ids), ids, tokens: ids.length, seconds, tokensPerSecond: ids.length / seconds };
}
