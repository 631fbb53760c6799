/**
 * Writes the linear-regression data as safetensors data files for the `kiln` command line:
 * train.safetensors (x [4, 2], y [4, 1]) and predict.safetensors (x [1, 2] = [[5, 10]]).
 * Usage: node examples/linear-regression/prepare-data.mjs [folder]
 */
import { fileURLToPath } from "node:url";
import { saveData } from "../shared/data.mjs";
import { heldOut, train } from "./data.mjs";

export function prepare(dir) {
  saveData(`${dir}/train.safetensors`, { x: { shape: [train.count, 2], data: train.x }, y: { shape: [train.count, 1], data: train.y } });
  saveData(`${dir}/predict.safetensors`, { x: { shape: [heldOut.count, 2], data: heldOut.x } });
  console.log(`wrote ${dir}/train.safetensors and ${dir}/predict.safetensors`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  prepare(process.argv[2] ?? fileURLToPath(new URL("./data", import.meta.url)));
}
