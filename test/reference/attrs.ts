/**
 * Reading raw layer attributes for the reference interpreter, with its own Keras defaults
 * (independent of the compiler's front end). Errors name the layer and attribute.
 * Axis attributes count as Keras does (kiln.graph/v2): 0 is the batch axis (refused), 1 the first
 * axis of one example, negative from the end; interpret.ts converts kiln.graph/v1 axes first.
 */

export type RawLayer = Record<string, unknown> & { name: string; op: string; inputs?: string[] };

export function fail(layer: RawLayer, message: string): never {
  throw new Error(`layer "${layer.name}" (${layer.op}): ${message}`);
}

export function num(layer: RawLayer, key: string, dflt?: number): number {
  const v = layer[key] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v)) fail(layer, `attribute ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function int(layer: RawLayer, key: string, dflt?: number): number {
  const v = num(layer, key, dflt);
  if (!Number.isInteger(v)) fail(layer, `attribute ${key} must be an integer, got ${v}`);
  return v;
}

export function bool(layer: RawLayer, key: string, dflt: boolean): boolean {
  const v = layer[key] ?? dflt;
  if (typeof v !== "boolean") fail(layer, `attribute ${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

export function str(layer: RawLayer, key: string, dflt: string): string {
  const v = layer[key] ?? dflt;
  if (typeof v !== "string") fail(layer, `attribute ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** An int or [h, w] pair attribute as a pair. */
export function pair(layer: RawLayer, key: string, dflt?: number | [number, number]): [number, number] {
  const v = layer[key] ?? dflt;
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((e) => Number.isInteger(e) && e > 0)) return [v[0], v[1]];
  fail(layer, `attribute ${key} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
}

/** Full-tensor axis (batch = 0) for a Keras-counted axis attribute on a full tensor of `rank`; never the batch axis. */
export function exampleAxis(layer: RawLayer, key: string, dflt: number, rank: number): number {
  const a = int(layer, key, dflt);
  const full = a < 0 ? a + rank : a;
  if (full < 1 || full >= rank) fail(layer, `attribute ${key}=${a} is not an axis of one example (full rank ${rank}, batch axis 0)`);
  return full;
}
