/**
 * Telling female from male first names with embedding → LSTM → dense sigmoid (binary
 * cross-entropy), on the @stdlib name lists, 80/20 stratified split. Prints test accuracy
 * against the majority-class baseline and the model's guesses for a few names.
 * Usage: node examples/names-gender/run.mjs [--seed 1] [--epochs 20] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseOptions } from "../shared/cli.mjs";
import { loadData } from "../shared/data.mjs";
import { encodeLeftPadded } from "../shared/names.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../shared/train.mjs";
import { LENGTH, prepare } from "./prepare-data.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "names-gender", description: "Female or male first name? Embedding, LSTM, sigmoid.", outDir: here, defaults: { epochs: 20 },
  extra: (p) => p.option("--batch-size <n>", "examples per step", Number, 32),
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 2);

const graph = JSON.parse(readFileSync(`${here}/graph.json`, "utf8"));
const seed = opts.seed ?? graph.seed;
const { files, majority } = prepare(opts.dataDir, seed, opts.quick ? 800 : Infinity);
const train = loadData(files.train), test = loadData(files.test);

const { model } = await buildModel(graph, { seed, maxBatch: Math.max(64, opts.batchSize), optimizeLevel: opts.optimize });
const lossBefore = model.evaluate(train.feeds).loss;
const { history, epochSeconds } = await fitWithProgress(model, train.feeds, {
  count: train.count, epochs: opts.epochs, batchSize: opts.batchSize, validationData: test.feeds,
});
const final = model.evaluate(test.feeds);
console.log(`test accuracy ${(final.metrics.accuracy * 100).toFixed(2)}% on ${test.count} names (majority class: ${(majority * 100).toFixed(1)}%), test loss ${final.loss.toFixed(4)}`);

const examples = ["emma", "oliver", "sophia", "liam", "mia", "noah", "charlotte", "james", "amelia", "lucas"];
const chars = new Int32Array(examples.flatMap((n) => [...encodeLeftPadded(n, LENGTH)]));
const probs = model.predict({ chars }).prob;
console.log("P(female): " + examples.map((n, i) => `${n} ${probs[i].toFixed(2)}`).join(", "));

const svg = `${opts.out}/learning-curve.svg`;
writeLearningCurve(svg, history, { title: "Names → gender (LSTM): train vs test (validation) per epoch" });
console.log(`wrote ${svg}`);
writeSummary(opts.summary, { example: "names-gender", seed, epochs: opts.epochs, history, epochSeconds, lossBefore, testLoss: final.loss, testAccuracy: final.metrics.accuracy, majority });
