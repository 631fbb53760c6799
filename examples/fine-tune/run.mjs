/**
 * Transfer learning with frozen layers. 1) Train the MNIST CNN (../mnist-cnn/graph.json) on
 * digits 0–4. 2) Copy its conv weights into graph-finetune.json, whose conv layers are
 * `trainable: false` and whose dense head is new (5 classes: digits 5–9), and train on a few
 * examples of each digit 5–9. 3) Train the same architecture with every layer trainable, from
 * fresh weights, on the same examples with the same schedule. Compared at 5 and 50 per digit:
 * test accuracy on digits 5–9 and seconds per epoch (the frozen model's backward pass stops
 * at the head, so its epochs should be much faster).
 * Usage: node examples/fine-tune/run.mjs [--seed 7] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadModel } from "kiln/runtime";
import { intOption, parseOptions } from "../shared/cli.mjs";
import { mnistFile } from "../shared/mnist.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../shared/train.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "fine-tune", description: "Fine-tune frozen conv layers trained on digits 0–4 to digits 5–9.", outDir: here, defaults: { epochs: 40 },
  extra: (p) => p
    .option("--base-epochs <n>", "epochs of the base model on digits 0–4", intOption, 3)
    .option("--shots <list>", "examples per digit to compare", (v) => v.split(",").map(Number), [5, 50])
    .option("--batch-size <n>", "examples per step when fine-tuning", intOption, 16),
});
if (opts.quick) Object.assign(opts, { epochs: Math.min(opts.epochs, 3), baseEpochs: 1, shots: [5] });

const baseGraph = JSON.parse(readFileSync(`${here}/../mnist-cnn/graph.json`, "utf8"));
const tuneGraph = JSON.parse(readFileSync(`${here}/graph-finetune.json`, "utf8"));
// From scratch: the very same graph with every layer trainable.
const scratchGraph = { ...tuneGraph, name: "mnist_scratch", layers: tuneGraph.layers.map(({ trainable, ...layer }) => layer) };
const seed = opts.seed ?? tuneGraph.seed;
const q = opts.quick ? "quick-" : "";
const low = [0, 1, 2, 3, 4], high = [5, 6, 7, 8, 9];

// 1) The base model on digits 0–4.
const baseTrain = mnistFile(`${opts.dataDir}/${q}train-0-4.safetensors`, "train", { digits: low, perDigit: opts.quick ? 60 : Infinity });
const baseTest = mnistFile(`${opts.dataDir}/${q}test-0-4.safetensors`, "test", { digits: low, perDigit: opts.quick ? 20 : Infinity });
console.log(`base: ${baseTrain.count} training digits 0–4, ${baseTest.count} test`);
const { model: base } = await buildModel(baseGraph, { seed, optimizeLevel: opts.optimize });
const baseRun = await fitWithProgress(base, pick(baseTrain), { count: baseTrain.count, epochs: opts.baseEpochs, batchSize: 32, validationData: pick(baseTest), label: "base" });
writeLearningCurve(`${opts.out}/learning-curve-base.svg`, baseRun.history, { title: "Base CNN on digits 0–4: train vs test (validation)" });
const convWeights = Object.fromEntries(Object.entries(base.getWeights()).filter(([name]) => name.startsWith("conv")));
base.dispose();

// 2) and 3) for each number of examples per digit.
const test = shifted(mnistFile(`${opts.dataDir}/${q}test-5-9.safetensors`, "test", { digits: high, perDigit: opts.quick ? 20 : Infinity }));
// Compile each graph once; every run loads a fresh instance (initial weights, zero optimizer state).
const { wasm: tunedWasm } = await buildModel(tuneGraph, { seed, optimizeLevel: opts.optimize });
const { wasm: scratchWasm } = await buildModel(scratchGraph, { seed, optimizeLevel: opts.optimize });
const results = [];
for (const shots of opts.shots) {
  const train = shifted(mnistFile(`${opts.dataDir}/train-5-9-${shots}.safetensors`, "train", { digits: high, perDigit: shots }));
  for (const [kind, wasm] of [["fine-tuned", tunedWasm], ["from scratch", scratchWasm]]) {
    const model = await loadModel(wasm);
    if (kind === "fine-tuned") model.setWeights(convWeights);
    results.push(await trainAndTest(kind, model, train, shots));
    model.dispose();
  }
}
report(results);
writeSummary(opts.summary, { example: "fine-tune", seed, epochs: opts.epochs, baseEpochs: opts.baseEpochs, base: { history: baseRun.history, epochSeconds: baseRun.epochSeconds }, results });

async function trainAndTest(kind, model, train, shots) {
  console.log(`\n${kind}, ${shots} examples per digit (${train.count} images)`);
  const lossBefore = model.evaluate(pick(train)).loss;
  const run = await fitWithProgress(model, pick(train), {
    count: train.count, epochs: opts.epochs, batchSize: opts.batchSize, validationData: pick(test), label: kind,
  });
  const final = model.evaluate(pick(test), { batchSize: 64 });
  const slug = `${kind === "fine-tuned" ? "finetune" : "scratch"}-${shots}`;
  writeLearningCurve(`${opts.out}/learning-curve-${slug}.svg`, run.history, { title: `${kind}, ${shots} per digit: train vs test digits 5–9 (validation)` });
  // The first epoch includes V8 warming up the kernels; the median epoch is the fair figure.
  const sorted = [...run.epochSeconds].sort((a, b) => a - b);
  return { kind, shots, lossBefore, history: run.history, testAccuracy: final.metrics.accuracy, testLoss: final.loss, secondsPerEpoch: sorted[Math.floor(sorted.length / 2)] };
}

function report(rows) {
  console.log("\nexamples/digit  model          test acc (5–9)  s/epoch");
  for (const r of rows) console.log(`${String(r.shots).padStart(14)}  ${r.kind.padEnd(13)}  ${(r.testAccuracy * 100).toFixed(2).padStart(13)}%  ${r.secondsPerEpoch.toFixed(3)}`);
  for (const shots of opts.shots) {
    const [t, s] = ["fine-tuned", "from scratch"].map((k) => rows.find((r) => r.kind === k && r.shots === shots));
    console.log(`${shots}/digit: fine-tuned − scratch = ${((t.testAccuracy - s.testAccuracy) * 100).toFixed(2)} points; fine-tuning is ${(s.secondsPerEpoch / t.secondsPerEpoch).toFixed(2)}× faster per epoch`);
  }
}

/** Digits 5–9 relabelled 0–4 for the 5-way head. */
function shifted(part) {
  return { ...part, label: part.label.map((l) => l - 5) };
}

/** The feeds of a part (without its count). */
function pick({ image, label }) {
  return { image, label };
}
