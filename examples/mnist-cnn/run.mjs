/**
 * The Keras MNIST CNN of spec §1 trained with kiln on the 10,000 digits of the `mnist` package
 * (80/20 within each digit file): adam, sparse categorical cross-entropy, batch 32. Prints test
 * accuracy, time and samples/s after every epoch; with several seeds, the mean test accuracy.
 * Usage: node examples/mnist-cnn/run.mjs --seed 1     (or --seeds 1,2,3; --quick for a smoke run)
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseOptions } from "../shared/cli.mjs";
import { loadMnist } from "../shared/mnist.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../shared/train.mjs";
import { prepare } from "./prepare-data.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "mnist-cnn", description: "The Keras MNIST CNN trained on the mnist package's 10,000 digits.",
  outDir: here, defaults: { epochs: 5 },
  extra: (p) => p
    .option("--seeds <list>", "comma-separated seeds to train one after another (reports the mean)", (v) => v.split(",").map(Number))
    .option("--batch-size <n>", "examples per step", Number, 32),
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 2);

const graph = JSON.parse(readFileSync(`${here}/graph.json`, "utf8"));
const seeds = opts.seeds ?? [opts.seed ?? graph.seed];
const files = { train: `${opts.dataDir}/${opts.quick ? "quick-" : ""}train.safetensors`, test: `${opts.dataDir}/${opts.quick ? "quick-" : ""}test.safetensors` };
if (!existsSync(files.train) || !existsSync(files.test)) prepare(opts.dataDir, opts.quick);
const train = loadMnist(files.train), test = loadMnist(files.test);
console.log(`data: ${train.count} training digits, ${test.count} test digits`);

const runs = [];
for (const seed of seeds) runs.push(await trainSeed(seed));
const mean = runs.reduce((s, r) => s + r.testAccuracy, 0) / runs.length;
if (runs.length > 1) console.log(`mean test accuracy over seeds ${seeds.join(", ")}: ${(mean * 100).toFixed(2)}%`);
writeSummary(opts.summary, { example: "mnist-cnn", epochs: opts.epochs, train: train.count, test: test.count, runs, meanTestAccuracy: mean });

async function trainSeed(seed) {
  console.log(`\nseed ${seed}`);
  const { model } = await buildModel(graph, { seed, maxBatch: Math.max(64, opts.batchSize), optimizeLevel: opts.optimize });
  const lossBefore = model.evaluate({ image: train.image, label: train.label }, { batchSize: 64 }).loss;
  const { history, epochSeconds, samplesPerSecond } = await fitWithProgress(model, { image: train.image, label: train.label }, {
    count: train.count, epochs: opts.epochs, batchSize: opts.batchSize,
    validationData: { image: test.image, label: test.label },
    onEpoch: (_e, logs) => `test accuracy ${(logs.val_accuracy * 100).toFixed(2)}%`,
  });
  const final = model.evaluate({ image: test.image, label: test.label }, { batchSize: 64 });
  console.log(`seed ${seed}: test accuracy ${(final.metrics.accuracy * 100).toFixed(2)}%, test loss ${final.loss.toFixed(4)}`);
  const svg = `${opts.out}/learning-curve${seeds.length > 1 ? `-seed${seed}` : ""}.svg`;
  writeLearningCurve(svg, history, { title: `MNIST CNN, seed ${seed}: train vs test (validation) per epoch` });
  console.log(`wrote ${svg}`);
  model.dispose();
  return { seed, history, epochSeconds, samplesPerSecond, lossBefore, testLoss: final.loss, testAccuracy: final.metrics.accuracy };
}
