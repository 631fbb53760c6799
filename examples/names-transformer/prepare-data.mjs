/**
 * Writes the names-transformer data files: every first name of both @stdlib lists (lowercased,
 * duplicates merged), a seeded 90/10 split, as next-character pairs (tokens [N, 16] I32 →
 * next [N, 16] I32; see lm-data.mjs). Also returns the name lists for the bigram baseline.
 * Usage: node examples/names-transformer/prepare-data.mjs [folder] [--seed n]
 */
import { fileURLToPath } from "node:url";
import { saveData } from "../shared/data.mjs";
import { loadNames } from "../shared/names.mjs";
import { rng, shuffle } from "../shared/rng.mjs";
import { LENGTH, encodePairs } from "./lm-data.mjs";

export function prepare(dir, seed = 1, limit = Infinity) {
  const { female, male, ambiguous } = loadNames();
  const all = shuffle([...female, ...male, ...ambiguous].sort(), rng(seed)).filter((n) => n.length < LENGTH);
  const cut = Math.round(all.length * 0.9);
  const train = all.slice(0, Math.min(cut, limit)), heldOut = all.slice(cut, cut + Math.min(all.length - cut, Math.ceil(limit / 5)));
  const files = { train: `${dir}/train.safetensors`, test: `${dir}/test.safetensors` };
  for (const [path, names] of [[files.train, train], [files.test, heldOut]]) {
    const { tokens, next } = encodePairs(names);
    saveData(path, { tokens: { shape: [names.length, LENGTH], data: tokens }, next: { shape: [names.length, LENGTH], data: next } });
  }
  console.log(`names: ${all.length}; wrote ${files.train} (${train.length}) and ${files.test} (${heldOut.length} held out)`);
  return { files, train, heldOut, all };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf("--seed");
  const dir = args.find((a, i) => !a.startsWith("--") && i !== seedAt + 1);
  prepare(dir ?? fileURLToPath(new URL("./data", import.meta.url)), seedAt >= 0 ? Number(args[seedAt + 1]) : 1);
}
