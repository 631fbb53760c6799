/**
 * The sentences of loadModel's refusals (a bad source, module, manifest or weights file), in a
 * part of the runtime fetched only when a load fails: a page that loads good modules never parses
 * them. The checks stay where they are (load.ts, manifest.ts, open.ts, weights-io.ts) and throw a
 * Refusal naming the reason (reasons.ts) and its values; loadModel (and Model.loadWeights) turns it into
 * a KilnError with this sentence.
 */
import { capabilities } from "./capabilities.js";
import type { KilnError, Refusal } from "./errors.js";
import { Reason } from "./reasons.js";
import { explainWith, WEIGHT_REASONS } from "./weights-errors.js";

const show = (v: unknown) => String(JSON.stringify(v)).slice(0, 80);
const quoted = (name: unknown) => `"${name}"`;

export const REASONS = {
  // load.ts: the source and the module
  [Reason.badUrl]: () => "not a valid URL or file path",
  [Reason.source]: (type: string) => `expected bytes, a Response, a URL, a path or a WebAssembly.Module, got ${type}`,
  [Reason.fetch]: (error: string) => `could not fetch the model: ${error}`,
  [Reason.http]: (status: number, text: string) => `fetching the model failed: HTTP ${status} ${text}`,
  [Reason.bodyUsed]: (error: string) => `could not read the response body (already used?): ${error}`,
  [Reason.body]: (error: string) => `could not read the response body: ${error}`,
  [Reason.file]: (error: string) => `could not read the model file: ${error}`,
  [Reason.compile]: (error: string) =>
    `not a valid WebAssembly module for this engine${!capabilities().simd ? " (this engine lacks WebAssembly SIMD, which kiln modules need)" : capabilities().relaxedSimd ? "" : " (if it was compiled with relaxed SIMD, this engine lacks it)"}: ${error}`,
  [Reason.instantiate]: (pages: number, shared: boolean, error: string) =>
    `could not instantiate the module (${pages} pages of memory${shared ? ", shared" : ""}${shared && !capabilities().threads ? "; this engine (or a page without cross-origin isolation) lacks shared memory" : ""}): ${error}`,
  // index.ts: what the module imports and carries
  [Reason.imports]: (kind: string, module: string, name: string) => `the module imports ${kind} "${module}.${name}"; a kiln module imports only env.memory (and env.wait32, env.passed when threaded)`,
  [Reason.noMemory]: () => "the module does not import env.memory (it would compute in a memory of its own, which the runtime never sees)",
  [Reason.noWeights]: () => "the manifest says weightsEmbedded but the module has no kiln.weights section",
  // manifest.ts: the manifest
  [Reason.sections]: (found: number) => `expected one "kiln.manifest" custom section (is this a module kiln compiled?), found ${found}`,
  [Reason.json]: (error: string) => `the manifest is not valid JSON (${error})`,
  [Reason.format]: (got: unknown) => `expected format "kiln.module/v1", got ${show(got)}`,
  [Reason.maxBatch]: (got: unknown) => `maxBatch must be a positive integer, got ${got}`,
  [Reason.pages]: (got: unknown) => `memory.pages must be an integer in [1, 65536], got ${got}`,
  [Reason.seed]: (got: unknown) => `seed must be an integer, got ${got}`,
  [Reason.region]: (what: string, offset: unknown, bytes: number, limit: number) => `${what}: offset ${show(offset)} (+${bytes} bytes) is not 4-byte aligned inside the ${limit}-byte memory`,
  [Reason.overlap]: (what: string, other: string) => `${what} overlaps ${other}`,
  [Reason.named]: (key: string) => `${key} must be a list of named entries`,
  [Reason.sameName]: (key: string) => `${key}: two entries share a name`,
  [Reason.slot]: (key: string, s: { name: string; shape: unknown; dtype: unknown; range?: unknown }) =>
    `${key} ${quoted(s.name)}: bad shape ${show(s.shape)}, dtype ${show(s.dtype)} or range ${show(s.range)}`,
  [Reason.weightShape]: (name: string, shape: unknown) => `weight ${quoted(name)}: bad shape ${show(shape)}`,
  [Reason.predict]: (exports: unknown) => `exports.predict must name the inference program, got ${show(exports)}`,
  [Reason.noExport]: (name: string) => `the module does not export ${quoted(name)} named by the manifest`,
  [Reason.kernels]: (got: unknown) => `kernels: expected { "calls": { export: [[kernel, layer], …] } }, got ${show(got)}`,
  [Reason.functions]: () => "kernels.functions: expected kernel names",
  // weights-io.ts: a weights file (weights-errors.ts)
  ...WEIGHT_REASONS,
};

export type Reasons = typeof REASONS;

/** The KilnError of a refusal. */
export const explain = (r: Refusal): KilnError => explainWith(REASONS, r);
