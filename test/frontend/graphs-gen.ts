/**
 * Graphs for the front end's fuzz test and limits (shared with scripts/limits-check.mjs, which
 * times them): seeded mutations of the example graphs (the mutator is fuzz-graphs.ts), and big
 * well-formed graphs.
 */
import { examples, mutated, prng } from "./fuzz-graphs.js";

export { examples };

/**
 * The fuzz cases, in order: `count` mutated graphs from one seeded stream, each as JSON text or
 * as a parsed value (half of each).
 */
export function* fuzzCases(count = 2000, seed = 0x6b696c6e): Generator<unknown> {
  const r = prng(seed);
  for (let i = 0; i < count; i++) {
    const g = mutated(r, examples);
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
  return { format: "kiln.graph/v2", name: "big", inputs: [{ name: "x", shape: [4] }], layers };
}
