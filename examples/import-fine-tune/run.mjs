/**
 * Fine-tuning an imported TensorFlow.js model in kiln. 1) prepare.mjs trains a small CNN with
 * TF.js on MNIST digits 0–4 and saves it in TF.js's layers format (model.json + shard). 2) kiln
 * imports it (importModel), checks its predictions against TF.js's on the test digits, freezes the
 * convolutions (freezeUntil), cuts the graph after them (cutAt) and adds a new head for digits
 * 5–9. 3) The frozen backbone + new head is fine-tuned on a few labelled examples of each digit
 * 5–9; the same architecture, every layer trainable and freshly initialized, trains on the same
 * examples with the same settings and seed. Test accuracy on digits 5–9 is compared.
 * Usage: node examples/import-fine-tune/run.mjs [--seed 7] [--epochs 40] [--shots 5,20,50] [--quick] [--summary out.json]
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { cutAt, freezeUntil, importModel, readWeights } from "kiln";
import { loadModel } from "kiln/runtime";
import { intOption, parseOptions } from "../shared/cli.mjs";
import { mnistPart } from "../shared/mnist.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../shared/train.mjs";
import { downsample, prepareModel, SIDE } from "./prepare.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "import-fine-tune", description: "Import a TF.js CNN trained on digits 0–4, replace its head, fine-tune on digits 5–9.", outDir: here, defaults: { epochs: 40, seed: 7 },
  extra: (p) => p
    .option("--shots <list>", "labelled examples per digit 5–9 to compare", (v) => v.split(",").map(Number), [5, 20, 50])
    .option("--batch-size <n>", "examples per step when fine-tuning", intOption, 16),
});
if (opts.quick) Object.assign(opts, { epochs: Math.min(opts.epochs, 20), shots: [5] });
const seed = opts.seed;
const q = opts.quick ? "quick-" : "";
const BACKBONE_END = "flatten"; // the Keras name of the last layer kept (and frozen)

// 1) The TF.js model, trained and saved by prepare.mjs (once; reused while its folder exists).
const modelDir = `${opts.dataDir}/${q}model-seed${seed}`;
if (!existsSync(`${modelDir}/model.json`)) await prepareModel(modelDir, { quick: opts.quick, seed });
// How TF.js trained it (prepare.mjs writes this beside the model; a folder from before it did has none).
const tfjsTraining = existsSync(`${modelDir}/prepared.json`) ? JSON.parse(readFileSync(`${modelDir}/prepared.json`, "utf8")) : undefined;
const files = readTfjsModel(modelDir);

// 2) Import, check against TF.js, freeze and cut.
const full = await importModel(files);
for (const n of full.notes) console.log(`import note: ${n}`);
const input = full.graph.inputs[0].name;
const testLow = downsample(mnistPart("test", { digits: [0, 1, 2, 3, 4], perDigit: opts.quick ? 20 : Infinity }));
const check = await compareWithTfjs(full, files, testLow);
console.log(`imported ${full.graph.layers.length} layers; on ${testLow.count} test digits 0–4 kiln predicts as TF.js: max |Δp| ${check.maxDiff.toExponential(2)}, same class for ${check.agree}/${testLow.count}; accuracy ${(check.kilnAccuracy * 100).toFixed(2)} % (TF.js ${(check.tfAccuracy * 100).toFixed(2)} %)`);

const backbone = cutAt({ graph: freezeUntil(full.graph, BACKBONE_END), weights: full.weights }, BACKBONE_END);
for (const n of backbone.notes) console.log(`cut note: ${n}`);
const tuneGraph = withHead(backbone.graph, "import_fine_tune");
// From scratch: the very same graph with every layer trainable, initialized from the seed.
const scratchGraph = { ...withHead(backbone.graph, "import_scratch"), layers: tuneGraph.layers.map(({ trainable, ...layer }) => layer) };
const backboneWeights = readWeights(backbone.weights);

// 3) Fine-tuned vs from scratch at each number of labelled examples per digit.
const test = shifted(downsample(mnistPart("test", { digits: [5, 6, 7, 8, 9], perDigit: opts.quick ? 20 : Infinity })));
const { wasm: tunedWasm } = await buildModel(tuneGraph, { seed, optimizeLevel: opts.optimize });
const { wasm: scratchWasm } = await buildModel(scratchGraph, { seed, optimizeLevel: opts.optimize });
const results = [];
for (const shots of opts.shots) {
  const train = shifted(downsample(mnistPart("train", { digits: [5, 6, 7, 8, 9], perDigit: shots })));
  for (const [kind, wasm] of [["fine-tuned", tunedWasm], ["from scratch", scratchWasm]]) {
    const model = await loadModel(wasm);
    if (kind === "fine-tuned") model.setWeights(backboneWeights); // the new head keeps its seeded initial weights
    results.push(await trainAndTest(kind, model, train, shots));
    model.dispose();
  }
}
report(results);
writeSummary(opts.summary, { example: "import-fine-tune", seed, epochs: opts.epochs, import: check, tfjsTraining, results });

/** model.json and the shards its manifest names, as importModel takes them. */
function readTfjsModel(dir) {
  const text = readFileSync(`${dir}/model.json`, "utf8");
  const out = { "model.json": text };
  for (const group of JSON.parse(text).weightsManifest) for (const p of group.paths) out[p] = new Uint8Array(readFileSync(`${dir}/${p}`));
  return out;
}

/** kiln's predictions of the imported model against TF.js's own load of the same files. */
async function compareWithTfjs(imported, files, part) {
  const { model } = await buildModel(imported.graph, { seed, optimizeLevel: opts.optimize, quiet: true });
  model.setWeights(readWeights(imported.weights));
  const ours = model.predict({ [input]: part.image }, { batchSize: 64 })[imported.graph.outputs[0]];
  model.dispose();
  await tf.setBackend("cpu");
  const json = JSON.parse(files["model.json"]);
  const group = json.weightsManifest[0];
  const data = new Uint8Array(group.paths.reduce((n, p) => n + files[p].length, 0));
  group.paths.reduce((at, p) => (data.set(files[p], at), at + files[p].length), 0);
  const tfModel = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: data.buffer }));
  const theirs = tf.tidy(() => tfModel.predict(tf.tensor4d(part.image, [part.count, SIDE, SIDE, 1])).dataSync());
  let maxDiff = 0, agree = 0, kilnRight = 0, tfRight = 0;
  for (let n = 0; n < part.count; n++) {
    const a = ours.subarray(n * 5, n * 5 + 5), b = theirs.subarray(n * 5, n * 5 + 5);
    for (let k = 0; k < 5; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k] - b[k]));
    const ka = argmax(a), kb = argmax(b);
    agree += ka === kb ? 1 : 0;
    kilnRight += ka === part.label[n] ? 1 : 0;
    tfRight += kb === part.label[n] ? 1 : 0;
  }
  return { maxDiff, agree, count: part.count, kilnAccuracy: kilnRight / part.count, tfAccuracy: tfRight / part.count };
}

/** The cut backbone with a new head for five classes (digits 5–9 as 0–4). */
function withHead(graph, name) {
  return {
    ...graph, name, seed,
    layers: [
      ...graph.layers,
      { name: "new_features", op: "dense", units: 32, activation: "relu", inputs: [BACKBONE_END] },
      { name: "new_digits", op: "dense", units: 5, activation: "softmax", inputs: ["new_features"] },
    ],
    outputs: ["new_digits"],
    targets: [{ name: "label", shape: [], dtype: "int32" }],
    training: { loss: { type: "sparse_categorical_crossentropy", output: "new_digits", target: "label" }, optimizer: { type: "adam", learning_rate: 0.003 }, metrics: ["accuracy"] },
  };
}

async function trainAndTest(kind, model, train, shots) {
  console.log(`\n${kind}, ${shots} examples per digit (${train.count} images)`);
  const data = { [input]: train.image, label: train.label };
  const lossBefore = model.evaluate(data).loss;
  const run = await fitWithProgress(model, data, { count: train.count, epochs: opts.epochs, batchSize: opts.batchSize, label: kind });
  const final = model.evaluate({ [input]: test.image, label: test.label }, { batchSize: 64 });
  // Frozen means frozen: the imported convolutions end fine-tuning bit for bit as imported.
  const after = model.getWeights();
  const backboneUnchanged = kind === "fine-tuned" ? Object.entries(backboneWeights).every(([n, w]) => Buffer.from(after[n].buffer).equals(Buffer.from(w.buffer))) : undefined;
  return { kind, shots, lossBefore, history: run.history, testAccuracy: final.metrics.accuracy, testLoss: final.loss, backboneUnchanged };
}

function report(rows) {
  console.log(`\nexamples per digit | fine-tuned (frozen imported convs) | from scratch | difference (test digits 5–9, ${test.count} images)`);
  for (const shots of opts.shots) {
    const [t, s] = ["fine-tuned", "from scratch"].map((k) => rows.find((r) => r.kind === k && r.shots === shots));
    console.log(`${String(shots).padStart(18)} | ${(t.testAccuracy * 100).toFixed(2).padStart(32)} % | ${(s.testAccuracy * 100).toFixed(2).padStart(10)} % | ${((t.testAccuracy - s.testAccuracy) * 100).toFixed(2)} points`);
  }
}

/** Digits 5–9 relabelled 0–4 for the 5-way head. */
function shifted(part) {
  return { ...part, label: Int32Array.from(part.label, (l) => l - 5) };
}

function argmax(v) {
  let best = 0;
  for (let k = 1; k < v.length; k++) if (v[k] > v[best]) best = k;
  return best;
}
