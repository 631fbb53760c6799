/**
 * Writes the names-gender data files: female and male first names from the @stdlib datasets
 * (names in both lists left out), lowercase characters to ids, left-padded to 15; a seeded
 * stratified 80/20 split. train/test.safetensors: chars [N, 15] I32, female [N, 1] F32 (1 = female).
 * Usage: node examples/names-gender/prepare-data.mjs [folder] [--seed n]
 */
import { fileURLToPath } from "node:url";
import { saveData } from "../shared/data.mjs";
import { encodeLeftPadded, loadNames } from "../shared/names.mjs";
import { stratifiedSplit } from "../shared/rng.mjs";

export const LENGTH = 15;

/** Writes both files into `dir`; `limit` keeps only that many of each part (quick runs). */
export function prepare(dir, seed = 1, limit = Infinity) {
  const { female, male, ambiguous } = loadNames();
  const names = [...female, ...male];
  const labels = names.map((_, i) => (i < female.length ? 1 : 0));
  const split = stratifiedSplit(labels, 0.8, seed);
  const part = (rows) => ({
    chars: { shape: [rows.length, LENGTH], data: concat(rows.map((i) => encodeLeftPadded(names[i], LENGTH))) },
    female: { shape: [rows.length, 1], data: Float32Array.from(rows, (i) => labels[i]) },
  });
  const pick = (rows) => (rows.length > limit ? rows.filter((_, k) => k % Math.ceil(rows.length / limit) === 0) : rows);
  const files = { train: `${dir}/train.safetensors`, test: `${dir}/test.safetensors` };
  const train = pick(split.train), test = pick(split.test);
  saveData(files.train, part(train));
  saveData(files.test, part(test));
  console.log(`names: ${female.length} female, ${male.length} male (${ambiguous.length} in both lists left out); wrote ${files.train} (${train.length}) and ${files.test} (${test.length})`);
  return { files, names, majority: Math.max(female.length, male.length) / names.length };
}

function concat(arrays) {
  const out = new Int32Array(arrays.reduce((s, a) => s + a.length, 0));
  let at = 0;
  for (const a of arrays) (out.set(a, at), (at += a.length));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf("--seed");
  const dir = args.find((a, i) => !a.startsWith("--") && i !== seedAt + 1);
  prepare(dir ?? fileURLToPath(new URL("./data", import.meta.url)), seedAt >= 0 ? Number(args[seedAt + 1]) : 1);
}
