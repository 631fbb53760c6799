/**
 * A read Keras topology + its weights → a kiln.graph/v2 graph and safetensors weights in kiln's
 * names. Keras names kiln's name rule refuses are renamed deterministically (invalid characters
 * → "_", a leading digit gets "k_", cut to fit, "_2", "_3", ... against clashes; names already
 * valid never change) and the original kept as `keras_name`. The built graph goes through
 * checkGraph, so an import never hands back a graph kiln would refuse.
 */
import { checkGraph } from "../frontend/index.js";
import { KilnError } from "../frontend/diagnostics.js";
import type { Graph } from "../frontend/graph-types.js";
import { writeSafetensors, type StWriteTensor } from "../../runtime/safetensors.js";
import { ArgReader, type Flavor } from "./args.js";
import { KERAS_LAYERS, kerasWeightName, REFUSED_HINTS } from "./layers.js";
import { ImportProblems, layerLabel, quote } from "./problems.js";
import type { KerasCall, KerasTopology } from "./topology.js";
import type { SourceWeight } from "./tfjs-weights.js";
import { mapTraining } from "./training.js";

/** Where a layer's weights are found in the source file. */
export interface WeightSource {
  /**
   * The tensor holding a kiln weight of Keras layer `call`: `kerasPath` is its name under the layer
   * in files that name weights (TF.js, Keras 2), `storePath` its place under the layer's store path
   * in Keras 3 files (undefined when the layer table does not say); or a message saying why not.
   */
  find(call: KerasCall, kerasPath: string, storePath: string | undefined): SourceWeight | string;
  /** Source tensors no layer took (reported in a note). */
  unused(): string[];
}

export interface ImportResult {
  /** The kiln.graph/v2 graph as a JSON value. */
  graph: Record<string, unknown>;
  /** safetensors bytes: every weight of the graph in kiln's names (spec §5). */
  weights: Uint8Array;
  /** What the import left out or changed (never silently). */
  notes: string[];
}

const NAME_RULE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Keras names → kiln names: valid unique names kept, others renamed without clashing. */
export function kilnNames(names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>(["__metadata__"]);
  for (const n of names) if (NAME_RULE.test(n) && !taken.has(n)) {
    out.set(n, n);
    taken.add(n);
  }
  for (const n of names) {
    if (out.has(n)) continue;
    let base = n.replace(/[^A-Za-z0-9_]/g, "_");
    if (!/^[A-Za-z_]/.test(base)) base = `k_${base}`;
    base = base.slice(0, 64);
    let candidate = base;
    for (let i = 2; taken.has(candidate); i++) candidate = `${base.slice(0, 64 - String(i).length - 1)}_${i}`;
    out.set(n, candidate);
    taken.add(candidate);
  }
  return out;
}

export function buildImport(topo: KerasTopology, source: WeightSource, trainingConfig: unknown, flavor: Flavor, problems: ImportProblems): ImportResult | undefined {
  const names = kilnNames([...topo.inputs.map((i) => i.name), ...topo.calls.map((c) => c.name)]);
  const kiln = (n: string) => names.get(n)!;
  const byKiln = new Map(topo.calls.map((c) => [kiln(c.name), c]));
  const layers: Record<string, unknown>[] = [];
  const intInputs = new Set<string>();
  for (const call of topo.calls) {
    const label = layerLabel(call.name, call.className);
    const mapping = KERAS_LAYERS[call.className];
    if (!mapping) {
      const hint = REFUSED_HINTS[call.className];
      problems.error(call.path, `kiln cannot import the Keras class ${quote(call.className)}${hint ? `: ${hint}` : ""}; kiln imports ${Object.keys(KERAS_LAYERS).join(", ")}`, label);
      continue;
    }
    const r = new ArgReader(call.config, label, `${call.path}/config`, flavor, problems);
    const before = problems.errors.length;
    const attrs = mapping.attrs(r, call);
    r.finish();
    if (!attrs || problems.errors.length > before) continue;
    const layer: Record<string, unknown> = { name: kiln(call.name), op: mapping.opFor?.(call) ?? mapping.op, inputs: (mapping.inputs?.(call) ?? call.inputs).map(kiln) };
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) layer[k] = v;
    if (call.config.trainable === false || call.frozen) layer.trainable = false;
    if (kiln(call.name) !== call.name) layer.keras_name = call.name;
    if (mapping.op === "embedding") for (const i of call.inputs) intInputs.add(i);
    layers.push(layer);
  }
  const inputs = topo.inputs.map((i) => {
    const v: Record<string, unknown> = { name: kiln(i.name), shape: i.shape };
    if (i.dtype === "int32" || intInputs.has(i.name)) v.dtype = "int32";
    if (i.dtype !== "int32" && intInputs.has(i.name)) problems.note(`input ${quote(i.name)} feeds an Embedding and becomes int32 (token ids), as Keras casts it`);
    return v;
  });
  if (problems.failed) return undefined;
  const graphName = kilnNames([topo.name]).get(topo.name)!.replace(/^_+/, "") || "imported";
  const graph: Record<string, unknown> = {
    format: "kiln.graph/v2",
    name: /^[A-Za-z]/.test(graphName) ? graphName.slice(0, 64) : `m_${graphName}`.slice(0, 64),
    inputs,
    layers,
    outputs: topo.outputs.map(kiln),
  };
  const checked = check(graph, byKiln, problems);
  if (!checked) return undefined;

  const tensors = new Map<string, StWriteTensor>();
  for (const layer of checked.layers) {
    const call = byKiln.get(layer.name)!;
    const mapping = KERAS_LAYERS[call.className]!;
    const store = mapping.kerasStore?.(layer.attrs);
    for (const w of layer.weights) {
      const found = source.find(call, kerasWeightName(mapping, w.name, flavor), store?.[w.name]);
      const label = layerLabel(call.name, call.className);
      if (typeof found === "string") {
        problems.error(call.path, `weight ${quote(w.name)} (kiln ${quote(w.fullName)}, shape [${w.shape.join(", ")}]): ${found}`, label);
        continue;
      }
      if (found.shape.length !== w.shape.length || found.shape.some((d, i) => d !== w.shape[i])) {
        problems.error(call.path, `weight ${quote(w.name)} has shape [${found.shape.join(", ")}] in the file; kiln's ${layer.op} needs [${w.shape.join(", ")}]`, label);
        continue;
      }
      tensors.set(w.fullName, { dtype: "F32", shape: w.shape, data: found.data });
    }
    for (const [kerasPath, storePath] of mapping.ignoredWeights?.(layer.attrs) ?? []) source.find(call, kerasPath, storePath);
  }
  if (problems.failed) return undefined;
  const unused = source.unused();
  if (unused.length) problems.note(`${unused.length} weight(s) in the file belong to no imported layer and were left out: ${unused.slice(0, 10).map(quote).join(", ")}${unused.length > 10 ? ", ..." : ""}`);

  const kerasName = (kiln: string) => ((graph.layers as { name: string; keras_name?: string }[]).find((l) => l.name === kiln)?.keras_name ?? kiln);
  const { training, notes } = mapTraining(trainingConfig, checked.outputs.map(kerasName), flavor);
  for (const n of notes) problems.note(n);
  if (training) addTraining(graph, checked, training, problems);
  const weights = writeSafetensors(tensors);
  return { graph, weights, notes: problems.notes };
}

/** checkGraph, with kiln's diagnostics turned into import errors naming the Keras layer. */
function check(graph: Record<string, unknown>, byKiln: Map<string, KerasCall>, problems: ImportProblems): Graph | undefined {
  try {
    return checkGraph(graph);
  } catch (err) {
    if (!(err instanceof KilnError)) throw err;
    for (const d of err.diagnostics) {
      const call = d.layer !== undefined ? byKiln.get(d.layer) : undefined;
      problems.error(call ? call.path : `graph${d.path}`, `kiln refuses the imported ${call ? "layer" : "graph"}: ${d.message}`, call ? layerLabel(call.name, call.className) : undefined);
    }
    return undefined;
  }
}

/** Targets `<output>_target` (int32 ids for a sparse loss) and the training section, one loss per output. */
function addTraining(graph: Record<string, unknown>, checked: Graph, training: NonNullable<ReturnType<typeof mapTraining>["training"]>, problems: ImportProblems): void {
  const taken = new Set([...checked.inputs.map((i) => i.name), ...checked.layers.map((l) => l.name)]);
  const targets: Record<string, unknown>[] = [];
  const losses = checked.outputs.map((output, i) => {
    const shape = checked.layers.find((l) => l.name === output)!.shape;
    const loss = training.losses[i]!;
    let target = `${output}_target`.slice(0, 64);
    for (let k = 2; taken.has(target); k++) target = `${output.slice(0, 56)}_target${k}`;
    taken.add(target);
    targets.push(loss.type === "sparse_categorical_crossentropy" ? { name: target, shape: shape.slice(0, -1), dtype: "int32" } : { name: target, shape });
    return { ...loss, output, target };
  });
  const several = checked.outputs.length > 1;
  const metrics = several
    ? Object.fromEntries(checked.outputs.map((o, i) => [o, training.metrics[i]!]).filter(([, m]) => (m as unknown[]).length))
    : training.metrics[0]!;
  graph.targets = targets;
  graph.training = {
    loss: several ? losses : losses[0],
    ...(training.lossWeights ? { loss_weights: several ? training.lossWeights : training.lossWeights[0] } : {}),
    optimizer: training.optimizer,
    ...(Object.keys(metrics).length ? { metrics } : {}),
  };
  try {
    checkGraph(graph);
  } catch (err) {
    if (!(err instanceof KilnError)) throw err;
    delete graph.targets;
    delete graph.training;
    problems.note(`training configuration left out, the graph compiles for inference only: kiln refuses it (${err.diagnostics.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ")})`);
  }
}
