/**
 * The front end: graph text (or an already-parsed value) → the checked Graph. Four stages, each in
 * its own file: parse (limits, JSON) → validate (JSON Schema via ajv) → graph (names, references,
 * order) → shapes (per-op inference, weights, memory) and training checks. Throws KilnError with
 * every problem a stage found; later stages run only on input the earlier ones accepted.
 */
import { KilnError } from "./diagnostics.js";
import type { Graph } from "./graph-types.js";
import { buildGraph } from "./graph.js";
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
  if (problems.length) throw new KilnError(problems);
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
