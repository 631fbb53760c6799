/**
 * Data files for the examples: safetensors as spec §5 describes them (one tensor per graph input
 * or target, batch axis first). The writer is kiln's own, from the built runtime (the package's
 * `kiln/runtime` entry exposes only the model API).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { readDataFile, writeDataFile } from "../../dist/runtime/safetensors.js";

/** Writes `{ name: { shape, data } }` tensors to `path`, creating its folder. */
export function saveData(path, tensors) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, writeDataFile(tensors));
}

/** Reads a data file back as feeds `{ name: Float32Array | Int32Array }` plus the example count. */
export function loadData(path) {
  const file = readDataFile(new Uint8Array(readFileSync(path)));
  const feeds = {};
  let count = 0;
  for (const [name, t] of file.tensors) {
    feeds[name] = t.data;
    count = t.shape[0];
  }
  return { feeds, count };
}

/** Rows `rows` of a flat per-example array (`per` values per example), in that order. */
export function takeRows(data, rows, per) {
  const out = new data.constructor(rows.length * per);
  rows.forEach((r, i) => out.set(data.subarray(r * per, (r + 1) * per), i * per));
  return out;
}
