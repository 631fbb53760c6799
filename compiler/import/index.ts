/**
 * `importModel`: Keras and TensorFlow.js models → a kiln.graph/v2 graph and safetensors weights.
 * Compiler-side only (the runtime never imports this). Every problem is collected and thrown as
 * one KilnError (one diagnostic per problem, naming the Keras layer and class); nothing is
 * returned half-built.
 */
import { KilnError } from "../frontend/diagnostics.js";
import type { ImportResult } from "./build.js";
import { ImportProblems } from "./problems.js";
import { importTfjsModel, parseModelJson } from "./tfjs.js";
import { importKerasH5, importKerasZip, isHdf5, isZip } from "./keras.js";
import { cutAt, freezeUntil } from "./fine-tune.js";
import { checkLimits } from "./hdf5-reader.js";

export type { ImportResult } from "./build.js";
export { KERAS_LAYERS } from "./layers.js";
export { cutAt, freezeUntil, readWeights, type CutResult } from "./fine-tune.js";

/** Files by name: the entry (model.json) and the shards its manifest names, relative to it. */
export type ImportFiles = Record<string, Uint8Array | string>;

export interface ImportOptions {
  /** Which of `files` is the model (default: the only `.json` file, or `model.json`). */
  entry?: string;
  /** Freeze this layer (Keras or kiln name) and every layer it depends on (`trainable: false`). */
  freezeUntil?: string;
  /** Cut the graph at this layer (Keras or kiln name): it becomes the output, the training section goes (see cutAt). */
  cutAt?: string;
  /**
   * Seconds an HDF5 file (.h5, or a .keras file's model.weights.h5) may take to read before its
   * reader (a worker thread) is stopped and the import fails as "likely corrupt". Default: the
   * KILN_HDF5_TIMEOUT environment variable, else 60 s or 1 s per 4 MiB of file, whichever is more.
   */
  hdf5Timeout?: number;
}

/**
 * Imports a model. `source` is the bytes of a Keras 3 `.keras` or Keras 2 `.h5` file (told apart by
 * their zip / HDF5 signatures), a TF.js `model.json` (text or bytes, when it has no weights), or
 * files by name: `{ "model.json": text, "group1-shard1of1.bin": bytes }`.
 */
export async function importModel(source: string | Uint8Array | ImportFiles, options: ImportOptions = {}): Promise<ImportResult> {
  return fineTuneOptions(await importSource(source, options), options);
}

/** --freeze-until, then --cut-at (freezing first, so a layer may be frozen and cut at). */
function fineTuneOptions(result: ImportResult, options: ImportOptions): ImportResult {
  let { graph, weights } = result;
  const notes = [...result.notes];
  if (options.freezeUntil !== undefined) {
    graph = freezeUntil(graph, options.freezeUntil);
    const frozen = (graph.layers as { trainable?: boolean }[]).filter((l) => l.trainable === false).length;
    notes.push(`${frozen} of ${(graph.layers as unknown[]).length} layers frozen (trainable: false), up to ${JSON.stringify(options.freezeUntil)}`);
  }
  if (options.cutAt !== undefined) {
    const cut = cutAt({ graph, weights }, options.cutAt);
    graph = cut.graph;
    weights = cut.weights!;
    notes.push(...cut.notes.map((n) => `cut at ${JSON.stringify(options.cutAt)}: ${n}`));
  }
  return { graph, weights, notes };
}

async function importSource(source: string | Uint8Array | ImportFiles, options: ImportOptions): Promise<ImportResult> {
  checkLimits({ hdf5Timeout: options.hdf5Timeout });
  const problems = new ImportProblems();
  const files: ImportFiles = typeof source === "string" ? { "model.json": source }
    : source instanceof Uint8Array ? { [isZip(source) ? "model.keras" : isHdf5(source) ? "model.h5" : "model.json"]: source } : source;
  const entry = options.entry ?? entryOf(files);
  const text = Object.hasOwn(files, entry) ? files[entry] : undefined;
  if (text === undefined) throw new KilnError({ code: "import", path: entry, message: `no file ${JSON.stringify(entry)} among the files given (${Object.keys(files).map((k) => JSON.stringify(k)).join(", ")})` });
  if (text instanceof Uint8Array && (isZip(text) || isHdf5(text))) {
    const result = await (isZip(text) ? importKerasZip : importKerasH5)(text, entry, problems, { timeoutSeconds: options.hdf5Timeout });
    problems.throwIfAny();
    return result!;
  }
  const m = parseModelJson(text, entry, problems);
  problems.throwIfAny();
  const dir = entry.includes("/") ? entry.slice(0, entry.lastIndexOf("/") + 1) : "";
  const shards = m!.paths.map((group, g) => group.map((p, i) => {
    const f = Object.hasOwn(files, dir + p) ? files[dir + p] : undefined;
    if (f === undefined) {
      problems.error(`${entry}/weightsManifest/${g}/paths/${i}`, `shard ${JSON.stringify(p)} is missing (it is read beside ${JSON.stringify(entry)})`);
      return new Uint8Array(0);
    }
    return typeof f === "string" ? new TextEncoder().encode(f) : f;
  }));
  problems.throwIfAny();
  const result = importTfjsModel(m!, shards, entry, problems);
  problems.throwIfAny();
  return result!;
}

function entryOf(files: ImportFiles): string {
  if (Object.hasOwn(files, "model.json")) return "model.json";
  const models = Object.keys(files).filter((k) => /\.(json|keras|h5|hdf5)$/i.test(k));
  return models.length === 1 ? models[0]! : "model.json";
}
