/**
 * Linear regression with kiln's public API: one dense unit without bias, MSE, plain SGD
 * (lr 0.01), full batch of four points. Prints the learned weights and the prediction for
 * [5, 10], which should be 15; writes the learning curve (train and held-out loss) as SVG.
 * Usage: node examples/linear-regression/run.mjs [--epochs 20] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseOptions } from "../shared/cli.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../shared/train.mjs";
import { heldOut, train } from "./data.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "linear-regression", description: "One dense unit learns y = x1 + x2 on four collinear points.",
  outDir: here, defaults: { epochs: 20 },
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 10);

const graph = JSON.parse(readFileSync(`${here}/graph.json`, "utf8"));
const { model } = await buildModel(graph, { seed: opts.seed, maxBatch: train.count, optimizeLevel: opts.optimize });
const before = model.evaluate({ x: train.x, y: train.y }).loss;
const { history } = await fitWithProgress(model, { x: train.x, y: train.y }, {
  count: train.count, epochs: opts.epochs, batchSize: train.count, shuffle: false,
  validationData: { x: heldOut.x, y: heldOut.y },
});

const kernel = model.getWeights()["linear/kernel"];
const prediction = model.predict({ x: heldOut.x }).linear[0];
console.log(`learned weights: w1 = ${kernel[0].toFixed(4)}, w2 = ${kernel[1].toFixed(4)} (any w1 + 2·w2 = 3 fits; here ${(kernel[0] + 2 * kernel[1]).toFixed(4)})`);
console.log(`prediction for [5, 10]: ${prediction.toFixed(4)} (target 15, |error| ${Math.abs(prediction - 15).toFixed(4)})`);

const svg = `${opts.out}/learning-curve.svg`;
writeLearningCurve(svg, history, { title: "Linear regression: MSE per epoch (held-out point [5, 10] as validation)" });
console.log(`wrote ${svg}`);
writeSummary(opts.summary, {
  example: "linear-regression", epochs: opts.epochs, history, lossBefore: before,
  weights: Array.from(kernel), prediction, withinTolerance: Math.abs(prediction - 15) <= 0.01,
});
