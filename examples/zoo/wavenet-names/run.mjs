/**
 * The zoo's WaveNet-style names classifier (examples/zoo/graphs/wavenet.json: causal dilated
 * conv1d stack with gated units) against the LSTM of examples/names-gender, on the same data
 * and the same seeded 80/20 split, trained one after the other in this process with the same
 * batch size, epochs and seed, so accuracy and training time compare on the same machine load.
 * Usage: node examples/zoo/wavenet-names/run.mjs [--seed 1] [--epochs 20] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { prepare } from "../../names-gender/prepare-data.mjs";
import { parseOptions } from "../../shared/cli.mjs";
import { loadData } from "../../shared/data.mjs";
import { writeLearningCurve } from "../../shared/plot.mjs";
import { writeSummary } from "../../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../../shared/train.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "wavenet-names", description: "Female or male first name? WaveNet-style causal conv1d stack vs the names-gender LSTM.", outDir: here, defaults: { epochs: 20 },
  extra: (p) => p.option("--batch-size <n>", "examples per step", Number, 32),
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 2);

/** Graph files, relative to the repository root. */
const MODELS = { wavenet: "examples/zoo/graphs/wavenet.json", lstm: "examples/names-gender/graph.json" };
const root = `${here}/../../..`;
const seed = opts.seed ?? 1;
const { files, majority } = prepare(opts.dataDir, seed, opts.quick ? 800 : Infinity);
const train = loadData(files.train), test = loadData(files.test);

const results = {};
for (const [name, path] of Object.entries(MODELS)) {
  const graph = JSON.parse(readFileSync(`${root}/${path}`, "utf8"));
  const { model, compileMs } = await buildModel(graph, { seed, maxBatch: Math.max(64, opts.batchSize), optimizeLevel: opts.optimize });
  const params = model.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
  const lossBefore = model.evaluate(train.feeds).loss;
  const { history, epochSeconds } = await fitWithProgress(model, train.feeds, {
    count: train.count, epochs: opts.epochs, batchSize: opts.batchSize, validationData: test.feeds, label: name,
  });
  const final = model.evaluate(test.feeds);
  const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
  console.log(`${name}: test accuracy ${(final.metrics.accuracy * 100).toFixed(2)}% on ${test.count} names, test loss ${final.loss.toFixed(4)}, ${params} parameters, training ${trainSeconds.toFixed(1)} s (${opts.epochs} epochs)`);
  writeLearningCurve(`${opts.out}/learning-curve-${name}.svg`, history, { title: `Names → gender (${name}): train vs test (validation) per epoch` });
  results[name] = { graph: path, params, compileSeconds: compileMs / 1000, lossBefore, history, epochSeconds, trainSeconds, testLoss: final.loss, testAccuracy: final.metrics.accuracy };
}
console.log(`majority class: ${(majority * 100).toFixed(1)}%; load average at the end ${loadavg()[0].toFixed(1)}`);
writeSummary(opts.summary, { example: "zoo/wavenet-names", seed, epochs: opts.epochs, batchSize: opts.batchSize, trainCount: train.count, testCount: test.count, majority, loadAverage: loadavg()[0], ...results, history: results.wavenet.history, lossBefore: results.wavenet.lossBefore });
