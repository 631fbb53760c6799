/**
 * The sentences of loadModel's refusals (a bad source, module, manifest or weights file), in a
 * part of the runtime fetched only when a load fails: a page that loads good modules never parses
 * them. The checks stay where they are (load.ts, manifest.ts, open.ts, weights-io.ts) and throw a
 * Refusal naming the reason here and its values; loadModel (and Model.loadWeights) turns it into
 * a KilnError with this sentence.
 */
import { KilnError, type Refusal } from "./errors.js";

const show = (v: unknown) => String(JSON.stringify(v)).slice(0, 80);
const quoted = (name: unknown) => `"${name}"`;

export const REASONS = {
  // load.ts: the source and the module
  badUrl: () => "not a valid URL or file path",
  source: (type: string) => `expected bytes, a Response, a URL, a path or a WebAssembly.Module, got ${type}`,
  fetch: (error: string) => `could not fetch the model: ${error}`,
  http: (status: number, text: string) => `fetching the model failed: HTTP ${status} ${text}`,
  bodyUsed: (error: string) => `could not read the response body (already used?): ${error}`,
  body: (error: string) => `could not read the response body: ${error}`,
  file: (error: string) => `could not read the model file: ${error}`,
  compile: (simd: boolean, relaxed: boolean, error: string) =>
    `not a valid WebAssembly module for this engine${!simd ? " (this engine lacks WebAssembly SIMD, which kiln modules need)" : relaxed ? "" : " (if it was compiled with relaxed SIMD, this engine lacks it)"}: ${error}`,
  instantiate: (pages: number, shared: boolean, noThreads: boolean, error: string) =>
    `could not instantiate the module (${pages} pages of memory${shared ? ", shared" : ""}${noThreads ? "; this engine (or a page without cross-origin isolation) lacks shared memory" : ""}): ${error}`,
  // index.ts: what the module imports and carries
  imports: (kind: string, module: string, name: string) => `the module imports ${kind} "${module}.${name}"; a kiln module imports only env.memory (and env.wait32, env.passed when threaded)`,
  noMemory: () => "the module does not import env.memory (it would compute in a memory of its own, which the runtime never sees)",
  noWeights: () => "the manifest says weightsEmbedded but the module has no kiln.weights section",
  // manifest.ts: the manifest
  sections: (found: number) => `expected one "kiln.manifest" custom section (is this a module kiln compiled?), found ${found}`,
  json: (error: string) => `the manifest is not valid JSON (${error})`,
  format: (got: unknown) => `expected format "kiln.module/v1", got ${show(got)}`,
  maxBatch: (got: unknown) => `maxBatch must be a positive integer, got ${got}`,
  pages: (got: unknown) => `memory.pages must be an integer in [1, 65536], got ${got}`,
  seed: (got: unknown) => `seed must be an integer, got ${got}`,
  region: (what: string, offset: unknown, bytes: number, limit: number) => `${what}: offset ${show(offset)} (+${bytes} bytes) is not 4-byte aligned inside the ${limit}-byte memory`,
  overlap: (what: string, other: string) => `${what} overlaps ${other}`,
  named: (key: string) => `${key} must be a list of named entries`,
  sameName: (key: string) => `${key}: two entries share a name`,
  slot: (key: string, s: { name: string; shape: unknown; dtype: unknown; range?: unknown }) =>
    `${key} ${quoted(s.name)}: bad shape ${show(s.shape)}, dtype ${show(s.dtype)} or range ${show(s.range)}`,
  weightShape: (name: string, shape: unknown) => `weight ${quoted(name)}: bad shape ${show(shape)}`,
  predict: (exports: unknown) => `exports.predict must name the inference program, got ${show(exports)}`,
  noExport: (name: string) => `the module does not export ${quoted(name)} named by the manifest`,
  kernels: () => "kernels must be an object",
  calls: () => "kernels.calls is missing",
  callPairs: () => "kernels.calls: expected lists of [kernel, layer] pairs",
  functions: () => "kernels.functions: expected kernel names",
  // weights-io.ts: a weights file (safetensors)
  fileType: (got: string) => `expected the weights file as a Uint8Array, got ${got}`,
  short: (length: number) => `expected at least 8 bytes (the header length), got ${length}`,
  headerLength: (n: number, length: number) => `header length ${n} runs past the end of the ${length}-byte file (or past 100 MB)`,
  headerJson: (error: string) => `expected a JSON object${error ? ` in UTF-8: ${error}` : ""}`,
  tensorCount: (count: number) => `expected at most ${count} tensors (the model's weights and optimizer state), got more`,
  entry: (dtypes: string[], got: unknown) => `expected { "dtype": one of ${dtypes}, "shape": [integers ≥ 0], "data_offsets": [begin, end] }, got ${JSON.stringify(got)?.slice(0, 120)}`,
  entryBytes: (at: number[], bytes: number, dtype: string, shape: number[]) => `data_offsets [${at}]: expected ${bytes} bytes for ${dtype} [${shape}]`,
  packed: (begin: number, end: number, expected: number) => `data_offsets [${begin}, ${end}]: expected the data to start at byte ${expected} (tensors are packed back to back)`,
  cover: (bytes: number, end: number) => `expected the tensors to cover the ${bytes} data bytes exactly, got ${end}`,
  missing: () => "missing from the weights file",
  noTensor: (name: string) => `the model has no tensor ${quoted(name)}`,
  tensorType: (dtype: string, shape: number[], gotDtype: string, gotShape: number[]) => `expected ${dtype} [${shape.join(", ")}], got ${gotDtype} [${gotShape.join(", ")}]`,
  nonFinite: (i: number, value: number) => `element ${i} is ${value}; expected finite values`,
  step: (value: number) => `expected a step count in [0, 2^30], got ${value}`,
  velocity: (i: number, value: number) => `element ${i} is ${value}; an average of squared gradients is never negative`,
};

export type Reason = keyof typeof REASONS;

/** The KilnError of a refusal. */
export function explain({ code, problems, left }: Refusal): KilnError {
  return new KilnError(problems.map(([path, [reason, ...values]]) => ({ code, path, message: (REASONS[reason] as (...values: unknown[]) => string)(...values) })), left);
}
