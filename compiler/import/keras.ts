/**
 * Keras files: Keras 3 `.keras` (a zip holding config.json, metadata.json and model.weights.h5,
 * whose variables sit at `layers/<snake class name>[_n]/vars/<i>`: keras/src/saving/saving_lib.py)
 * and Keras 2 `.h5` full models (root attributes model_config / training_config, weights under
 * `model_weights/<layer>/<weight name>` listed by the `layer_names` and `weight_names` attributes:
 * keras/src/legacy/saving/legacy_h5_format.py). Zip through fflate, HDF5 through h5wasm (the HDF5
 * C library compiled to WebAssembly, loaded only when an HDF5 file is imported). Compiler-side
 * only: the runtime never loads either.
 */
import { unzipSync } from "fflate";
import type { Flavor } from "./args.js";
import { buildImport, type ImportResult, type WeightSource } from "./build.js";
import { unsafeGlobalHeap } from "./hdf5-guard.js";
import { namedWeightSource } from "./named-weights.js";
import { ImportProblems, isObject, quote } from "./problems.js";
import type { SourceWeight } from "./tfjs-weights.js";
import { readTopology, type KerasCall } from "./topology.js";

/** Largest file inside a .keras zip kiln unpacks (a zip's sizes are checked before inflating). */
const MAX_ENTRY_BYTES = 2 ** 31 - 1;
const MAX_ELEMENTS = 2 ** 30;

export function isZip(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

export function isHdf5(b: Uint8Array): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return b.length >= 8 && sig.every((x, i) => b[i] === x);
}

type H5 = typeof import("h5wasm");
let h5ready: Promise<H5> | undefined;
let fileCounter = 0;

async function h5(): Promise<H5> {
  h5ready ??= import("h5wasm").then(async (m) => {
    await m.ready;
    return m;
  });
  return h5ready;
}

/** Opens `bytes` as an HDF5 file in h5wasm's in-memory file system, runs `use`, always cleans up. */
async function withH5<T>(bytes: Uint8Array, where: string, problems: ImportProblems, use: (f: InstanceType<H5["File"]>) => T): Promise<T | undefined> {
  // Before the C library sees the file: a corrupt global heap makes it loop forever (hdf5-guard.ts).
  const unsafe = unsafeGlobalHeap(bytes);
  if (unsafe !== undefined) {
    problems.error(where, `cannot read the HDF5 file: ${unsafe}; the HDF5 library would not finish reading it`);
    return undefined;
  }
  const lib = await h5();
  const FS = lib.FS as unknown as { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void };
  const path = `/kiln-import-${++fileCounter}.h5`;
  let file: InstanceType<H5["File"]> | undefined;
  try {
    FS.writeFile(path, bytes);
    file = new lib.File(path, "r");
    return use(file);
  } catch (err) {
    problems.error(where, `cannot read the HDF5 file: ${oneLine(err)}`);
    return undefined;
  } finally {
    try {
      file?.close();
    } catch {
      // a file the library could not open has nothing to close
    }
    try {
      FS.unlink(path);
    } catch {
      // never written
    }
  }
}

function oneLine(err: unknown): string {
  return quote(err instanceof Error ? err.message : String(err));
}

type H5File = InstanceType<H5["File"]>;

/** A float dataset at `path` as float32, or a message. Sizes are checked before reading the values. */
function readDataset(f: H5File, path: string): SourceWeight | string {
  if (!exists(f, path)) return `the file has no dataset ${quote(path)}`;
  const ds = f.get(path) as unknown as { type?: string; shape?: number[] | null; metadata?: { type: number; size: number }; value?: unknown } | null;
  if (!ds || ds.type !== "Dataset") return `the file has no dataset ${quote(path)}`;
  const shape = ds.shape ?? [];
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(d) || n > MAX_ELEMENTS) return `dataset ${quote(path)} has shape ${quote(shape)} (more than ${MAX_ELEMENTS} elements)`;
  }
  const meta = ds.metadata;
  if (!meta || meta.type !== 1 || (meta.size !== 4 && meta.size !== 8)) return `dataset ${quote(path)} is not float32 or float64 (kiln imports float weights; bfloat16 and float16 stores are not read)`;
  // A scalar dataset (shape []: Normalization's statistics with axis=None) reads as a plain number.
  const v = typeof ds.value === "number" && shape.length === 0 ? Float64Array.of(ds.value) : ds.value;
  if (!(v instanceof Float32Array || v instanceof Float64Array) || v.length !== n) return `dataset ${quote(path)} could not be read as ${n} floats`;
  return { shape: [...shape], data: v instanceof Float32Array ? v : Float32Array.from(v) };
}

function stringAttr(f: H5File, name: string): string | undefined {
  const a = (f.attrs as Record<string, { value: unknown } | undefined>)[name];
  const v = a?.value;
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return undefined;
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

/** Every dataset under `layers/` of a Keras 3 weights file, read eagerly (the file is closed after). */
function collectStore(f: H5File): Map<string, SourceWeight | string> {
  const out = new Map<string, SourceWeight | string>();
  const walk = (path: string, depth: number) => {
    if (depth > 32 || out.size > 100_000) return;
    const g = f.get(path) as unknown as { type?: string; keys?: () => string[] } | null;
    if (!g || g.type !== "Group" || !g.keys) return;
    for (const k of g.keys()) {
      const child = `${path}/${k}`;
      const e = f.get(child) as unknown as { type?: string } | null;
      if (e?.type === "Dataset") out.set(child, readDataset(f, child));
      else if (e?.type === "Group") walk(child, depth + 1);
    }
  };
  if (f.keys().includes("layers")) walk("layers", 0);
  return out;
}

export async function importKerasZip(bytes: Uint8Array, where: string, problems: ImportProblems): Promise<ImportResult | undefined> {
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
  const store = await withH5(files["model.weights.h5"]!, `${where}/model.weights.h5`, problems, collectStore);
  if (!store) return undefined;
  const training = isObject(config) ? config.compile_config : undefined;
  return buildImport(topo, storeWeightSource(store), training, flavor, problems);
}

export async function importKerasH5(bytes: Uint8Array, where: string, problems: ImportProblems): Promise<ImportResult | undefined> {
  const read = await withH5(bytes, where, problems, (f) => {
    const modelConfig = stringAttr(f, "model_config");
    if (modelConfig === undefined) return "a weights-only .h5 (no model_config attribute): kiln needs the full model (model.save(\"model.h5\"))";
    const weights = new Map<string, SourceWeight>();
    const bad: string[] = [];
    // keys() first: get() of a missing path makes the HDF5 library print its error stack.
    const root = (f.keys().includes("model_weights") ? f.get("model_weights") : null) as unknown as { type?: string; attrs?: Record<string, { value: unknown }> } | null;
    const layerNames = root?.type === "Group" ? asStrings(root.attrs?.layer_names?.value) : [];
    for (const layer of layerNames) {
      const g = f.get(`model_weights/${layer}`) as unknown as { type?: string; attrs?: Record<string, { value: unknown }> } | null;
      if (g?.type !== "Group") continue;
      for (const w of asStrings(g.attrs?.weight_names?.value)) {
        const t = readDataset(f, `model_weights/${layer}/${w}`);
        if (typeof t === "string") bad.push(t);
        else weights.set(w, t);
      }
    }
    return { modelConfig, training: stringAttr(f, "training_config"), version: stringAttr(f, "keras_version") ?? "", weights, bad };
  });
  if (read === undefined) return undefined;
  if (typeof read === "string") {
    problems.error(where, read);
    return undefined;
  }
  for (const b of read.bad) problems.error(`${where}/model_weights`, b);
  const config = parseJson(read.modelConfig, `${where}/model_config`, problems);
  const training = read.training === undefined ? undefined : parseJson(read.training, `${where}/training_config`, problems);
  if (problems.failed) return undefined;
  const flavor: Flavor = read.version.startsWith("3") ? "keras3" : "keras2";
  const topo = readTopology(config, `${where}/model_config`, flavor, problems);
  if (!topo) return undefined;
  return buildImport(topo, namedWeightSource(read.weights), training, flavor, problems);
}

function asStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return [];
}

/** Whether `path` exists, walking keys() (get() of a missing path makes the HDF5 library print its error stack). */
function exists(f: H5File, path: string): boolean {
  let at: { keys(): string[]; get(p: string): unknown } = f as unknown as { keys(): string[]; get(p: string): unknown };
  const parts = path.split("/");
  for (let i = 0; i < parts.length; i++) {
    if (!at.keys().includes(parts[i]!)) return false;
    if (i === parts.length - 1) return true;
    const next = at.get(parts[i]!) as { type?: string } | null;
    if (next?.type !== "Group") return false;
    at = next as unknown as typeof at;
  }
  return false;
}
