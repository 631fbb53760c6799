/**
 * Graphs for the front end's fuzz test and limits (shared with scripts/limits-check.mjs, which
 * times them): seeded mutations of the example graphs (drop, duplicate, retype, perturb,
 * huge/negative numbers, deep nesting, hostile names and keys), and big well-formed graphs.
 */
import { readFileSync } from "node:fs";
import { makeRng } from "../reference/prng.js";

/** Seeded uniform [0, 1) numbers: the tests' one PRNG (mulberry32, test/reference/prng.ts). */
const prng = (seed: number): (() => number) => makeRng(seed).next;

const HOSTILE = [
  "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", '"quoted"', "`tick`", "*/", "/*", "${x}",
  "line\nbreak", "sep\u2028arator", "\u2029", "", " ", "a".repeat(300), "../../etc", "__metadata__", "\\", "</script>", "\u0000",
];
const NUMBERS = [0, -1, -2147483648, 1, 2, 3, 0.5, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 65536, 1e-320, 7];

type J = unknown;
export const examples = ["mnist-cnn", "linear-regression"].map((n) => JSON.parse(readFileSync(`examples/${n}/graph.json`, "utf8")) as J);

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** Every container (object or array) in the value with a way to address it. */
function containers(v: J, out: (Record<string, J> | J[])[] = []): (Record<string, J> | J[])[] {
  if (v !== null && typeof v === "object") {
    out.push(v as Record<string, J>);
    for (const c of Object.values(v)) containers(c, out);
  }
  return out;
}

function randomValue(r: () => number, depth = 0): J {
  switch (Math.floor(r() * 8)) {
    case 0: return pick(r, NUMBERS);
    case 1: return pick(r, HOSTILE);
    case 2: return r() < 0.5;
    case 3: return null;
    case 4: return depth < 2 ? [randomValue(r, depth + 1), randomValue(r, depth + 1)] : [];
    case 5: return depth < 2 ? { [pick(r, HOSTILE)]: randomValue(r, depth + 1) } : {};
    case 6: return pick(r, ["dense", "conv2d", "add", "lstm", "multi_head_attention", "reshape", "concatenate", "float32", "int32", "relu", "same"]);
    default: return pick(r, ["image", "label", "x", "y", "conv1", "probs", "fc1", "linear", "flat"]);
  }
}

/** Sets a key as an own data property, even "__proto__" (plain assignment would change the prototype). */
function put(obj: Record<string, J>, key: string, value: J): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function mutate(g: J, r: () => number): J {
  const all = containers(g);
  const target = pick(r, all);
  const keys = Object.keys(target);
  const key = keys.length ? pick(r, keys) : undefined;
  const op = Math.floor(r() * 9);
  if (Array.isArray(target)) {
    const i = Math.floor(r() * (target.length + 1));
    if (op === 0 && target.length) target.splice(i % target.length, 1);
    else if (op === 1 && target.length) target.splice(i, 0, structuredClone(target[i % target.length]));
    else if (op === 2) target.reverse();
    else if (target.length) target[i % target.length] = op < 6 ? randomValue(r) : pick(r, NUMBERS);
    else target.push(randomValue(r));
    return g;
  }
  const obj = target as Record<string, J>;
  if (op === 0 && key) delete obj[key];
  else if (op === 1 && key) put(obj, key, structuredClone(obj[key]));
  else if (op === 2) put(obj, pick(r, HOSTILE), randomValue(r));
  else if (op === 3 && key) put(obj, key, typeof obj[key] === "number" ? pick(r, NUMBERS) * (r() < 0.5 ? -1 : 1) : pick(r, NUMBERS));
  else if (op === 4 && key) put(obj, key, pick(r, HOSTILE));
  else if (op === 5 && key) {
    let deep: J = 1;
    for (let d = 0; d < 40 + Math.floor(r() * 60); d++) deep = [deep];
    put(obj, key, deep);
  } else if (key) put(obj, key, randomValue(r));
  return g;
}

/**
 * The fuzz cases, in order: `count` mutated graphs from one seeded stream, each as JSON text or
 * as a parsed value (half of each).
 */
export function* fuzzCases(count = 2000, seed = 0x6b696c6e): Generator<unknown> {
  const r = prng(seed);
  for (let i = 0; i < count; i++) {
    let g = structuredClone(pick(r, examples));
    const rounds = 1 + Math.floor(r() * 3);
    for (let k = 0; k < rounds; k++) g = mutate(g, r);
    yield r() < 0.5 ? JSON.stringify(g) : g;
  }
}

/** Pretty-printed JSON padded with indentation to about `bytes` long. */
export function padded(value: unknown, bytes = 10_000_000): string {
  const text = JSON.stringify(value, null, 2);
  const lines = text.split("\n").length;
  return text.replace(/\n/g, "\n" + " ".repeat(Math.max(0, Math.ceil((bytes - text.length) / lines))));
}

/** A chain of `n` dense layers on a [4] input, each naming its input explicitly. */
export function chain(n: number, nameWidth = 8): Record<string, unknown> {
  const name = (i: number) => `l${String(i).padStart(nameWidth, "0")}`;
  const layers = Array.from({ length: n }, (_, i) => ({ name: name(i), op: "dense", units: 4, inputs: [i === 0 ? "x" : name(i - 1)] }));
  return { format: "kiln.graph/v1", name: "big", inputs: [{ name: "x", shape: [4] }], layers };
}
