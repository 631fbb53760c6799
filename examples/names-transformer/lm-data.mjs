/**
 * Names as next-character training pairs, and the add-one-smoothed bigram baseline. Token 0 is
 * the boundary: a name "ann" becomes input [0, a, n, n, 0, …] and target [a, n, n, 0, 0, …]; the
 * positions after the end token are padding. Per-character NLL counts every character and the
 * end token (length + 1 predictions per name) for both models, so the two are comparable.
 */
import { ALPHABET, VOCAB } from "../shared/names.mjs";

export const LENGTH = 16;

export const ids = (name) => [...name].map((c) => ALPHABET.indexOf(c) + 1);

/** `{ tokens, next }` Int32Arrays [N·LENGTH] for the names (each at most LENGTH − 1 characters). */
export function encodePairs(names) {
  const tokens = new Int32Array(names.length * LENGTH), next = new Int32Array(names.length * LENGTH);
  names.forEach((name, r) => {
    const seq = ids(name);
    seq.forEach((id, t) => {
      next[r * LENGTH + t] = id;
      if (t + 1 < LENGTH) tokens[r * LENGTH + t + 1] = id;
    });
  });
  return { tokens, next };
}

/** The bigram model: P(b | a) = (count(a→b) + 1) / (count(a) + VOCAB), a = 0 at the start, b = 0 at the end. */
export function bigram(names) {
  const counts = Array.from({ length: VOCAB }, () => new Float64Array(VOCAB));
  for (const name of names) {
    const seq = [0, ...ids(name), 0];
    for (let i = 1; i < seq.length; i++) counts[seq[i - 1]][seq[i]] += 1;
  }
  return counts.map((row) => {
    const total = row.reduce((s, c) => s + c, 0);
    return Array.from(row, (c) => Math.log((c + 1) / (total + VOCAB)));
  });
}

/** Mean NLL per character (nats) of the bigram model on `names`. */
export function bigramNll(logp, names) {
  let nll = 0, n = 0;
  for (const name of names) {
    const seq = [0, ...ids(name), 0];
    for (let i = 1; i < seq.length; i++) (nll -= logp[seq[i - 1]][seq[i]], n++);
  }
  return nll / n;
}

/** Mean NLL per character of per-position logits [N, LENGTH, VOCAB] on `names` (padding left out). */
export function logitsNll(logits, names) {
  let nll = 0, n = 0;
  names.forEach((name, r) => {
    const seq = [...ids(name), 0];
    seq.forEach((target, t) => {
      const row = logits.subarray((r * LENGTH + t) * VOCAB, (r * LENGTH + t + 1) * VOCAB);
      nll += logSumExp(row) - row[target];
      n++;
    });
  });
  return nll / n;
}

export function logSumExp(row) {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
