/**
 * Helpers for messages a person understands: the nearest valid name by edit distance ("did you
 * mean"), and a short, safe rendering of any value that came from a graph file.
 */

/** Levenshtein distance, O(a·b) with two rows; inputs here are short names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest candidate when it is plausibly a typo (distance ≤ max(2, len/3)), else undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 100) return undefined;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** `; did you mean "x"?` or "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const n = nearest(word, candidates);
  return n === undefined ? "" : `; did you mean "${n}"?`;
}

/** A value from a graph file as short JSON-like text (truncated; never throws). */
export function show(value: unknown, max = 60): string {
  let s: string;
  if (value === undefined) s = "nothing";
  else if (typeof value === "bigint") s = `${value}n`;
  else if (typeof value === "function" || typeof value === "symbol") s = `a ${typeof value}`;
  else if (typeof value === "number" && !Number.isFinite(value)) s = String(value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = Array.isArray(value) ? "an array" : "an object";
    }
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** "a string", "an array", "null", … for "got X (a string)" messages. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  const t = typeof value;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}
