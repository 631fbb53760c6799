/**
 * Runtime checks on caller data ("feeds": inputs and targets by name) before any memory is
 * written: names, typed-array types, lengths, equal batch counts, id ranges, finite floats.
 * Every problem found becomes one diagnostic naming the input, what was expected and what came.
 *
 * Caller arrays are never trusted to behave: a Float32Array subclass or a Proxy can override
 * `length`, `subarray` or `set`, and a getter on the feeds object can return another array on
 * the second read. So each feed is read once, its kind is taken from the typed array's internal
 * slot (the intrinsic @@toStringTag getter: works for arrays from another realm, cannot be faked
 * by a subclass), and the checks and the copy into module memory both use a fresh view of the
 * same bytes made by the built-in constructor.
 */
import { fail, KilnError, type Diagnostic } from "./errors.js";
import { isObject, size, type Slot } from "./manifest.js";
import { typeName } from "./load.js";

export type Feed = Float32Array | Int32Array;
export type Feeds = Record<string, Feed>;

const TA = Object.getPrototypeOf(Int8Array.prototype);
const getter = (key: PropertyKey) => Object.getOwnPropertyDescriptor(TA, key)!.get!;
const tagOf = getter(Symbol.toStringTag), offsetOf = getter("byteOffset"), lengthOf = getter("length");
export const bufferOf = getter("buffer");
/** The built-in TypedArray.prototype.set, taken before any caller code runs. */
const copy: (this: Feed | Uint8Array, src: ArrayLike<number>, at?: number) => void = TA.set;

/** Copies `src` into `dst` at `at` (none: 0) with the built-in method (both are views the runtime made). */
export const put = (dst: Feed | Uint8Array, src: Feed | Uint8Array, at?: number): void => copy.call(dst, src, at);

/**
 * A fresh built-in view of the bytes of `a` when `a` is a genuine typed array of kind `want`
 * (from any realm), an empty one when its buffer is detached, else undefined.
 */
export function genuine<T extends Feed | Uint8Array>(a: unknown, want: View<T>): T | undefined {
  if (tagOf.call(a) !== want.name) return undefined;
  const n: number = lengthOf.call(a);
  return n ? new want(bufferOf.call(a), offsetOf.call(a), n) : new want(0);
}
type View<T> = { new (b: ArrayBufferLike, o: number, n: number): T; new (n: number): T; name: string };

/** The name of what came, for "expected X, got Y" (a Proxy is not called a Float32Array). */
const kindName = (a: unknown): string => tagOf.call(a) ?? (/.Array$/.test(typeName(a)) ? `a fake ${typeName(a)} (a Proxy?)` : typeName(a));

/** Checks `feeds` against `slots` (all required, no others); returns the example count and each slot's data, read once. */
export function checkFeeds(slots: Slot[], feeds: unknown, what: string): { n: number; views: Feed[] } {
  if (!isObject(feeds) || ArrayBuffer.isView(feeds)) fail("input", "", `expected an object of ${what}s by name, got ${typeName(feeds)}`);
  const known = slots.map((s) => s.name);
  const problems: Diagnostic[] = [];
  const add = (path: string, message: string) => problems.push({ code: "input", path, message });
  for (const name of Object.keys(feeds)) {
    if (!known.includes(name)) add(name, `unknown ${what} "${name}"; expected ${list(known)}`);
  }
  let n = 0, first = "";
  const views = slots.map((slot) => {
    const v = checkOne(slot, feeds[slot.name], what, add);
    if (!v) return v!;
    const count = v.length / size(slot.shape);
    if (!first) [n, first] = [count, slot.name];
    else if (count !== n) add(slot.name, `${what} "${slot.name}" has ${count} examples but "${first}" has ${n}; every ${what} needs the same batch`);
    return v;
  });
  if (problems.length) throw new KilnError(problems);
  return { n, views };
}

const list = (names: string[]) => names.map((n) => `"${n}"`).join(", ") || "none";

/** Checks one array; returns a built-in view of it, or undefined after reporting a problem. */
function checkOne(slot: Slot, a: unknown, what: string, add: (path: string, message: string) => void): Feed | undefined {
  const { name, dtype, shape } = slot;
  const say = (message: string) => void add(name, `${what} "${name}": ${message}`);
  const want = dtype === "int32" ? Int32Array : Float32Array;
  if (a === undefined) return say(`missing; expected ${want.name} (${dtype}) data`);
  const v = genuine<Feed>(a, want as View<Feed>);
  if (!v) return say(`expected ${want.name} (${dtype}), got ${kindName(a)}`);
  const per = size(shape);
  if (!v.length || v.length % per) return say(`expected a positive multiple of ${per} elements (examples of shape [${shape.join(", ")}]), got ${v.length || "0 (empty or detached)"}`);
  const problem = badValue(slot, v);
  return problem ? say(problem) : v;
}

/** What is wrong with the values of `a` for `slot` (a NaN, an id out of range), or "". */
export function badValue(slot: Slot, a: Feed): string {
  const range = slot.range, ids = slot.dtype === "int32";
  const bad = !ids ? firstNonFinite(a as Float32Array) : range ? firstOutside(a as Int32Array, range) : -1;
  return bad < 0 ? "" : `element ${bad} (${position(bad, slot.shape)}) is ${a[bad]}; expected ${ids ? `an id in [${range![0]}, ${range![1]})` : "a finite number"}`;
}

function firstOutside(a: Int32Array, [lo, hi]: [number, number]): number {
  for (let i = 0; i < a.length; i++) if (a[i] < lo || a[i] >= hi) return i;
  return -1;
}

/**
 * Index of the first NaN or ±Inf, or −1. The sum (in doubles) of finite float32 values is finite
 * (it would need over 10^269 of them to overflow), and one NaN or ±Inf makes it NaN or ±Inf; so
 * one sum answers "all finite?" without a branch per element. Adding eight elements per step
 * keeps a single running sum off the critical path (as fast as eight separate sums of x·0, and
 * about twice as fast as the scan, which then runs only to locate a problem).
 */
export function firstNonFinite(a: Float32Array | Int32Array): number {
  const n = a.length;
  let sum = 0, i = 0;
  for (; i + 8 <= n; i += 8) sum += a[i] + a[i + 1] + a[i + 2] + a[i + 3] + a[i + 4] + a[i + 5] + a[i + 6] + a[i + 7];
  for (; i < n; i++) sum += a[i];
  if (sum - sum === 0) return -1;
  for (let j = 0; j < n; j++) if (a[j] - a[j] !== 0) return j; // x − x is NaN exactly for NaN and ±Inf
  return -1;
}

/** "example 3, index [1, 2]" for flat element `i` of examples of `shape`. */
function position(i: number, shape: number[]): string {
  const idx: number[] = [];
  // Peel the indices off from the last axis; what remains is the example.
  let rest = i;
  for (let d = shape.length; d--; rest = Math.floor(rest / shape[d])) idx[d] = rest % shape[d];
  return `example ${rest}${shape.length ? `, index [${idx.join(", ")}]` : ""}`;
}
