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

/**
 * Graphs this process's checkGraph returned. compile() takes one of these as already checked; any
 * other object, however Graph-like (a request body with `weights` and `shape` arrays), is checked
 * in full: membership here is something no JSON value can carry.
 */
const checkedGraphs = new WeakSet<object>();

/** Whether `value` is a Graph that checkGraph returned. */
export const isCheckedGraph = (value: unknown): value is Graph => typeof value === "object" && value !== null && checkedGraphs.has(value);

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
  checkedGraphs.add(graph);
  return graph;
}
