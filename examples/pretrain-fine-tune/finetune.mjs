/**
 * Fine-tuning the pretrained GPT to tell spam from ham, against the same architecture from
 * scratch and a frozen backbone (features + head only), for several label counts and seeds, on
 * the same test emails.
 *
 * The classifier graph (model.mjs) is the language model cut after its last block and final
 * layer norm, mean-pooled, with a 2-way head. Its backbone weights come from the pretrained
 * safetensors file by name: every tensor of the file whose name the classifier also has
 * (`tok/embeddings`, `b1_att/query/kernel`, …); the head and the optimizer state start fresh.
 */
import { readFileSync } from "node:fs";
import { loadModel } from "kiln/runtime";
import { readSafetensors } from "../../dist/runtime/safetensors.js";
import { takeRows } from "../shared/data.mjs";
import { rng, shuffle } from "../shared/rng.mjs";
import { buildModel } from "../shared/train.mjs";
import { classifierGraph } from "./model.mjs";

/** The F32 tensors of a safetensors file whose names `model` has (optimizer state left out). */
export function transferableWeights(bytes, model) {
  const file = readSafetensors(bytes);
  const wanted = new Set(model.weights.map((w) => w.name));
  const out = Object.create(null);
  for (const [name, t] of file.tensors) {
    if (!wanted.has(name) || t.dtype !== "F32") continue;
    out[name] = new Float32Array(t.data.slice().buffer);
  }
  return out;
}

/** The first `length` tokens of every row of `tokens` (rows of `context`). */
export function truncateRows(tokens, context, length) {
  const rows = tokens.length / context, out = new Int32Array(rows * length);
  for (let r = 0; r < rows; r++) out.set(tokens.subarray(r * context, r * context + length), r * length);
  return out;
}

/**
 * Accuracy, F1 on the spam class and balanced accuracy (mean of the per-class recalls: 0.5 for any
 * constant guess, so above 0.5 means the model tells the classes apart) of the head's logits.
 */
export function classificationScores(logits, labels) {
  let correct = 0, tp = 0, fp = 0, fn = 0;
  labels.forEach((y, i) => {
    const guess = logits[2 * i + 1] > logits[2 * i] ? 1 : 0;
    if (guess === y) correct++;
    if (guess === 1 && y === 1) tp++;
    if (guess === 1 && y === 0) fp++;
    if (guess === 0 && y === 1) fn++;
  });
  const spam = tp + fn, ham = labels.length - spam, tn = correct - tp;
  return {
    accuracy: correct / labels.length, f1Spam: tp ? (2 * tp) / (2 * tp + fp + fn) : 0,
    balancedAccuracy: ((spam ? tp / spam : 0) + (ham ? tn / ham : 0)) / 2,
  };
}

/**
 * Runs every (label count, seed, variant) and returns one row per run:
 * `{ labels, seed, variant, accuracy, f1Spam, secondsPerEpoch, epochs }`.
 * `plan` is `[{ labels: number | "all", epochs }]`.
 */
export async function fineTuneAll({ config, length, pretrainedBytes, train, test, plan, seeds, batchSize, learningRate, frozenLearningRate, optimizeLevel, log = console.log }) {
  const context = config.context;
  const testFeeds = { tokens: truncateRows(test.feeds.tokens, context, length), label: test.feeds.label };
  const rows = [];
  for (const seed of seeds) {
    // One compile per graph and seed (the seed sets initial weights and shuffling); each run
    // loads a fresh instance of it.
    const variants = [
      ["pretrained", classifierGraph(config, { seed, learningRate, length }), true],
      ["scratch", classifierGraph(config, { seed, learningRate, length }), false],
      ["frozen", classifierGraph(config, { seed, learningRate: frozenLearningRate, frozen: true, length }), true],
    ];
    const wasm = {};
    for (const [variant, graph] of variants) {
      if (variant === "scratch") wasm.scratch = wasm.pretrained; // same graph, same seed: same module
      else wasm[variant] = (await buildModel(graph, { maxBatch: Math.max(batchSize, 64), optimizeLevel, quiet: true })).wasm;
    }
    const order = shuffle(Array.from({ length: train.count }, (_, i) => i), rng(1000 + seed));
    for (const { labels, epochs } of plan) {
      const picked = labels === "all" ? order : order.slice(0, labels);
      const feeds = { tokens: truncateRows(takeRows(train.feeds.tokens, picked, context), context, length), label: takeRows(train.feeds.label, picked, 1) };
      for (const [variant, , usePretrained] of variants) {
        const model = await loadModel(wasm[variant]);
        if (usePretrained) model.setWeights(transferableWeights(pretrainedBytes, model));
        const started = performance.now(), epochSeconds = [];
        let last = started;
        await model.fit(feeds, {
          epochs, batchSize, shuffle: true,
          onEpochEnd: () => { const now = performance.now(); epochSeconds.push((now - last) / 1000); last = now; },
        });
        const scores = classificationScores(predictInBatches(model, testFeeds.tokens, length, 64), testFeeds.label);
        const sorted = [...epochSeconds].sort((a, b) => a - b);
        const row = { labels: labels === "all" ? train.count : labels, labelSet: String(labels), seed, variant, epochs, ...scores, secondsPerEpoch: sorted[Math.floor(sorted.length / 2)], spamInTrain: feeds.label.reduce((s, y) => s + y, 0) };
        rows.push(row);
        log(`fine-tune seed ${seed}, ${String(labels).padStart(4)} labels, ${variant.padEnd(10)}: accuracy ${(row.accuracy * 100).toFixed(1)}%, F1(spam) ${(row.f1Spam * 100).toFixed(1)}%, ${row.secondsPerEpoch.toFixed(2)} s/epoch (${epochs} epochs)`);
        model.dispose();
      }
    }
  }
  return rows;
}

/** The head's logits for every row, `batch` rows per predict. */
function predictInBatches(model, tokens, length, batch) {
  const rows = tokens.length / length, out = new Float32Array(rows * 2);
  for (let start = 0; start < rows; start += batch) {
    const end = Math.min(rows, start + batch);
    out.set(model.predict({ tokens: tokens.subarray(start * length, end * length) }).head, start * 2);
  }
  return out;
}

/** Mean of each (label count, variant) over seeds: `{ [labelSet]: { [variant]: { accuracy, f1Spam, secondsPerEpoch } } }`. */
export function summarize(rows) {
  const table = Object.create(null);
  for (const r of rows) {
    const cell = ((table[r.labelSet] ??= Object.create(null))[r.variant] ??= { accuracy: 0, f1Spam: 0, balancedAccuracy: 0, secondsPerEpoch: 0, runs: 0, labels: r.labels });
    cell.accuracy += r.accuracy;
    cell.f1Spam += r.f1Spam;
    cell.balancedAccuracy += r.balancedAccuracy;
    cell.secondsPerEpoch += r.secondsPerEpoch;
    cell.runs++;
  }
  for (const byVariant of Object.values(table)) {
    for (const cell of Object.values(byVariant)) for (const k of ["accuracy", "f1Spam", "balancedAccuracy", "secondsPerEpoch"]) cell[k] /= cell.runs;
  }
  return table;
}
