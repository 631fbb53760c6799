/**
 * A small causal Transformer character language model on first names: token + position
 * embeddings, two post-norm blocks (causal multi-head attention, residual, layer norm, GELU
 * feed-forward), per-position logits, sparse cross-entropy from logits. Compares held-out NLL
 * per character with the add-one bigram model and samples 20 new names with a seeded sampler.
 * Usage: node examples/names-transformer/run.mjs [--seed 1] [--epochs 30] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseOptions, intOption } from "../shared/cli.mjs";
import { loadData } from "../shared/data.mjs";
import { VOCAB, decodeId } from "../shared/names.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { rng, sampleIndex } from "../shared/rng.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../shared/train.mjs";
import { LENGTH, bigram, bigramNll, logitsNll } from "./lm-data.mjs";
import { prepare } from "./prepare-data.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "names-transformer", description: "A causal Transformer character model of first names.", outDir: here, defaults: { epochs: 30 },
  extra: (p) => p.option("--batch-size <n>", "examples per step", intOption, 32).option("--samples <n>", "names to sample", intOption, 20),
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 2);

const graph = JSON.parse(readFileSync(`${here}/graph.json`, "utf8"));
const seed = opts.seed ?? graph.seed;
const { files, train: trainNames, heldOut, all } = prepare(opts.dataDir, seed, opts.quick ? 600 : Infinity);
const train = loadData(files.train), test = loadData(files.test);

const { model } = await buildModel(graph, { seed, maxBatch: Math.max(64, opts.batchSize), optimizeLevel: opts.optimize });
const nllOf = (names, feeds) => logitsNll(model.predict({ tokens: feeds.tokens }).logits, names);
const nllBefore = nllOf(heldOut, test.feeds);
const baseline = bigramNll(bigram(trainNames), heldOut);
const { history, epochSeconds } = await fitWithProgress(model, train.feeds, {
  count: train.count, epochs: opts.epochs, batchSize: opts.batchSize, validationData: test.feeds,
  onEpoch: () => `held-out NLL/char ${nllOf(heldOut, test.feeds).toFixed(4)} (bigram ${baseline.toFixed(4)})`,
});
const nll = nllOf(heldOut, test.feeds);
console.log(`held-out NLL per character: transformer ${nll.toFixed(4)} nats, add-one bigram ${baseline.toFixed(4)} nats; the transformer is ${(baseline - nll).toFixed(4)} nats/char better`);

const samples = sampleNames(opts.samples, rng(seed));
const known = new Set(all);
console.log(`${samples.length} sampled names (seed ${seed}; * = not in either list):`);
console.log("  " + samples.map((n) => (known.has(n) ? n : `${n}*`)).join(", "));

const svg = `${opts.out}/learning-curve.svg`;
writeLearningCurve(svg, history, { title: "Names Transformer LM: train vs held-out (validation) per epoch (padding positions included)" });
console.log(`wrote ${svg}`);
writeSummary(opts.summary, {
  example: "names-transformer", seed, epochs: opts.epochs, history, epochSeconds,
  heldOutNllBefore: nllBefore, heldOutNll: nll, bigramNll: baseline, improvement: baseline - nll, samples,
});

/** Samples `count` names at once: one predict per position, each next character drawn from the softmax. */
function sampleNames(count, random) {
  const tokens = new Int32Array(count * LENGTH);
  const done = new Array(count).fill(false), names = new Array(count).fill("");
  for (let t = 0; t < LENGTH - 1 && done.includes(false); t++) {
    const logits = model.predict({ tokens }).logits;
    for (let r = 0; r < count; r++) {
      if (done[r]) continue;
      const row = logits.subarray((r * LENGTH + t) * VOCAB, (r * LENGTH + t + 1) * VOCAB);
      const max = Math.max(...row);
      // No end token at the first position: an empty name is not a name.
      const id = sampleIndex(Array.from(row, (v, k) => (t === 0 && k === 0 ? 0 : Math.exp(v - max))), random);
      if (id === 0) done[r] = true;
      else (names[r] += decodeId(id), (tokens[r * LENGTH + t + 1] = id));
    }
  }
  return names;
}
