/**
 * Runtime checks on caller data ("feeds": inputs and targets by name) before any memory is
 * written: names, typed-array types, lengths, equal batch counts, id ranges, finite floats.
 * Every problem found becomes one diagnostic naming the input, what was expected and what came.
 */
import { KilnError, type Diagnostic } from "./errors.js";
import { size, type Slot } from "./manifest.js";
import { typeName } from "./load.js";

export type Feed = Float32Array | Int32Array;
export type Feeds = Record<string, Feed>;

/** Checks `feeds` against `slots` (all required, no others); returns the number of examples. */
export function checkFeeds(slots: Slot[], feeds: unknown, what: string): number {
  if (typeof feeds !== "object" || feeds === null || Array.isArray(feeds) || ArrayBuffer.isView(feeds)) {
    throw new KilnError({ code: "input", path: "", message: `expected an object of ${what}s by name, got ${typeName(feeds)}` });
  }
  const data = feeds as Record<string, unknown>;
  const known = slots.map((s) => s.name);
  const problems: Diagnostic[] = [];
  const add = (path: string, message: string) => problems.push({ code: "input", path, message });
  for (const name of Object.keys(data)) {
    if (!known.includes(name)) add(name, `unknown ${what} "${name}"; expected ${list(known)}`);
  }
  let batch = 0, first = "";
  for (const slot of slots) {
    const n = checkOne(slot, data[slot.name], what, add);
    if (n === undefined) continue;
    if (!first) [batch, first] = [n, slot.name];
    else if (n !== batch) add(slot.name, `${what} "${slot.name}" has ${n} examples but "${first}" has ${batch}; every ${what} needs the same batch`);
  }
  if (problems.length) throw new KilnError(problems);
  return batch;
}

const list = (names: string[]) => names.map((n) => `"${n}"`).join(", ") || "none";

/** Checks one array; returns its example count, or undefined after reporting a problem. */
function checkOne(slot: Slot, a: unknown, what: string, add: (path: string, message: string) => void): number | undefined {
  const { name, dtype, shape } = slot;
  const say = (message: string) => add(name, `${what} "${name}": ${message}`);
  const want = dtype === "int32" ? Int32Array : Float32Array;
  if (a === undefined) return say(`missing; expected ${want.name} (${dtype}) data`), undefined;
  if (!(a instanceof want)) return say(`expected ${want.name} (${dtype}), got ${typeName(a)}`), undefined;
  if ((a.buffer as { detached?: boolean }).detached) return say("its ArrayBuffer is detached"), undefined;
  const per = size(shape);
  if (a.length === 0 || a.length % per !== 0) {
    const detail = `expected a positive multiple of ${per} elements (examples of shape [${shape.join(", ")}])`;
    return say(`${detail}, got ${a.length}${a.length === 0 ? " (empty or detached)" : ""}`), undefined;
  }
  const bad = dtype === "int32" ? firstOutOfRange(a as Int32Array, slot.range) : firstNonFinite(a as Float32Array);
  if (bad >= 0) {
    const expect = dtype === "int32" ? `an id in [${slot.range![0]}, ${slot.range![1]})` : "a finite number";
    return say(`element ${bad} (${position(bad, shape)}) is ${a[bad]}; expected ${expect}`), undefined;
  }
  return a.length / per;
}

function firstOutOfRange(a: Int32Array, range: [number, number] | undefined): number {
  if (!range) return -1;
  const [lo, hi] = range;
  for (let i = 0; i < a.length; i++) if (a[i] < lo || a[i] >= hi) return i;
  return -1;
}

/**
 * Index of the first NaN or ±Inf, or −1. x·0 is ±0 for finite x and NaN otherwise, so eight
 * independent sums of x·0 answer "all finite?" without a branch per element (about twice as
 * fast as the scan, which then runs only to locate a problem).
 */
function firstNonFinite(a: Float32Array): number {
  const n = a.length, n8 = n - (n & 7);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, i = 0;
  for (; i < n8; i += 8) {
    s0 += a[i] * 0; s1 += a[i + 1] * 0; s2 += a[i + 2] * 0; s3 += a[i + 3] * 0;
    s4 += a[i + 4] * 0; s5 += a[i + 5] * 0; s6 += a[i + 6] * 0; s7 += a[i + 7] * 0;
  }
  for (; i < n; i++) s0 += a[i] * 0;
  if (s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 === 0) return -1;
  for (let j = 0; j < n; j++) if (a[j] - a[j] !== 0) return j; // x − x is NaN exactly for NaN and ±Inf
  return -1;
}

/** "example 3, index [1, 2]" for flat element `i` of examples of `shape`. */
function position(i: number, shape: number[]): string {
  let rest = i % size(shape);
  const idx = shape.map(() => 0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return `example ${Math.floor(i / size(shape))}${shape.length ? `, index [${idx.join(", ")}]` : ""}`;
}

/** An integer option within [min, max], else a KilnError naming it. */
export function checkCount(name: string, v: unknown, min: number, max: number): void {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new KilnError({ code: "input", path: name, message: `${name} must be an integer ${range}, got ${v}` });
  }
}
