/**
 * The graph format versions kiln reads. kiln.graph/v2 (written everywhere) counts axis attributes
 * as Keras does: 0 is the batch axis, 1 the first axis of a shape written in the graph, -1 the
 * last. kiln.graph/v1 counted the axes of one example (0 was the first axis of the written shape);
 * kiln still reads it, each non-negative axis meaning the v2 axis one higher, and says so in a note.
 */
import type { Diagnostic } from "./diagnostics.js";
import { OPS } from "./ops/index.js";
import { isAxisAttr } from "./ops/attrs.js";
import type { AxisCounting } from "./ops/op.js";
import type { RawGraph } from "./raw-graph.js";

export const FORMAT_V2 = "kiln.graph/v2";
export const FORMAT_V1 = "kiln.graph/v1";
export type GraphFormat = typeof FORMAT_V2 | typeof FORMAT_V1;
/** Every format the schema accepts, the current one first. */
export const FORMATS: readonly GraphFormat[] = [FORMAT_V2, FORMAT_V1];

export function axisCounting(format: GraphFormat): AxisCounting {
  return format === FORMAT_V1 ? "example" : "keras";
}

type Axes = number | number[];
const isAxes = (v: unknown): v is Axes => typeof v === "number" || (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === "number"));
/** A v1 axis (or list) as v2 counts it: non-negative axes one higher, negative ones as they are. */
const inV2 = (v: Axes): Axes => (typeof v === "number" ? (v >= 0 ? v + 1 : v) : v.map((a) => (a >= 0 ? a + 1 : a)));
const showAxes = (v: Axes) => (typeof v === "number" ? String(v) : `[${v.join(", ")}]`);

/** The note `kiln check` prints for a v1 file: how its axes were read, with every axis it set. */
export function formatNotes(raw: RawGraph): Diagnostic[] {
  if (raw.format !== FORMAT_V1) return [];
  const shifted: string[] = [];
  for (const layer of raw.layers) {
    const attrs = OPS[layer.op]?.attrs ?? {};
    for (const [key, schema] of Object.entries(attrs)) {
      const v = Object.hasOwn(layer, key) ? layer[key] : undefined;
      if (isAxisAttr(schema) && isAxes(v)) {
        const [was, now] = [showAxes(v), showAxes(inV2(v))];
        shifted.push(`"${layer.name}" ${key} ${was}${now !== was ? ` (v2: ${now})` : ""}`);
      }
    }
  }
  const which = shifted.length
    ? ` Axes in this file: ${shifted.join(", ")}. Write "format": "${FORMAT_V2}" with the v2 values to update it.`
    : ` This file sets no axis attribute: writing "format": "${FORMAT_V2}" updates it.`;
  return [{
    code: "format",
    path: "/format",
    message: `the file is ${FORMAT_V1}: its axis attributes count the axes of one example, so each non-negative axis was read as the ${FORMAT_V2} axis one higher (Keras counting, 0 is the batch axis) and negative axes as they are.${which}`,
  }];
}
