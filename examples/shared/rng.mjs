/**
 * Seeded randomness and data splitting for the examples. Everything here is deterministic: the
 * same seed gives the same split and the same samples on every machine, so README numbers can be
 * reproduced with the command that produced them.
 */

/** mulberry32: a tiny 32-bit generator; plenty for shuffling and sampling (not for cryptography). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place. */
export function shuffle(items, random) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Stratified split: within each class, a seeded shuffle, then the first `trainFraction` (rounded)
 * go to train. Keeps the class balance of both parts equal to the whole's.
 */
export function stratifiedSplit(labels, trainFraction, seed) {
  const byClass = new Map();
  labels.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]));
  const random = rng(seed);
  const train = [], test = [];
  for (const key of [...byClass.keys()].sort()) {
    const rows = shuffle(byClass.get(key), random);
    const cut = Math.round(rows.length * trainFraction);
    train.push(...rows.slice(0, cut));
    test.push(...rows.slice(cut));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/** Draws an index from unnormalized weights. */
export function sampleIndex(weights, random) {
  let total = 0;
  for (const w of weights) total += w;
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return weights.length - 1;
}
