/**
 * A Keras model config (Keras 2, Keras 3 or TF.js's copy of Keras 2) → one flat list of layer
 * calls: Sequential and functional (`Model` / `Functional`) configs, models nested inside models
 * flattened into the outer graph (an inner model's inputs are bound to the tensors it was called
 * on). Shapes of configs differ by version:
 *  - Keras 2 / TF.js: Sequential `config.layers` (or a bare list in old Keras 2), the first layer
 *    carrying `batch_input_shape`; functional `inbound_nodes: [[[name, node, tensor, kwargs], ...]]`.
 *  - Keras 3: an `InputLayer` with `batch_shape` first in Sequential; functional
 *    `inbound_nodes: [{args: [...], kwargs: {...}}]` whose tensors are
 *    `{class_name: "__keras_tensor__", config: {keras_history: [name, node, tensor]}}`.
 */
import type { Flavor } from "./args.js";
import { ImportProblems, isObject, layerLabel, quote, seg } from "./problems.js";
import { MODEL_CLASSES, type CallInfo } from "./layers.js";

export interface KerasInput {
  /** Keras name of the input (an InputLayer, or `<first layer>_input` for a Sequential without one). */
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  path: string;
}

export interface KerasCall extends CallInfo {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** JSON pointer of the layer's entry in the source. */
  path: string;
  /** Where Keras 3's saving code stores the layer's variables in model.weights.h5 ("layers/dense_1"). */
  storePath: string;
  /** Inside a nested model saved with `trainable: false` (Keras freezes all its layers). */
  frozen?: boolean;
}

export interface KerasTopology {
  name: string;
  inputs: KerasInput[];
  calls: KerasCall[];
  outputs: string[];
}

/** Nesting deeper than this is refused (a hostile file could nest thousands of models). */
const MAX_NESTING = 32;

export function readTopology(model: unknown, path: string, flavor: Flavor, problems: ImportProblems): KerasTopology | undefined {
  const t: KerasTopology = { name: "model", inputs: [], calls: [], outputs: [] };
  if (!isObject(model) || typeof model.class_name !== "string") {
    problems.error(path, `expected a Keras model config {"class_name": "Sequential" | "Functional" | "Model", "config": {...}}; got ${quote(model)}`);
    return undefined;
  }
  const cfg = model.config;
  if (isObject(cfg) && typeof cfg.name === "string") t.name = cfg.name;
  const outs = readModel(model, path, flavor, problems, t, undefined, 0, "");
  if (!outs) return undefined;
  t.outputs = outs;
  return t;
}

/** Reads one (possibly nested) model; returns its output tensors' layer names. */
function readModel(model: Record<string, unknown>, path: string, flavor: Flavor, problems: ImportProblems, t: KerasTopology, bound: string[] | undefined, depth: number, store: string): string[] | undefined {
  if (depth > MAX_NESTING) {
    problems.error(path, `models nested more than ${MAX_NESTING} deep`);
    return undefined;
  }
  const cls = model.class_name;
  const first = t.calls.length;
  let outs: string[] | undefined;
  if (cls === "Sequential") outs = readSequential(model.config, `${path}/config`, flavor, problems, t, bound, depth, store);
  else if (cls === "Functional" || cls === "Model") outs = readFunctional(model.config, `${path}/config`, flavor, problems, t, bound, depth, store);
  else {
    problems.error(path, `model class ${quote(cls)} is not one kiln reads (Sequential, Functional, Model)`);
    return undefined;
  }
  // A (nested) model saved with trainable: false freezes every layer in it, as Keras does.
  if (isObject(model.config) && model.config.trainable === false) for (const c of t.calls.slice(first)) c.frozen = true;
  return outs;
}

function readSequential(cfg: unknown, path: string, flavor: Flavor, problems: ImportProblems, t: KerasTopology, bound: string[] | undefined, depth: number, store: string): string[] | undefined {
  const storeName = storeNamer(store);
  const layers = Array.isArray(cfg) ? cfg : isObject(cfg) ? cfg.layers : undefined;
  const layersPath = Array.isArray(cfg) ? path : `${path}/layers`;
  if (!Array.isArray(layers) || layers.length === 0) {
    problems.error(layersPath, `a Sequential model needs a non-empty "layers" list; got ${quote(layers)}`);
    return undefined;
  }
  let current: string | undefined = bound?.[0];
  if (bound && bound.length !== 1) {
    problems.error(path, `a nested Sequential model takes one input; it was called on ${bound.length}`);
    return undefined;
  }
  for (let i = 0; i < layers.length; i++) {
    const entry = layers[i], p = `${layersPath}/${i}`;
    if (!isObject(entry) || typeof entry.class_name !== "string" || !isObject(entry.config)) {
      problems.error(p, `expected a layer {"class_name": ..., "config": {...}}; got ${quote(entry)}`);
      return undefined;
    }
    const name = entry.config.name ?? entry.name;
    if (typeof name !== "string" || name.length === 0) {
      problems.error(`${p}/config/name`, `a layer needs a non-empty string name; got ${quote(name)}`);
      return undefined;
    }
    if (entry.class_name === "InputLayer") {
      if (current === undefined) current = addInput(entry.config, name, `${p}/config`, problems, t);
      continue;
    }
    if (current === undefined) {
      // Keras 2 / TF.js: the first layer says the input shape.
      const shapeCfg = entry.config.batch_input_shape !== undefined ? entry.config : isObject(cfg) && cfg.build_input_shape !== undefined ? { batch_input_shape: cfg.build_input_shape } : entry.config;
      current = addInput({ ...shapeCfg, dtype: entry.config.dtype }, `${name}_input`, `${p}/config`, problems, t);
      if (current === undefined) return undefined;
    }
    const storePath = storeName(entry.class_name);
    if (MODEL_CLASSES.has(entry.class_name)) {
      const outs = readModel(entry, p, flavor, problems, t, [current], depth + 1, `${storePath}/`);
      if (!outs) return undefined;
      if (outs.length !== 1) {
        problems.error(p, `a model inside a Sequential must have one output; ${quote(name)} has ${outs.length}`);
        return undefined;
      }
      current = outs[0]!;
      continue;
    }
    t.calls.push({ name, className: entry.class_name, config: entry.config, path: p, storePath, inputs: [current], kwargs: {} });
    current = name;
  }
  return current === undefined ? undefined : [current];
}

/** [name, node, tensor] triples: Keras 2 writes a list of them, Keras 3 a bare triple for one. */
function triples(v: unknown): unknown[][] | undefined {
  if (!Array.isArray(v)) return undefined;
  if (v.length > 0 && typeof v[0] === "string") return [v];
  return v.every(Array.isArray) ? (v as unknown[][]) : undefined;
}

function readFunctional(cfg: unknown, path: string, flavor: Flavor, problems: ImportProblems, t: KerasTopology, bound: string[] | undefined, depth: number, store: string): string[] | undefined {
  const storeName = storeNamer(store);
  const storePaths = new Map<string, string>();
  if (!isObject(cfg) || !Array.isArray(cfg.layers)) {
    problems.error(path, `a functional model needs "config": {"layers": [...], "input_layers": [...], "output_layers": [...]}; got ${quote(cfg)}`);
    return undefined;
  }
  const inputLayers = triples(cfg.input_layers), outputLayers = triples(cfg.output_layers);
  if (!inputLayers || !outputLayers || outputLayers.length === 0) {
    problems.error(path, `input_layers and output_layers must be lists of [layer name, node index, tensor index]; got ${quote(cfg.input_layers)} and ${quote(cfg.output_layers)}`);
    return undefined;
  }
  // Keras layer name → the graph names of its output tensors.
  const produced = new Map<string, string[]>();
  const inputNames = inputLayers.map((x) => x[0]);
  if (bound && bound.length !== inputNames.length) {
    problems.error(path, `this nested model has ${inputNames.length} inputs but was called on ${bound.length}`);
    return undefined;
  }
  const pending: { entry: Record<string, unknown>; p: string; name: string }[] = [];
  for (let i = 0; i < cfg.layers.length; i++) {
    const entry = cfg.layers[i], p = `${path}/layers/${i}`;
    if (!isObject(entry) || typeof entry.class_name !== "string" || !isObject(entry.config)) {
      problems.error(p, `expected a layer {"class_name": ..., "config": {...}, "inbound_nodes": [...]}; got ${quote(entry)}`);
      return undefined;
    }
    const name = entry.name ?? entry.config.name;
    if (typeof name !== "string" || name.length === 0) {
      problems.error(`${p}/name`, `a layer needs a non-empty string name; got ${quote(name)}`);
      return undefined;
    }
    if (produced.has(name) || pending.some((q) => q.name === name)) {
      problems.error(`${p}/name`, `layer name ${quote(name)} appears twice in one model`);
      return undefined;
    }
    // Keras 3 op nodes (x + 3.0 as Add, module keras.src.ops.*) are operations, not layers: the
    // weights store numbers model.layers only, so they take no store name (and hold no variables).
    const opNode = typeof entry.module === "string" && entry.module.startsWith("keras.src.ops");
    storePaths.set(name, opNode ? "" : storeName(entry.class_name));
    if (entry.class_name === "InputLayer") {
      const k = inputNames.indexOf(name);
      if (bound && k >= 0) produced.set(name, [bound[k]!]);
      else {
        const n = addInput(entry.config, name, `${p}/config`, problems, t);
        if (n === undefined) return undefined;
        produced.set(name, [n]);
      }
      continue;
    }
    pending.push({ entry, p, name });
  }
  // The graph's inputs in the model's input order (predict takes them by name, but summaries and exports keep it).
  if (!bound) t.inputs.sort((x, y) => rank(inputNames, x.name) - rank(inputNames, y.name));
  // Layers are listed in call order by Keras; tolerate any order that has no cycle.
  let progress = true;
  while (pending.length && progress) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const { entry, p, name } = pending[i]!;
      const call = readCall(entry, p, name, problems);
      if (call === undefined) return undefined;
      if (!call.sources.every(([src]) => produced.has(src))) continue;
      const inputs: string[] = [];
      for (const [src, tensor] of call.sources) {
        const out = produced.get(src)![tensor];
        if (out === undefined) {
          problems.error(`${p}/inbound_nodes`, `layer ${quote(name)} takes output ${tensor} of ${quote(src)}, which has ${produced.get(src)!.length} output(s)`, layerLabel(name, entry.class_name));
          return undefined;
        }
        inputs.push(out);
      }
      if (MODEL_CLASSES.has(entry.class_name as string)) {
        const outs = readModel(entry, p, flavor, problems, t, inputs, depth + 1, `${storePaths.get(name)}/`);
        if (!outs) return undefined;
        produced.set(name, outs);
      } else {
        const constants = call.constants.length ? { constants: call.constants } : {};
        t.calls.push({ name, className: entry.class_name as string, config: entry.config as Record<string, unknown>, path: p, storePath: storePaths.get(name)!, inputs, kwargs: call.kwargs, ...constants });
        produced.set(name, [name]);
      }
      pending.splice(i, 1);
      i--;
      progress = true;
    }
  }
  for (const { entry, p, name } of pending) {
    const missing = readCall(entry, p, name, problems)?.sources.map(([s]) => s).filter((s) => !produced.has(s) && !pending.some((q) => q.name === s)) ?? [];
    problems.error(`${p}/inbound_nodes`, missing.length ? `takes unknown layer(s) ${missing.map(quote).join(", ")}` : "its inputs form a cycle", layerLabel(name, entry.class_name));
  }
  if (pending.length) return undefined;
  const outs: string[] = [];
  for (const [name, , tensor] of outputLayers) {
    const out = typeof name === "string" ? produced.get(name)?.[typeof tensor === "number" ? tensor : 0] : undefined;
    if (out === undefined) {
      problems.error(`${path}/output_layers`, `output ${quote(name)} is not a layer output of this model`);
      return undefined;
    }
    outs.push(out);
  }
  return outs;
}

/** The layer's one call: the tensors it takes ([layer, tensor index]) and its keyword arguments. */
function readCall(entry: Record<string, unknown>, p: string, name: string, problems: ImportProblems): { sources: [string, number][]; kwargs: Record<string, unknown>; constants: { at: number; value: number }[] } | undefined {
  const nodes = entry.inbound_nodes;
  const label = layerLabel(name, entry.class_name);
  if (!Array.isArray(nodes) || nodes.length === 0) {
    problems.error(`${p}/inbound_nodes`, `the layer is never called (no inbound_nodes); a functional model's layers must be called on tensors`, label);
    return undefined;
  }
  if (nodes.length > 1) {
    problems.error(`${p}/inbound_nodes`, `the layer is called ${nodes.length} times (a shared layer); kiln layers own their weights, so a layer used twice cannot be imported`, label);
    return undefined;
  }
  const node = nodes[0];
  const sources: [string, number][] = [];
  const constants: { at: number; value: number }[] = [];
  let kwargs: Record<string, unknown> = Object.create(null);
  const bad = (what: string) => {
    problems.error(`${p}/inbound_nodes/0`, what, label);
    return undefined;
  };
  if (Array.isArray(node)) {
    // Keras 2 / TF.js: [[name, node, tensor, kwargs], ...]
    for (const ref of node) {
      if (!Array.isArray(ref) || typeof ref[0] !== "string") return bad(`expected [layer name, node index, tensor index, kwargs]; got ${quote(ref)}`);
      sources.push([ref[0], typeof ref[2] === "number" ? ref[2] : 0]);
      if (isObject(ref[3])) kwargs = { ...kwargs, ...ref[3] };
    }
  } else if (isObject(node)) {
    const tensors: unknown[] = [];
    const args = Array.isArray(node.args) ? node.args : [];
    for (const a of args) {
      if (Array.isArray(a)) tensors.push(...a);
      else tensors.push(a);
    }
    const kw = isObject(node.kwargs) ? node.kwargs : {};
    for (const [k, v] of Object.entries(kw)) {
      if (isKerasTensor(v) && (k === "query" || k === "value" || k === "key")) tensors.push(v);
      else kwargs[k] = v;
    }
    // Keras 3 records Python arithmetic on tensors as op nodes (module keras.src.ops.*) whose
    // arguments may be numbers: `x + 3.0` is Add(x, 3.0). The layer table decides what it allows.
    const opNode = typeof entry.module === "string" && entry.module.startsWith("keras.src.ops");
    for (const [at, x] of tensors.entries()) {
      if (opNode && typeof x === "number" && Number.isFinite(x)) {
        constants.push({ at, value: x });
        continue;
      }
      if (!isKerasTensor(x)) return bad(`a call argument is not a tensor (${quote(x)}); kiln imports layers called on tensors only`);
      const h = (x.config as Record<string, unknown>).keras_history as unknown[];
      sources.push([h[0] as string, typeof h[2] === "number" ? h[2] : 0]);
    }
  } else return bad(`expected an inbound node; got ${quote(node)}`);
  if (sources.length === 0) return bad("the layer is called on no tensor");
  return { sources, kwargs, constants };
}

function isKerasTensor(v: unknown): v is { config: Record<string, unknown> } {
  return isObject(v) && v.class_name === "__keras_tensor__" && isObject(v.config) && Array.isArray(v.config.keras_history) && typeof v.config.keras_history[0] === "string";
}

/** Adds a graph input from an InputLayer-like config; returns its name. */
function addInput(cfg: Record<string, unknown>, name: string, path: string, problems: ImportProblems, t: KerasTopology): string | undefined {
  const batchShape = cfg.batch_shape ?? cfg.batch_input_shape;
  if (!Array.isArray(batchShape) || batchShape.length < 1) {
    problems.error(path, `input ${quote(name)} has no batch_input_shape / batch_shape: kiln needs the model's input shape (build the model with an input shape before saving)`);
    return undefined;
  }
  const shape = batchShape.slice(1);
  if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 1)) {
    problems.error(path, `input ${quote(name)} has shape ${quote(batchShape)}: kiln needs every axis but the batch axis fixed (positive integers)`);
    return undefined;
  }
  let dtype: unknown = cfg.dtype;
  if (isObject(dtype)) dtype = isObject(dtype.config) ? dtype.config.name : undefined;
  const int = typeof dtype === "string" && /^u?int(8|16|32|64)$/.test(dtype);
  if (t.inputs.some((i) => i.name === name)) {
    problems.error(path, `input name ${quote(name)} appears twice`);
    return undefined;
  }
  t.inputs.push({ name, shape: shape as number[], dtype: int ? "int32" : "float32", path });
  return name;
}

function rank(order: unknown[], name: string): number {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}

/**
 * Keras 3 saves a model's layer list as a container: each layer under "layers/<snake case of its
 * class>", the second of a class "<name>_1", and so on (saving_lib._save_container_state; a
 * Sequential's list leaves out its InputLayer, a functional model's keeps them).
 */
function storeNamer(prefix: string): (className: string) => string {
  const used = new Map<string, number>();
  return (className) => {
    const base = kerasSnakeCase(className);
    const n = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, n);
    return `${prefix}layers/${n ? `${base}_${n}` : base}`;
  };
}

/** keras.src.utils.naming.to_snake_case. */
export function kerasSnakeCase(name: string): string {
  return name.replace(/\W+/g, "").replace(/(.)([A-Z][a-z]+)/g, "$1_$2").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
