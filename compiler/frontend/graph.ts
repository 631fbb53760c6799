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

type Kind = "input" | "target" | "layer";
interface Named { kind: Kind; index: number; path: string }

/** Build the checked Graph from a schema-valid graph value; throws KilnError with every problem. */
export function buildGraph(raw: RawGraph): Graph {
  const bag = new DiagnosticBag();
  const inputs = raw.inputs.map(valueInfo);
  const targets = (raw.targets ?? []).map(valueInfo);
  const names = collectNames(raw, bag);
  const resolved = resolveInputs(raw, names, bag);
  const order = topoOrder(raw, resolved, names, bag);
  const layers = inferLayers(raw, order, resolved, inputs, bag);
  const outputs = resolveOutputs(raw, names, bag);
  const training = raw.training && checkTraining(raw.training, layers, outputs, targets, names, bag);
  bag.throwIfAny();
  const graph: Graph = { format: raw.format, name: raw.name, seed: raw.seed ?? 0, inputs, targets, layers, outputs };
  if (training) graph.training = training;
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
      const path = `${base}/${index}`;
      const layer = kind === "layer" ? item.name : undefined;
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

/** Each layer's input names with defaults filled; undefined for a layer whose inputs are wrong. */
function resolveInputs(raw: RawGraph, names: Map<string, Named>, bag: DiagnosticBag): (string[] | undefined)[] {
  const sources = [...names].filter(([, n]) => n.kind !== "target").map(([name]) => name);
  return raw.layers.map((layer, i) => {
    const path = `/layers/${i}`;
    if (!layer.inputs) {
      if (i > 0) return [raw.layers[i - 1].name];
      if (raw.inputs.length === 1) return [raw.inputs[0].name];
      bag.add("reference", path, `the first layer has no "inputs" and the graph has ${raw.inputs.length} inputs (${raw.inputs.map((v) => v.name).join(", ")}); list the ones it takes`, layer.name);
      return undefined;
    }
    let ok = true;
    layer.inputs.forEach((name, j) => {
      const n = names.get(name);
      if (n?.kind === "target") {
        bag.add("reference", `${path}/inputs/${j}`, `"${name}" is a target (what the loss compares against), not a value a layer can take`, layer.name);
        ok = false;
      } else if (!n) {
        bag.add("reference", `${path}/inputs/${j}`, `unknown input "${name}": no graph input or layer has that name${didYouMean(name, sources)}`, layer.name);
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
  if (!raw.outputs) return [raw.layers[raw.layers.length - 1].name];
  const layerNames = raw.layers.map((l) => l.name);
  raw.outputs.forEach((name, i) => {
    const n = names.get(name);
    if (n?.kind === "layer") return;
    const what = n ? `"${name}" is a graph ${n.kind}, not a layer` : `unknown layer "${name}"${didYouMean(name, layerNames)}`;
    bag.add("reference", `/outputs/${i}`, `${what} (outputs name the layers whose values predict returns)`);
  });
  return [...raw.outputs];
}
