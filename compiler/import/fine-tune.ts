/**
 * Fine-tuning an imported model (or any kiln graph): freeze a backbone by layer name and cut the
 * graph at a layer so a new head can be added, as Keras users do with
 * `Model(model.input, model.get_layer(name).output)` and `layer.trainable = False`.
 *
 * Both work on the graph as JSON (what importModel returns and `kiln import` writes) and never
 * change their argument: they return a copy. A layer is named by its kiln name or by the Keras name
 * it was imported from (`keras_name`). "Up to a layer" means the layer and every layer it depends
 * on (its ancestors): for a Sequential model that is every layer up to it in order; in a functional
 * graph a side branch that does not feed it stays as it was.
 */
import { checkGraph } from "../frontend/index.js";
import { KilnError } from "../frontend/diagnostics.js";
import type { Graph } from "../frontend/graph-types.js";
import { asFloat32, readSafetensors, writeSafetensors, type StWriteTensor } from "../../runtime/safetensors.js";
import { quote } from "./problems.js";

type GraphJson = Record<string, unknown>;

/** A graph checked, so every layer's inputs are resolved (a graph kiln refuses throws its own KilnError). */
function checked(graph: GraphJson): Graph {
  return checkGraph(graph);
}

/** The kiln name of the layer called `name` (kiln name first, then keras_name), or a KilnError listing the names. */
export function resolveLayer(g: Graph, name: string, what: string): string {
  const byKiln = g.layers.find((l) => l.name === name);
  if (byKiln) return byKiln.name;
  const byKeras = g.layers.filter((l) => l.kerasName === name);
  if (byKeras.length === 1) return byKeras[0]!.name;
  const names = g.layers.map((l) => (l.kerasName ? `${l.name} (Keras ${quote(l.kerasName)})` : l.name));
  const shown = names.length > 40 ? `${names.slice(0, 40).join(", ")}, ... (${names.length} layers)` : names.join(", ");
  throw new KilnError({ code: "import", path: what, message: `the graph has no layer ${quote(name)}; its layers are ${shown}` });
}

/** `layer` and every layer it depends on, in the graph's order. */
export function ancestors(g: Graph, layer: string): Set<string> {
  const byName = new Map(g.layers.map((l) => [l.name, l]));
  const seen = new Set<string>();
  const stack = [layer];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n) || !byName.has(n)) continue;
    seen.add(n);
    stack.push(...byName.get(n)!.inputs);
  }
  return seen;
}

/**
 * A copy of `graph` whose layer `layer` and every layer it depends on are frozen
 * (`"trainable": false`: no gradient, no update; a frozen batch normalization runs in inference
 * mode). Layers after it keep their flags. A graph that trains must keep at least one trainable
 * weight, or kiln refuses it at compile time.
 */
export function freezeUntil(graph: GraphJson, layer: string): GraphJson {
  const g = checked(graph);
  const frozen = ancestors(g, resolveLayer(g, layer, "freezeUntil"));
  const copy = structuredClone(graph);
  for (const l of copy.layers as GraphJson[]) if (frozen.has(l.name as string)) l.trainable = false;
  return copy;
}

export interface CutResult {
  /** The graph ending at the layer: its ancestors only, every layer's inputs written out, no training section. */
  graph: GraphJson;
  /** The weights of the layers kept (safetensors), when weights were given. */
  weights?: Uint8Array;
  /** What the cut left out. */
  notes: string[];
}

/**
 * The graph cut at `layer`: `layer` becomes the only output; layers it does not depend on, graph
 * inputs it does not read, the targets and the training section (they belong to the old head) are
 * left out; with `weights`, only the kept layers' tensors remain. Add a head by appending layers
 * whose `inputs` name `layer`, set `outputs`, `targets` and `training`, compile, then
 * `model.setWeights(readWeights(cut.weights))` (the new layers keep their seeded initial weights).
 */
export function cutAt(model: { graph: GraphJson; weights?: Uint8Array }, layer: string): CutResult {
  const g = checked(model.graph);
  const at = resolveLayer(g, layer, "cutAt");
  const keep = ancestors(g, at);
  const resolved = new Map(g.layers.map((l) => [l.name, l]));
  const copy = structuredClone(model.graph);
  const layers = (copy.layers as GraphJson[]).filter((l) => keep.has(l.name as string));
  // Inputs written out: an omitted `inputs` meant "the previous layer", which may now be gone.
  for (const l of layers) l.inputs = [...resolved.get(l.name as string)!.inputs];
  const reads = new Set(layers.flatMap((l) => l.inputs as string[]));
  const inputs = (copy.inputs as GraphJson[]).filter((i) => reads.has(i.name as string));
  const notes: string[] = [];
  const dropped = g.layers.length - layers.length;
  if (dropped) notes.push(`${dropped} layer(s) after or beside ${quote(at)} left out`);
  const droppedInputs = (copy.inputs as GraphJson[]).length - inputs.length;
  if (droppedInputs) notes.push(`${droppedInputs} graph input(s) ${quote(at)} does not read left out`);
  if (copy.training !== undefined || copy.targets !== undefined) notes.push("training section and targets left out (they belong to the old outputs): give the new head's");
  delete copy.training;
  delete copy.targets;
  const out: GraphJson = { ...copy, inputs, layers, outputs: [at] };
  checkGraph(out);
  if (!model.weights) return { graph: out, notes };
  const names = new Set(g.layers.filter((l) => keep.has(l.name)).flatMap((l) => l.weights.map((w) => w.fullName)));
  const tensors = new Map<string, StWriteTensor>();
  for (const [name, t] of readSafetensors(model.weights).tensors) {
    if (names.has(name)) tensors.set(name, { dtype: "F32", shape: t.shape, data: asFloat32(t, name) });
  }
  return { graph: out, weights: writeSafetensors(tensors), notes };
}

/** Safetensors weights as `{ name: Float32Array }`, for the runtime's `model.setWeights` (which takes a subset). */
export function readWeights(bytes: Uint8Array): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = Object.create(null);
  for (const [name, t] of readSafetensors(bytes).tensors) out[name] = new Float32Array(asFloat32(t, name));
  return out;
}
