/**
 * Stage 3: the graph. Checks names (unique across inputs, targets and layers; `__metadata__`
 * reserved), resolves each layer's inputs (default: the previous layer; for the first layer the
 * only graph input), orders layers topologically (rejecting cycles, named), then hands over to
 * shape inference and the training checks. Every problem goes into one DiagnosticBag.
 */
import { DiagnosticBag } from "./diagnostics.js";
import type { Graph, ValueInfo } from "./graph-types.js";
import type { RawGraph, RawValue } from "./raw-graph.js";
import { inferLayers } from "./shapes.js";
import { checkTraining } from "./training.js";
import { didYouMean } from "./suggest.js";
import { NAME_PATTERN } from "./schema.js";
import { formatNotes } from "./format.js";

type Kind = "input" | "target" | "layer";
interface Named { kind: Kind; index: number; path: string }

/**
 * Parts of a graph that failed the schema (frontend/index.ts): the build stages leave them out.
 * An excluded layer keeps its name (when it has a string one), so references to it resolve and
 * report nothing; it is not shape-inferred, so the layers it feeds are skipped like those fed by
 * any broken layer. Its inputs are resolved (and unknown references reported) unless they are
 * what failed.
 */
export interface Excluded {
  layers: Set<number>;
  layerInputs: Set<number>;
  outputs: boolean;
  training: boolean;
}

const NOTHING: Excluded = { layers: new Set(), layerInputs: new Set(), outputs: false, training: false };

/**
 * Build the checked Graph from a graph value that passed the schema except for `excluded` parts;
 * throws KilnError with every problem.
 */
export function buildGraph(raw: RawGraph, excluded: Excluded = NOTHING): Graph {
  const bag = new DiagnosticBag();
  const inputs = raw.inputs.map(valueInfo);
  const targets = (raw.targets ?? []).map(valueInfo);
  const names = collectNames(raw, bag);
  const resolved = resolveInputs(raw, names, bag, excluded);
  const order = topoOrder(raw, resolved, names, bag);
  // Excluded layers take part in names, references and cycles, not in shape inference.
  const inferable = resolved.map((ins, i) => (excluded.layers.has(i) ? undefined : ins));
  const layers = inferLayers(raw, order, inferable, inputs, bag);
  const outputs = excluded.outputs ? [] : resolveOutputs(raw, names, bag);
  const training = raw.training && !excluded.training ? checkTraining(raw.training, layers, outputs, targets, names, bag) : undefined;
  bag.throwIfAny();
  const graph: Graph = { format: raw.format, name: raw.name, seed: raw.seed ?? 0, inputs, targets, layers, outputs };
  if (training) graph.training = training;
  const notes = formatNotes(raw);
  if (notes.length) graph.notes = notes;
  return graph;
}

function valueInfo(v: RawValue): ValueInfo {
  return { name: v.name, shape: [...v.shape], dtype: v.dtype ?? "float32" };
}

/** Every name with what it names; duplicates and the reserved name are reported. */
function collectNames(raw: RawGraph, bag: DiagnosticBag): Map<string, Named> {
  const names = new Map<string, Named>();
  const add = (kind: Kind, list: { name: string }[], base: string) =>
    list.forEach((item, index) => {
      if (typeof nameOf(item) !== "string") return; // an excluded layer without a name (reported by the schema)
      const path = `${base}/${index}`;
      const layer = kind === "layer" ? labelOf(item) : undefined;
      const prior = names.get(item.name);
      if (item.name === "__metadata__") {
        bag.add("name", `${path}/name`, `the name "__metadata__" is reserved (safetensors uses it)`, layer);
      } else if (prior) {
        bag.add("name", `${path}/name`, `the name "${item.name}" is already used by the ${prior.kind} at ${prior.path}; names must be unique across inputs, targets and layers`, layer);
      } else names.set(item.name, { kind, index, path });
    });
  add("input", raw.inputs, "/inputs");
  add("target", raw.targets ?? [], "/targets");
  add("layer", raw.layers, "/layers");
  return names;
}

/** An item's name, if it has one: excluded layers may not be objects at all. */
function nameOf(item: unknown): unknown {
  return typeof item === "object" && item !== null ? (item as { name?: unknown }).name : undefined;
}

/** The layer name a diagnostic names: only a valid one (as the schema stage attaches them). */
function labelOf(item: unknown): string | undefined {
  const name = nameOf(item);
  return typeof name === "string" && VALID_NAME.test(name) ? name : undefined;
}

const VALID_NAME = new RegExp(NAME_PATTERN);

/** Each layer's input names with defaults filled; undefined for a layer whose inputs are wrong. */
function resolveInputs(raw: RawGraph, names: Map<string, Named>, bag: DiagnosticBag, excluded: Excluded): (string[] | undefined)[] {
  const sources = [...names].filter(([, n]) => n.kind !== "target").map(([name]) => name);
  return raw.layers.map((layer, i) => {
    const path = `/layers/${i}`;
    if (excluded.layers.has(i) && (typeof layer !== "object" || layer === null || excluded.layerInputs.has(i))) return undefined;
    if (!layer.inputs) {
      if (i > 0) {
        const previous = nameOf(raw.layers[i - 1]);
        return typeof previous === "string" ? [previous] : undefined; // a nameless excluded layer: reported by the schema
      }
      if (raw.inputs.length === 1) return typeof raw.inputs[0].name === "string" ? [raw.inputs[0].name] : undefined;
      bag.add("reference", path, `the first layer has no "inputs" and the graph has ${raw.inputs.length} inputs (${raw.inputs.map((v) => v.name).join(", ")}); list the ones it takes`, labelOf(layer));
      return undefined;
    }
    let ok = true;
    layer.inputs.forEach((name: unknown, j) => {
      // Not a name: the schema reports it (every problem is collected in one pass, so this runs too).
      if (typeof name !== "string") return void (ok = false);
      const n = names.get(name);
      if (n?.kind === "target") {
        bag.add("reference", `${path}/inputs/${j}`, `"${name}" is a target (what the loss compares against), not a value a layer can take`, labelOf(layer));
        ok = false;
      } else if (!n) {
        bag.add("reference", `${path}/inputs/${j}`, `unknown input "${name}": no graph input or layer has that name${didYouMean(name, sources)}`, labelOf(layer));
        ok = false;
      }
    });
    return ok ? [...layer.inputs] : undefined;
  });
}

/** Layer indices in a topological order (listing order when it already is one); cycles reported. */
function topoOrder(raw: RawGraph, resolved: (string[] | undefined)[], names: Map<string, Named>, bag: DiagnosticBag): number[] {
  const deps = resolved.map((ins) => (ins ?? []).map((n) => names.get(n)).filter((n) => n?.kind === "layer").map((n) => n!.index));
  const pending = deps.map((d) => d.length);
  const users: number[][] = raw.layers.map(() => []);
  deps.forEach((d, i) => d.forEach((j) => users[j].push(i)));
  const order: number[] = [];
  const queue = pending.flatMap((p, i) => (p === 0 ? [i] : []));
  for (let q = 0; q < queue.length; q++) {
    order.push(queue[q]);
    for (const u of users[queue[q]]) if (--pending[u] === 0) queue.push(u);
  }
  if (order.length < raw.layers.length) reportCycles(raw, deps, pending, bag);
  return order;
}

/** Walks back from each unfinished layer through unfinished inputs until a layer repeats. */
function reportCycles(raw: RawGraph, deps: number[][], pending: number[], bag: DiagnosticBag): void {
  const done = new Set<number>();
  for (let start = 0; start < pending.length; start++) {
    if (pending[start] === 0 || done.has(start)) continue;
    const walk: number[] = [];
    const at = new Map<number, number>();
    let cur = start;
    while (!done.has(cur) && !at.has(cur)) {
      at.set(cur, walk.length);
      walk.push(cur);
      cur = deps[cur].find((j) => pending[j] > 0)!;
    }
    if (!done.has(cur)) {
      // walk[k..] is the cycle, each taking its input from the next; print it in data-flow order.
      const cycle = walk.slice(at.get(cur)).reverse();
      const first = Math.min(...cycle);
      const rot = cycle.indexOf(first);
      const flow = [...cycle.slice(rot), ...cycle.slice(0, rot), first].map((i) => raw.layers[i].name);
      const path = raw.layers[first].inputs ? `/layers/${first}/inputs` : `/layers/${first}`;
      bag.add("cycle", path, `layers form a cycle: ${flow.join(" -> ")}`, raw.layers[first].name);
    }
    walk.forEach((i) => done.add(i));
  }
}

function resolveOutputs(raw: RawGraph, names: Map<string, Named>, bag: DiagnosticBag): string[] {
  if (!raw.outputs) {
    const last = nameOf(raw.layers[raw.layers.length - 1]);
    return typeof last === "string" ? [last] : [];
  }
  const layerNames = raw.layers.map(nameOf).filter((n): n is string => typeof n === "string");
  raw.outputs.forEach((name, i) => {
    const n = names.get(name);
    if (n?.kind === "layer") return;
    const what = n ? `"${name}" is a graph ${n.kind}, not a layer` : `unknown layer "${name}"${didYouMean(name, layerNames)}`;
    bag.add("reference", `/outputs/${i}`, `${what} (outputs name the layers whose values predict returns)`);
  });
  return [...raw.outputs];
}
