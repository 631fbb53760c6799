/**
 * Keras files: Keras 3 `.keras` (a zip holding config.json, metadata.json and model.weights.h5,
 * whose variables sit at `layers/<snake class name>[_n]/vars/<i>`: keras/src/saving/saving_lib.py)
 * and Keras 2 `.h5` full models (root attributes model_config / training_config, weights under
 * `model_weights/<layer>/<weight name>` listed by the `layer_names` and `weight_names` attributes:
 * keras/src/legacy/saving/legacy_h5_format.py). Zip through fflate, HDF5 through h5wasm (the HDF5
 * C library compiled to WebAssembly), run in a worker thread with a deadline (hdf5-reader.ts).
 * Compiler-side only: the runtime never loads either.
 */
import { unzipSync } from "fflate";
import type { Flavor } from "./args.js";
import { buildImport, type ImportResult, type WeightSource } from "./build.js";
import { unsafeGlobalHeap } from "./hdf5-guard.js";
import { MAX_ELEMENTS, readHdf5, type Hdf5Dump, type Hdf5Limits, type Hdf5Request } from "./hdf5-reader.js";
import { namedWeightSource } from "./named-weights.js";
import { ImportProblems, isObject, quote } from "./problems.js";
import type { SourceWeight } from "./tfjs-weights.js";
import { readTopology, type KerasCall } from "./topology.js";

/** Largest file inside a .keras zip kiln unpacks (a zip's sizes are checked before inflating). */
const MAX_ENTRY_BYTES = 2 ** 31 - 1;

export function isZip(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

export function isHdf5(b: Uint8Array): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return b.length >= 8 && sig.every((x, i) => b[i] === x);
}

/** Reads `bytes` as HDF5 in a worker (hdf5-reader.ts) after the global heap check; undefined after reporting. */
async function readH5(bytes: Uint8Array, where: string, problems: ImportProblems, request: Hdf5Request, limits: Hdf5Limits): Promise<Hdf5Dump | undefined> {
  // Before the C library sees the file: a corrupt global heap makes it loop forever (hdf5-guard.ts);
  // refusing it here says why, where the worker's deadline could only say that it took too long.
  const unsafe = unsafeGlobalHeap(bytes);
  if (unsafe !== undefined) {
    problems.error(where, `cannot read the HDF5 file: ${unsafe}; the HDF5 library would not finish reading it`);
    return undefined;
  }
  const read = await readHdf5(bytes, where, request, limits);
  if ("error" in read) {
    problems.error(where, `cannot read the HDF5 file: ${quote(read.error)}`);
    return undefined;
  }
  return read.dump;
}

function oneLine(err: unknown): string {
  return quote(err instanceof Error ? err.message : String(err));
}

/** The float dataset at `path` of a dump as float32, or a message. */
function datasetAt(dump: Hdf5Dump, path: string): SourceWeight | string {
  const e = dump.entries.get(path);
  if (e?.kind !== "dataset") return `the file has no dataset ${quote(path)}`;
  if ("data" in e) return { shape: e.shape, data: e.data };
  if (e.error === "too-many-elements") return `dataset ${quote(path)} has shape ${quote(e.shape)} (more than ${MAX_ELEMENTS} elements)`;
  if (e.error === "not-float") return `dataset ${quote(path)} is not float32 or float64 (kiln imports float weights; bfloat16 and float16 stores are not read)`;
  return `dataset ${quote(path)} could not be read as ${e.elements ?? 0} floats`;
}

function parseJson(text: string, where: string, problems: ImportProblems): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    problems.error(where, `not valid JSON: ${oneLine(err)}`);
    return undefined;
  }
}

/** Keras 3 store: variables by place (`<layer store path>/vars/<i>`). */
function storeWeightSource(tensors: Map<string, SourceWeight | string>): WeightSource {
  const used = new Set<string>();
  return {
    find(call: KerasCall, _kerasPath: string, storePath: string | undefined): SourceWeight | string {
      if (storePath === undefined) return `kiln does not know where Keras 3 stores this class's variables`;
      const path = `${call.storePath}/${storePath}`;
      const t = tensors.get(path);
      if (t === undefined) return `the file has no dataset ${quote(path)} (layers are stored by class name and position, as Keras 3's saving code names them)`;
      used.add(path);
      return t;
    },
    unused: () => [...tensors.keys()].filter((k) => !used.has(k)),
  };
}

/** Every dataset under `layers/` of a Keras 3 weights file. */
function collectStore(dump: Hdf5Dump): Map<string, SourceWeight | string> {
  const out = new Map<string, SourceWeight | string>();
  for (const [path, e] of dump.entries) if (e.kind === "dataset") out.set(path, datasetAt(dump, path));
  return out;
}

export async function importKerasZip(bytes: Uint8Array, where: string, problems: ImportProblems, limits: Hdf5Limits = {}): Promise<ImportResult | undefined> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (info) => {
        if (!["config.json", "metadata.json", "model.weights.h5", "model.weights.npz"].includes(info.name)) return false;
        if (info.originalSize > MAX_ENTRY_BYTES) throw new Error(`${info.name} would unpack to ${info.originalSize} bytes (at most ${MAX_ENTRY_BYTES})`);
        return true;
      },
    });
  } catch (err) {
    problems.error(where, `not a readable .keras zip: ${oneLine(err)}`);
    return undefined;
  }
  if (!files["config.json"]) problems.error(where, "the .keras zip has no config.json (Keras 3 saves config.json, metadata.json and model.weights.h5)");
  if (!files["model.weights.h5"]) problems.error(where, files["model.weights.npz"] ? "the .keras zip holds npz weights; kiln reads the default model.weights.h5" : "the .keras zip has no model.weights.h5");
  if (problems.failed) return undefined;
  const decode = (name: string) => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(files[name]);
    } catch {
      problems.error(`${where}/${name}`, "not UTF-8 text");
      return undefined;
    }
  };
  const configText = decode("config.json");
  const metadata = files["metadata.json"] ? parseJson(decode("metadata.json") ?? "", `${where}/metadata.json`, problems) : undefined;
  const config = configText === undefined ? undefined : parseJson(configText, `${where}/config.json`, problems);
  if (problems.failed) return undefined;
  const version = isObject(metadata) ? String(metadata.keras_version ?? "") : "";
  const flavor: Flavor = version.startsWith("2") ? "keras2" : "keras3";
  const topo = readTopology(config, `${where}/config.json`, flavor, problems);
  if (!topo) return undefined;
  const dump = await readH5(files["model.weights.h5"]!, `${where}/model.weights.h5`, problems, { rootAttrs: [], roots: ["layers"], groupAttrs: [] }, limits);
  if (!dump) return undefined;
  const store = collectStore(dump);
  const training = isObject(config) ? config.compile_config : undefined;
  return buildImport(topo, storeWeightSource(store), training, flavor, problems);
}

export async function importKerasH5(bytes: Uint8Array, where: string, problems: ImportProblems, limits: Hdf5Limits = {}): Promise<ImportResult | undefined> {
  const dump = await readH5(bytes, where, problems, { rootAttrs: ["model_config", "training_config", "keras_version"], roots: ["model_weights"], groupAttrs: ["layer_names", "weight_names"] }, limits);
  if (dump === undefined) return undefined;
  const modelConfig = dump.attrs.model_config;
  if (modelConfig === undefined) {
    problems.error(where, "a weights-only .h5 (no model_config attribute): kiln needs the full model (model.save(\"model.h5\"))");
    return undefined;
  }
  const weights = new Map<string, SourceWeight>();
  const root = dump.entries.get("model_weights");
  for (const layer of root?.kind === "group" ? root.attrs.layer_names ?? [] : []) {
    const g = dump.entries.get(`model_weights/${layer}`);
    if (g?.kind !== "group") continue;
    for (const w of g.attrs.weight_names ?? []) {
      const t = datasetAt(dump, `model_weights/${layer}/${w}`);
      if (typeof t === "string") problems.error(`${where}/model_weights`, t);
      else weights.set(w, t);
    }
  }
  const config = parseJson(modelConfig, `${where}/model_config`, problems);
  const training = dump.attrs.training_config === undefined ? undefined : parseJson(dump.attrs.training_config, `${where}/training_config`, problems);
  if (problems.failed) return undefined;
  const flavor: Flavor = (dump.attrs.keras_version ?? "").startsWith("3") ? "keras3" : "keras2";
  const topo = readTopology(config, `${where}/model_config`, flavor, problems);
  if (!topo) return undefined;
  return buildImport(topo, namedWeightSource(weights), training, flavor, problems);
}
