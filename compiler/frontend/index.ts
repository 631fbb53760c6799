/**
 * The front end: graph text (or an already-parsed value) → the checked Graph. Four stages, each in
 * its own file: parse (limits, JSON) → validate (JSON Schema via ajv) → graph (names, references,
 * order) → shapes (per-op inference, weights, memory) and training checks. Throws KilnError with
 * every problem found, in graph order (diagnostics.ts: inGraphOrder).
 *
 * Schema problems do not stop the later stages when the graph's frame is sound (format, inputs,
 * targets and the layer list valid): a layer with a schema problem is left out of shape inference
 * (its name still resolves, so layers fed by it are skipped, as after any broken layer, without
 * follow-on errors), and a broken `outputs` or `training` section is left out of the training
 * checks. So one pass reports the schema problems and the shape problems of every other layer.
 */
import { KilnError, inGraphOrder, type Diagnostic } from "./diagnostics.js";
import type { Graph } from "./graph-types.js";
import { buildGraph, type Excluded } from "./graph.js";
import { type Limits, checkLayerCount, checkValueDepth, parseGraphText, resolveLimits } from "./parse.js";
import type { RawGraph } from "./raw-graph.js";
import { validateSchema } from "./validate.js";

export { parseGraphText, type Limits } from "./parse.js";

/** Check a graph given as JSON text or as a parsed value; returns the typed, shape-inferred Graph. */
export function checkGraph(input: string | unknown, opts: Limits = {}): Graph {
  const lim = resolveLimits(opts);
  let value: unknown;
  if (typeof input === "string") value = parseGraphText(input, lim);
  else {
    checkValueDepth(input, lim.maxDepth);
    checkLayerCount(input, lim.maxLayers);
    value = input;
  }
  const problems = validateSchema(value);
  if (problems.length) {
    const excluded = excludedBy(problems, value);
    throw new KilnError(inGraphOrder(excluded ? [...problems, ...buildProblems(value as RawGraph, excluded)] : problems));
  }
  const graph = buildGraph(value as RawGraph);
  CHECKED.add(graph);
  return graph;
}

/**
 * Graphs checkGraph made: only these may skip the front end (compile() of a checked Graph).
 * A WeakSet, not a property that a JSON value could carry, so nothing from outside passes for one.
 */
const CHECKED = new WeakSet<object>();

export function isCheckedGraph(x: unknown): x is Graph {
  return typeof x === "object" && x !== null && CHECKED.has(x);
}

/** The build stages' problems on a graph whose `excluded` parts failed the schema. */
function buildProblems(raw: RawGraph, excluded: Excluded): Diagnostic[] {
  try {
    buildGraph(raw, excluded);
    return [];
  } catch (err) {
    if (err instanceof KilnError) return err.diagnostics;
    throw err;
  }
}

/**
 * What the build stages must leave out, given the schema problems; undefined when the graph's
 * frame is broken (root, format, inputs, targets, the layer list itself) and they cannot run.
 */
function excludedBy(problems: Diagnostic[], value: unknown): Excluded | undefined {
  const layers = (value as { layers?: unknown } | null)?.layers;
  if (!Array.isArray(layers) || layers.length === 0) return undefined;
  const excluded: Excluded = { layers: new Set(), layerInputs: new Set(), outputs: false, training: false };
  for (const d of problems) {
    const [section, item, key] = d.path.split("/").slice(1);
    if (section === "layers") {
      const i = Number(item);
      if (item === undefined || !Number.isInteger(i) || i < 0 || i >= layers.length) return undefined;
      excluded.layers.add(i);
      if (key === "inputs") excluded.layerInputs.add(i);
    } else if (section === "outputs") excluded.outputs = excluded.training = true;
    else if (section === "training") excluded.training = true;
    else if (section === undefined || FRAME.has(section)) return undefined;
    // name, seed, $schema and unknown top-level keys: nothing later reads them.
  }
  return excluded;
}

const FRAME = new Set(["", "format", "inputs", "targets"]);
