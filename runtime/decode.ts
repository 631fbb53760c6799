/**
 * Generation with a key/value cache (spec §7 "Generation"), loaded only for modules compiled with
 * `decode`. `decode` runs the module's decode program on one token per sequence at the next
 * position (the caches hold every earlier position's keys and values); `generate` continues a
 * prompt token by token with greedy or seeded sampling (temperature, top-k, top-p). Every option
 * and token is checked before anything runs, so a refused call leaves the model as it was.
 */
import { checkFeeds, checkManifest, isInt, isObject, isString, KilnError, partChecks, size, typeName } from "./core.js";
import type { Diagnostic } from "./errors.js";
import type { Feeds } from "./feeds.js";
import type { Checker, DecodeInfo, Manifest } from "./manifest.js";
import { bad, show } from "./part-checks.js";
import type { Predictor as Model } from "./predictor.js";
import { Rng } from "./rng.js";

/** The manifest's decode part: its export, slots, position words and caches inside memory, apart from the rest. */
export function checkDecode(m: Manifest, c: Checker): void {
  const d = m.decode, e = m.exports;
  if (!isObject(d) || !isInt(d.context, 1) || !Array.isArray(d.inputs) || !Array.isArray(d.outputs) || !Array.isArray(d.caches)) bad("decode: expected context, inputs, outputs and caches");
  if (!isString(e.decode) || [e.predict, e.trainStep, e.evaluate, "train_step"].includes(e.decode) || e.predict === "decode") bad(`decode: expected its own export name, got ${show(e.decode)}`);
  c.needExport(e.decode);
  if (d.inputs.length !== m.inputs.length || d.outputs.length !== m.outputs.length) bad("decode: expected one input per model input and one output per model output");
  for (const [key, list] of [["inputs", d.inputs], ["outputs", d.outputs]] as const) {
    for (const s of list) {
      if (!isObject(s) || !isString(s.name) || !c.shapeOk(s.shape) || s.shape[0] !== 1 || (s.dtype !== "float32" && s.dtype !== "int32")) bad(`decode.${key}: expected slots of one position, got ${show(s)}`);
      c.region(`decode ${key.slice(0, -1)} "${s.name}"`, s.offset, m.maxBatch * size(s.shape) * 4, key === "inputs" ? 1 : 2);
    }
  }
  c.region("decode.positionOffset", d.positionOffset, 4 * m.maxBatch, 1);
  for (const k of d.caches) {
    if (!isObject(k) || !isString(k.layer) || !isInt(k.bytes, 4)) bad(`decode.caches: expected { layer, offset, bytes }, got ${show(k)}`);
    c.region(`decode cache of layer "${k.layer}"`, k.offset, k.bytes, 0);
  }
}

/** Where a model's sequences are: the next position and how many sequences the caches hold (0: empty). */
interface CacheState { position: number; sequences: number }

/** What a model of a module with a decode program has besides the Model methods (spec §7). */
export interface Decoding {
  /**
   * Runs one token per sequence at the next position against the key/value caches; returns each
   * output at that position (one row per sequence). The number of sequences is fixed from the
   * first call after a reset until the next reset.
   */
  decode(inputs: Feeds): Record<string, Float32Array>;
  /** Empties the caches: the next decode is at position 0. */
  resetCache(): void;
  /** Continues a prompt of token ids (greedy or seeded sampling); returns the new tokens only. Uses and resets the caches. */
  generate(prompt: ArrayLike<number>, options?: GenerateOptions): Int32Array;
  /** The position the next decode runs at: the tokens cached so far per sequence. */
  readonly cachePosition: number;
}

const states = new WeakMap<Model, CacheState>();

/**
 * Checks the whole manifest again, now with its decode part (the slots, position words and caches
 * inside memory and apart from every other region), then gives `model` its Decoding members.
 * loadModel calls it before anything is written to the model's memory. The checks of the other
 * parts are the ones readManifest ran (a model of `kiln/runtime/predict` has no training check).
 */
export function attach(model: Model): void {
  // The instance's exports are the module's.
  const m = model.manifest, exportNames = Object.keys((model as unknown as { exports: WebAssembly.Exports }).exports);
  checkManifest(m, exportNames, [...partChecks.get(m)!, checkDecode]);
  const state: CacheState = { position: 0, sequences: 0 };
  states.set(model, state);
  Object.defineProperties(model, {
    decode: { value: (inputs: Feeds) => decode(model, inputs) },
    resetCache: { value: () => resetCache(model) },
    generate: { value: (prompt: ArrayLike<number>, options?: GenerateOptions) => generate(model, prompt, options) },
    cachePosition: { get: () => state.position },
  });
}

const info = (model: Model): DecodeInfo => model.manifest.decode!;
const stateOf = (model: Model): CacheState => states.get(model)!;
const problem = (path: string, message: string): Diagnostic => ({ code: "generate", path, message });

function decode(model: Model, inputs: Feeds): Record<string, Float32Array> {
  const d = info(model), state = stateOf(model);
  const { n, views } = checkFeeds(d.inputs, inputs, "input");
  if (n < 1 || n > model.maxBatch) fail("", `decode runs 1 to ${model.maxBatch} sequences (the module's maxBatch) at once; got ${n}`);
  if (state.sequences && n !== state.sequences) fail("", `the caches hold ${state.sequences} sequence(s) at position ${state.position}; got ${n}: call resetCache() to start sequences of another count`);
  if (state.position >= d.context) fail("position", `position ${state.position} is past the context: the caches hold ${d.context} positions (0 to ${d.context - 1}); call resetCache() to start again`);
  model.stage(d.inputs, views, 0, n);
  runAt(model, n);
  return Object.fromEntries(d.outputs.map((s) => [s.name, model.f32(s.offset, n * size(s.shape)).slice()]));
}

/** Writes the positions of `n` sequences and runs the decode program; the caller staged the tokens. */
function runAt(model: Model, n: number): void {
  const d = info(model), state = stateOf(model);
  new Int32Array(model.memoryView().buffer, d.positionOffset, n).fill(state.position);
  model.run("decode", n);
  state.position++;
  state.sequences = n;
}

/** Empties the caches: the next decode is at position 0 (the bytes are zeroed too). */
function resetCache(model: Model): void {
  const memory = model.memoryView(), state = stateOf(model);
  for (const k of info(model).caches) memory.fill(0, k.offset, k.offset + k.bytes);
  state.position = 0;
  state.sequences = 0;
}

export interface GenerateOptions {
  /** New tokens to produce at most (default 16). */
  maxTokens?: number;
  /** 0: greedy (the most likely token; ties to the smallest id). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: all). Default 0. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1: all). Default 1. */
  topP?: number;
  /** Seed of the sampling: the same seed, prompt and options give the same tokens. Default 0. */
  seed?: number;
  /** A token id that ends generation (not included in the result). */
  stopToken?: number;
  /** false: run the whole sequence through predict for every token instead of the cache (to compare). Default true. */
  cache?: boolean;
}

const OPTION_NAMES = ["maxTokens", "temperature", "topK", "topP", "seed", "stopToken", "cache"];

interface Checked { maxTokens: number; temperature: number; topK: number; topP: number; seed: number; stopToken?: number; cache: boolean; prompt: Int32Array; vocab: number }

/** Every problem with a generate call, all at once, before anything runs. */
function checkGenerate(model: Model, prompt: unknown, options: unknown): Checked {
  const d = info(model), problems: Diagnostic[] = [];
  if (d.inputs.length !== 1 || d.outputs.length !== 1) problems.push(problem("", `generate needs a model with one input (token ids) and one output (logits); this one has ${d.inputs.length} and ${d.outputs.length}`));
  const ids = d.inputs[0]!, logits = d.outputs[0]!, vocab = size(logits.shape);
  const [lo, hi] = ids.range ?? [0, vocab];
  const o = (options ?? {}) as Record<string, unknown>;
  if (!isObject(options ?? {})) problems.push(problem("options", `expected an object of options, got ${show(options)}`));
  for (const k of Object.keys(o)) if (!OPTION_NAMES.includes(k)) problems.push(problem(`options.${k}`, `unknown option "${k}"; generate takes ${OPTION_NAMES.join(", ")}`));
  const num = (k: string, dflt: number, ok: (v: number) => boolean, expected: string): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== "number" || !ok(v)) problems.push(problem(`options.${k}`, `expected ${expected}, got ${show(v)}`));
    return v as number;
  };
  const maxTokens = num("maxTokens", 16, (v) => isInt(v), "an integer ≥ 0");
  const temperature = num("temperature", 1, (v) => Number.isFinite(v) && v >= 0, "a finite number ≥ 0 (0: greedy)");
  const topK = num("topK", 0, (v) => isInt(v), "an integer ≥ 0 (0: no top-k filter)");
  const topP = num("topP", 1, (v) => v > 0 && v <= 1, "a number in (0, 1] (1: no top-p filter)");
  const seed = num("seed", 0, (v) => Number.isSafeInteger(v), "an integer");
  const stopToken = o.stopToken === undefined ? undefined : num("stopToken", 0, (v) => isInt(v, lo, hi - 1), `a token id in [${lo}, ${hi})`);
  if (o.cache !== undefined && typeof o.cache !== "boolean") problems.push(problem("options.cache", `expected true or false, got ${show(o.cache)}`));
  const list = Array.isArray(prompt) || ArrayBuffer.isView(prompt) ? Array.from(prompt as ArrayLike<number>) : undefined;
  if (!list || list.length === 0) problems.push(problem("prompt", `expected a non-empty array or Int32Array of token ids, got ${list ? "an empty one" : typeName(prompt)}`));
  else {
    const at = list.findIndex((t) => !isInt(t, lo, hi - 1));
    if (at >= 0) problems.push(problem(`prompt[${at}]`, `expected a token id in [${lo}, ${hi}), got ${show(list[at])}`));
    // The last new token is never fed back, so a prompt of n tokens can grow to context + 1.
    if (list.length + maxTokens - 1 > d.context) problems.push(problem("options.maxTokens", `a prompt of ${list.length} tokens and ${maxTokens} new tokens needs ${list.length + maxTokens - 1} positions; the model's context is ${d.context}`));
  }
  if (problems.length) throw new KilnError(problems);
  return { maxTokens, temperature, topK, topP, seed, stopToken, cache: o.cache !== false, prompt: Int32Array.from(list!), vocab };
}

/** Continues `prompt` (token ids) by up to maxTokens tokens; returns the new tokens only. */
function generate(model: Model, prompt: ArrayLike<number>, options?: GenerateOptions): Int32Array {
  const o = checkGenerate(model, prompt, options);
  if (o.maxTokens === 0) return new Int32Array(0);
  const rng = new Rng(o.seed, 0, 0x6e6578); // its own stream: never the initializers' or fit's
  const next = o.cache ? cachedSteps(model, o.prompt) : fullSteps(model, o.prompt);
  const out: number[] = [];
  let logits = next(undefined);
  for (let i = 0; i < o.maxTokens; i++) {
    const token = sampleToken(logits, o, rng);
    if (token === o.stopToken) break;
    out.push(token);
    if (i + 1 < o.maxTokens) logits = next(token);
  }
  return Int32Array.from(out);
}

/**
 * With the cache: the prompt fed one position at a time (from an empty cache), then each new
 * token; returns the logits at the last position fed.
 */
function cachedSteps(model: Model, prompt: Int32Array): (token: number | undefined) => Float32Array {
  const d = info(model), tokens = new Int32Array(model.memoryView().buffer, d.inputs[0]!.offset, 1);
  const logits = d.outputs[0]!, vocab = size(logits.shape);
  const feed = (t: number) => {
    tokens[0] = t;
    runAt(model, 1);
  };
  return (token) => {
    if (token === undefined) {
      resetCache(model);
      for (const t of prompt) feed(t);
    } else feed(token);
    return model.f32(logits.offset, vocab);
  };
}

/** Without it: the whole sequence so far (padded after its end) through predict; the logits at its last position. */
function fullSteps(model: Model, prompt: Int32Array): (token: number | undefined) => Float32Array {
  const input = model.manifest.inputs[0]!, output = model.manifest.outputs[0]!;
  const context = input.shape[0]!, vocab = size(output.shape) / context;
  const window = new Int32Array(context).fill(input.range?.[0] ?? 0);
  window.set(prompt);
  let length = prompt.length;
  return (token) => {
    if (token !== undefined) window[length++] = token;
    const all = model.predict({ [input.name]: window })[output.name]!;
    return all.subarray((length - 1) * vocab, length * vocab);
  };
}

/**
 * Draws a token from one row of logits: divided by the temperature, then the topK most likely,
 * then the smallest prefix of those whose probabilities reach topP of their sum, renormalized;
 * ties sort by id. Temperature 0 is the most likely token (the smallest id of equals).
 */
export function sampleToken(logits: ArrayLike<number>, o: { temperature: number; topK: number; topP: number }, rng: { uniform(): number }): number {
  const n = logits.length;
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
  if (o.temperature === 0) return best;
  const max = logits[best]!, p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = Math.exp((logits[i]! - max) / o.temperature);
  const order = ranked(p, o.topK > 0 ? Math.min(o.topK, n) : n);
  let kept = order.length;
  if (o.topP < 1) {
    let total = 0;
    for (let i = 0; i < kept; i++) total += p[order[i]!]!;
    let mass = 0, cut = 0;
    while (cut < kept && mass < o.topP * total) mass += p[order[cut++]!]!;
    kept = Math.max(1, cut);
  }
  let sum = 0;
  for (let i = 0; i < kept; i++) sum += p[order[i]!]!;
  let r = rng.uniform() * sum;
  for (let i = 0; i < kept; i++) if ((r -= p[order[i]!]!) < 0) return order[i]!;
  return order[kept - 1]!;
}

/**
 * Ids of the `k` largest of `p`, largest first, equal values by id. Only candidates at or above
 * the k-th largest value are sorted with the comparator (a numeric sort finds that value), so a
 * top-k over a large vocabulary costs little per token.
 */
function ranked(p: Float64Array, k: number): number[] {
  const threshold = k < p.length ? Float64Array.from(p).sort()[p.length - k]! : -Infinity;
  const ids: number[] = [];
  for (let i = 0; i < p.length; i++) if (p[i]! >= threshold) ids.push(i);
  return ids.sort((a, b) => p[b]! - p[a]! || a - b).slice(0, k);
}

function fail(path: string, message: string): never {
  throw new KilnError({ code: "decode", path, message });
}
