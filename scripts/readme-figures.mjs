/**
 * `npm run readme-figures`: computes and prints every figure README.md and examples/*\/README.md
 * state that does not come from the bench (the bench's own figures are bench/results/), so that
 * anyone can check the READMEs against the tree they have.
 *
 * Always (about 40 s of CPU; 3 min 52 s of wall time at load average ~20 on 2 shared cores,
 * 2026-12-07, most of it the import-fine-tune quick run below): the runtime a predict-only page loads (scripts/runtime-size.mjs), the seed CNN's module sizes as `kiln compile` builds them, every
 * example graph's parameter count (`kiln check`), the memory the README's threads section quotes
 * (`manifest.memory.pages` at --max-batch 64, one and two threads), and the two cheap examples
 * (linear regression, iris) run in full into a temporary folder. The long examples' figures are
 * printed from their committed `results.json`, with the date and commit they were measured at.
 *
 * Also always: examples/import-fine-tune's `--quick` run (TF.js trains a small CNN first: about
 * 15 s of CPU, 1 min 45 s of wall time at load average 20 on the shared 2-core machine), whose
 * figure its README quotes. pretrain-fine-tune's figures also come from the side runs' files its
 * README names (results-constant-rate.json, results-pretrain-30-epochs.json,
 * results-finetune-from-30-epochs.json, generation-speed.json), read as committed.
 *
 * `--examples`: also runs every example in full mode (its own run.mjs, the options its README
 * names), one at a time, writing `results.json` and the learning curves into the example's
 * folder, each stamped with the date, commit and machine (`measured`); and the linear-regression
 * command-line walk-through (cli.sh). The long ones take minutes each; the slowest are
 * import-fine-tune (TF.js's 3 full epochs took 2,007 s at load average 22) and pretrain-fine-tune
 * (about 65 min at load 13–22: pretraining, then 27 fine-tuning runs). `--only a,b` limits
 * `--examples` to those examples.
 *
 * Needs `dist/` (the npm script builds it first).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const { values: args } = parseArgs({ options: { examples: { type: "boolean", default: false }, only: { type: "string" } } });
const only = args.only?.split(",").map((s) => s.trim()).filter(Boolean);

const { compile } = await import(new URL("dist/compiler/index.js", "file://" + ROOT).href);

/**
 * Each example as its README measures it: the run.mjs arguments of the README's "Measured with"
 * line (full mode), and `figures(summary)` → the lines the README states. `fromOutput(stdout)`:
 * figures the run prints but does not put in its summary, kept in `summary.measured`. `cheap`:
 * runs in seconds, so it is run (into a temporary folder) on every call. `quick(summary)`: the
 * figures the README quotes from the example's `--quick` run, which is run (into a temporary
 * folder) on every call too.
 */
const EXAMPLES = [
  { name: "linear-regression", cheap: true, args: [], figures: linearFigures },
  { name: "iris", cheap: true, args: ["--seeds", "1,2,3,4,5"], figures: irisFigures },
  { name: "mnist-cnn", args: ["--seeds", "1,2,3"], figures: mnistFigures },
  { name: "names-gender", args: [], figures: genderFigures, fromOutput: (o) => ({ pFemale: /P\(female\): (.*)/.exec(o)?.[1] }) },
  { name: "names-transformer", args: [], figures: transformerFigures, fromOutput: (o) => ({ heldOutNllByEpoch: [...o.matchAll(/held-out NLL\/char ([\d.]+)/g)].map((m) => Number(m[1])), samplesMarked: /sampled names[^\n]*\n\s*(.*)/.exec(o)?.[1] }) },
  { name: "fine-tune", args: [], figures: fineTuneFigures },
  { name: "zoo/unet-mnist", args: [], figures: unetFigures },
  { name: "zoo/wavenet-names", args: [], figures: wavenetNamesFigures },
  { name: "import-fine-tune", args: [], figures: importFineTuneFigures, quick: quickImportFineTuneFigures },
  { name: "pretrain-fine-tune", args: [], figures: pretrainFineTuneFigures },
];

const commit = git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--untracked-files=no") ? " (with uncommitted changes)" : "");
const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}`;

out(`readme-figures — ${today()}, commit ${commit}; ${machine}; load average ${loadavg()[0].toFixed(1)}`);
out();
out("README.md");
await runtimeSize();
await moduleSizes();
await parameterCounts();
await threadMemory();
out();

const tmp = mkdtempSync(tmpdir() + "/kiln-readme-figures-");
try {
  for (const e of EXAMPLES) {
    const dir = `examples/${e.name}`;
    const full = args.examples && (!only || only.includes(e.name));
    if (full || e.cheap) {
      // A full run writes into the example's folder; a cheap check run into a temporary one.
      const outDir = full ? ROOT + dir : `${tmp}/${e.name}`;
      const summaryPath = `${outDir}/results.json`;
      process.stderr.write(`[readme-figures] running ${dir}/run.mjs ${e.args.join(" ")} (full mode)…\n`);
      const started = performance.now();
      const stdout = runNode([`${dir}/run.mjs`, ...e.args, "--summary", summaryPath, "--out", outDir]);
      const seconds = (performance.now() - started) / 1000;
      const summary = JSON.parse(readFileSync(summaryPath, "utf8"));
      summary.measured = { date: today(), commit, machine, loadAverage: Number(loadavg()[0].toFixed(2)), seconds: Math.round(seconds), ...(e.fromOutput?.(stdout) ?? {}) };
      writeFileSync(summaryPath, JSON.stringify(summary, null, 2) + "\n");
      out(`${dir}/README.md — run now${full ? " (written to results.json)" : " (check run, not written)"}, ${today()}, commit ${commit}, ${seconds.toFixed(0)} s`);
      for (const line of e.figures(summary)) out("  " + line);
    } else {
      const summary = JSON.parse(readFileSync(ROOT + dir + "/results.json", "utf8"));
      const when = summary.measured ? `measured ${summary.measured.date}, commit ${summary.measured.commit}` : `date not recorded (results.json last committed ${git("log", "-1", "--format=%cs", "--", dir + "/results.json") || "never"})`;
      out(`${dir}/README.md — from results.json, ${when}; \`npm run readme-figures -- --examples --only ${e.name}\` re-measures it`);
      for (const line of e.figures(summary)) out("  " + line);
    }
    if (e.quick) {
      const quickDir = `${tmp}/${e.name}-quick`;
      process.stderr.write(`[readme-figures] running ${dir}/run.mjs --quick…\n`);
      const started = performance.now();
      runNode([`${dir}/run.mjs`, "--quick", "--summary", `${quickDir}/results.json`, "--out", quickDir, "--data-dir", `${quickDir}/data`]);
      out(`  --quick, run now (${((performance.now() - started) / 1000).toFixed(0)} s):`);
      for (const line of e.quick(JSON.parse(readFileSync(`${quickDir}/results.json`, "utf8")))) out("    " + line);
    }
    out();
  }
  if (args.examples && (!only || only.includes("linear-regression"))) {
    process.stderr.write("[readme-figures] running examples/linear-regression/cli.sh…\n");
    const cli = spawnSync("sh", ["examples/linear-regression/cli.sh", `${tmp}/cli`], { cwd: ROOT, encoding: "utf8" });
    if (cli.status !== 0) throw new Error(`cli.sh failed: ${cli.stderr}`);
    out(`examples/linear-regression/README.md — command line (cli.sh), ${today()}`);
    // `kiln train` prints Keras's progress: "Epoch k/N", then (piped) the epoch's closing line "1/1 ━━━━ 0s 2ms/step - loss: …".
    const lines = cli.stdout.trim().split("\n");
    lines.forEach((line, i) => {
      if (/^Epoch (1|2|3|20)\//.test(line)) out(`  ${line}  ${lines[i + 1] ?? ""}`);
      else if (/^saved|^\{/.test(line)) out("  " + line.replace(tmp, "<out>"));
    });
    out();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
out("examples/web-mnist/README.md: its accuracy (\"about 93% after 300 steps of 16\") and drawing latency are measured in Chromium by test/browser/web-mnist.test.ts, not here; its parameter count is the seed CNN's above.");

/** What a predict-only page loads of the runtime, against the target (scripts/runtime-size.mjs). */
async function runtimeSize() {
  const { measure, TARGET } = await import(new URL("scripts/runtime-size.mjs", "file://" + ROOT).href);
  const { predictOnly, full } = await measure();
  out(`  runtime, predict-only load (kiln/runtime/predict): ${predictOnly.bytes} B minified, ${predictOnly.gzipBytes} B gzipped (target ≤ ${TARGET.bytes} B, ≤ ${TARGET.gzipBytes} B: ${predictOnly.bytes <= TARGET.bytes && predictOnly.gzipBytes <= TARGET.gzipBytes ? "met" : "not met"})`);
  out(`  runtime, kiln/runtime (predicts, trains, saves) before its lazy chunks: ${full.bytes} B minified, ${full.gzipBytes} B gzipped`);
}

/** The seed CNN compiled as `kiln compile` does by default (--max-batch 64, -O0): training and inference-only modules. */
async function moduleSizes() {
  const graph = JSON.parse(readFileSync(ROOT + "examples/mnist-cnn/graph.json", "utf8"));
  const { training: _t, targets: _g, ...inferenceGraph } = graph;
  const train = (await compile(graph)).wasm.byteLength;
  const infer = (await compile(inferenceGraph)).wasm.byteLength;
  out(`  seed CNN module, kiln compile defaults (--max-batch 64, -O0): inference-only (graph without training/targets) ${bytes(infer)}, training ${bytes(train)}`);
}

/** `kiln check`'s "Total params" for every example graph (the README quotes the seed CNN's; example READMEs theirs). */
async function parameterCounts() {
  const graphs = ["mnist-cnn/graph.json", "fine-tune/graph-finetune.json", "iris/graph.json", "linear-regression/graph.json", "names-gender/graph.json", "names-transformer/graph.json"];
  const counts = graphs.map((g) => {
    const text = runNode(["bin/kiln.js", "check", `examples/${g}`]);
    const total = /Total params: ([\d,]+)/.exec(text)?.[1];
    const trainable = /Trainable params: ([\d,]+)/.exec(text)?.[1];
    if (!total) throw new Error(`kiln check examples/${g}: no "Total params" line in its output`);
    return `${g.replace("/graph.json", "")} ${total}${trainable !== total ? ` (${trainable} trainable)` : ""}`;
  });
  out(`  parameters (kiln check "Total params"): ${counts.join("; ")}`);
}

/** The README's threads section: planned memory at --max-batch 64, one thread and a 2-thread build. */
async function threadMemory() {
  const mb = (pages) => `${((pages * 65536) / 1e6).toFixed(1)} MB`;
  const parts = [];
  for (const [label, path] of [["seed CNN", "mnist-cnn"], ["names-transformer", "names-transformer"]]) {
    const graph = readFileSync(`${ROOT}examples/${path}/graph.json`, "utf8");
    const one = (await compile(graph)).manifest.memory.pages;
    const two = (await compile(graph, { threads: 2 })).manifest.memory.pages;
    parts.push(`${label} ${mb(two)} with --threads 2 instead of ${mb(one)} (${two} and ${one} pages)`);
  }
  out(`  memory at --max-batch 64 (manifest.memory.pages × 64 KiB, MB = 10^6 bytes): ${parts.join("; ")}`);
}

function linearFigures(s) {
  const mse = s.history.loss.map((l) => (l === 0 ? "0" : l >= 1e-3 ? l.toPrecision(3) : l.toExponential(1)));
  const firstZero = s.history.loss.findIndex((l) => l === 0);
  return [
    `learned weights: w1 = ${s.weights[0].toFixed(4)}, w2 = ${s.weights[1].toFixed(4)} (w1 + 2·w2 = ${(s.weights[0] + 2 * s.weights[1]).toFixed(4)})`,
    `prediction for [5, 10]: ${s.prediction.toFixed(4)} (|error| ${Math.abs(s.prediction - 15).toFixed(4)}; exactly 15 in float32: ${s.prediction === 15})`,
    `training MSE per epoch: ${mse.slice(0, 5).join(", ")}, …${firstZero >= 0 ? ` 0 from epoch ${firstZero + 1}` : ` last ${mse.at(-1)}`}`,
  ];
}

function irisFigures(s) {
  return [
    `test accuracy by seed: ${s.runs.map((r) => `${r.seed}: ${pct(r.testAccuracy)}`).join(", ")}; mean ${pct(s.meanTestAccuracy)}`,
  ];
}

function mnistFigures(s) {
  const lines = s.runs.map((r) => `seed ${r.seed}: test accuracy after epochs 1–${r.history.val_accuracy.length}: ${r.history.val_accuracy.map((a) => (a * 100).toFixed(2)).join(", ")} %; final ${pct(r.testAccuracy)}; epochs ${range(r.epochSeconds, 1)} s (${range(r.samplesPerSecond, 0)} samples/s)`);
  return [...lines, `mean final test accuracy ${pct(s.meanTestAccuracy)} (${s.train} training, ${s.test} test digits)`, loadLine(s)];
}

function genderFigures(s) {
  const acc = s.history.val_accuracy, loss = s.history.val_loss;
  const best = loss.indexOf(Math.min(...loss));
  const count = 6402; // the training names (README); samples/s from the summary's epoch times
  return [
    `test accuracy ${pct(s.testAccuracy)}, test loss ${s.testLoss.toFixed(3)} (majority class ${(s.majority * 100).toFixed(1)} %)`,
    `test accuracy after epochs 1, 8, 16, 20: ${[1, 8, 16, 20].map((e) => pct(acc[e - 1], 1)).join(", ")}; training accuracy at the end ${pct(s.history.accuracy.at(-1), 1)}; lowest test loss ${loss[best].toFixed(3)} at epoch ${best + 1}`,
    `P(female): ${s.measured?.pFemale ?? "(printed by the run, not recorded in this results.json; re-measure with --examples)"}`,
    `epochs ${range(s.epochSeconds, 1)} s (${range(s.epochSeconds.map((t) => count / t), 0)} samples/s)`,
    loadLine(s),
  ];
}

function unetFigures(s) {
  const acc = s.history.val_accuracy;
  return [
    `held-out IoU ${s.testIoU.toFixed(3)}, pixel accuracy ${pct(s.testPixelAccuracy)} on ${s.testCount} digits; baseline (pixel > ${s.baseline.threshold}): IoU ${s.baseline.iou.toFixed(3)}, pixel accuracy ${pct(s.baseline.pixelAccuracy)}`,
    `held-out pixel accuracy by epoch: ${acc.map((a) => pct(a)).join(", ")}; loss ${s.history.loss[0].toFixed(3)} → ${s.history.loss.at(-1).toFixed(4)}, held-out ${s.history.val_loss[0].toFixed(3)} → ${s.history.val_loss.at(-1).toFixed(4)}`,
    `training ${s.trainSeconds.toFixed(0)} s (${range(s.epochSeconds.map((t) => s.trainCount / t), 0)} samples/s), compile ${s.compileSeconds.toFixed(0)} s`,
    loadLine(s),
  ];
}

function wavenetNamesFigures(s) {
  return ["wavenet", "lstm"].map((m) => {
    const r = s[m], acc = r.history.val_accuracy, best = Math.max(...acc);
    return `${m}: test accuracy ${pct(r.testAccuracy)} (loss ${r.testLoss.toFixed(3)}), best ${pct(best)} at epoch ${acc.indexOf(best) + 1}, after 1/5/10/15/20: ${[1, 5, 10, 15, 20].map((e) => pct(acc[e - 1], 1)).join(" / ")}; training accuracy ${pct(r.history.accuracy.at(-1), 1)}; training ${r.trainSeconds.toFixed(1)} s (${range(r.epochSeconds, 1)} s per epoch); compile ${r.compileSeconds.toFixed(1)} s; ${r.params} parameters`;
  }).concat(loadLine(s));
}

function transformerFigures(s) {
  const byEpoch = s.measured?.heldOutNllByEpoch;
  const best = byEpoch?.length ? byEpoch.indexOf(Math.min(...byEpoch)) : -1;
  return [
    `held-out NLL per character: untrained ${s.heldOutNllBefore.toFixed(3)}, add-one bigram ${s.bigramNll.toFixed(3)}, Transformer after ${s.epochs} epochs ${s.heldOutNll.toFixed(3)} nats; better than the bigram by ${s.improvement.toFixed(3)}`,
    best >= 0 ? `held-out NLL after epoch 1 ${byEpoch[0].toFixed(3)}; best ${byEpoch[best].toFixed(3)} after epoch ${best + 1}` : "held-out NLL per epoch: printed by the run, not recorded in this results.json (re-measure with --examples)",
    `sampled names (seed ${s.seed}${s.measured?.samplesMarked ? "; * = in neither list" : ""}): ${s.measured?.samplesMarked ?? s.samples.join(", ")}`,
    `epochs ${range(s.epochSeconds, 1)} s (${range(s.epochSeconds.map((t) => 7580 / t), 0)} samples/s of 7,580 names)`,
    loadLine(s),
  ];
}

function fineTuneFigures(s) {
  const base = s.base.history.val_accuracy.at(-1);
  const by = (kind, shots) => s.results.find((r) => r.kind === kind && r.shots === shots);
  const shots = [...new Set(s.results.map((r) => r.shots))];
  return [
    `base model (digits 0–4, ${s.baseEpochs} epochs): test accuracy ${pct(base)}`,
    ...shots.map((n) => {
      const [t, f] = [by("fine-tuned", n), by("from scratch", n)];
      return `${n}/digit: fine-tuned ${pct(t.testAccuracy)}, ${t.secondsPerEpoch.toFixed(3)} s/epoch; from scratch ${pct(f.testAccuracy)}, ${f.secondsPerEpoch.toFixed(3)} s/epoch; difference ${((t.testAccuracy - f.testAccuracy) * 100).toFixed(2)} points; fine-tuning ${(f.secondsPerEpoch / t.secondsPerEpoch).toFixed(1)}× faster per epoch`;
    }),
    loadLine(s),
  ];
}

function importFineTuneFigures(s) {
  const i = s.import, by = (kind, shots) => s.results.find((r) => r.kind === kind && r.shots === shots);
  const tf = s.tfjsTraining;
  return [
    `import (seed ${s.seed}): TF.js ${pct(i.tfAccuracy)} on the ${i.count.toLocaleString("en-US")} test digits 0–4; kiln's import the same class for ${i.agree}/${i.count}, max |Δp| ${i.maxDiff.toExponential(2)}, ${pct(i.kilnAccuracy)}`,
    tf ? `TF.js training: ${tf.epochs} epochs on ${tf.trainCount.toLocaleString("en-US")} digits 0–4, ${Math.round(tf.seconds).toLocaleString("en-US")} s of wall time` : "TF.js training time: printed by prepare.mjs, not recorded in this results.json (re-measure with --examples, after removing data/model-seed7/)",
    ...[...new Set(s.results.map((r) => r.shots))].map((n) => {
      const [t, f] = [by("fine-tuned", n), by("from scratch", n)];
      return `${n} per digit (${n * 5} images), ${s.epochs} epochs: fine-tuned ${pct(t.testAccuracy)}, from scratch ${pct(f.testAccuracy)}, difference ${signed((t.testAccuracy - f.testAccuracy) * 100, 2)} points; backbone unchanged: ${t.backboneUnchanged}`;
    }),
    loadLine(s),
  ];
}

function quickImportFineTuneFigures(s) {
  const [t, f] = ["fine-tuned", "from scratch"].map((kind) => s.results.find((r) => r.kind === kind && r.shots === 5));
  return [`5 per digit: fine-tuned ${pct(t.testAccuracy)}, from scratch ${pct(f.testAccuracy)} (test digits 5–9, 20 of each in --quick)`];
}

/**
 * examples/pretrain-fine-tune/README.md: the default run's results.json, and the side runs' own
 * files the README names (results-constant-rate.json, results-pretrain-30-epochs.json,
 * results-finetune-from-30-epochs.json, generation-speed.json; read as committed, from the
 * commands the README gives for each). The 500-merge side run and the run's wall-clock time are
 * not recorded in any file.
 */
function pretrainFineTuneFigures(s) {
  const side = (name) => JSON.parse(readFileSync(`${ROOT}examples/pretrain-fine-tune/${name}`, "utf8"));
  const constant = side("results-constant-rate.json"), long = side("results-pretrain-30-epochs.json"), from30 = side("results-finetune-from-30-epochs.json"), speed = side("generation-speed.json");
  const d = s.data, h = s.pretraining.history, ctx = s.settings.model.context, n = (x) => x.toLocaleString("en-US");
  const bigram = s.bigram.nll;
  const lines = [
    `data: ${n(d.emails)} emails; train ${n(d.train)} (${n(d.spam.train)} spam), held-out ${n(d.heldOut)}, test ${n(d.test)} (${n(d.spam.test)} spam); ${n(d.merges)} merges, vocabulary ${n(d.vocabSize)} (BPE ${d.bpeSeconds.toFixed(1)} s; ${constant.data.bpeSeconds.toFixed(1)} s in the constant-rate run); ${d.charsPerToken.toFixed(2)} characters per token; ${n(d.pretrainTokens)} train tokens → ${n(Math.floor((d.pretrainTokens - 1) / ctx))} windows of ${ctx + 1}`,
    `parameters: ${n(s.parameters)}; learning rate: ${s.learningRate.schedule}, ${s.learningRate.warmup_steps} warmup + ${s.learningRate.decay_steps} decay steps`,
    `held-out before training: ${s.pretraining.heldOutLossBefore.toFixed(3)} nats/token (perplexity ${n(Math.round(Math.exp(s.pretraining.heldOutLossBefore)))})`,
    ...h.loss.map((l, e) => `epoch ${e + 1}: ${n(h.tokens[e])} tokens, train ${l.toFixed(3)}, held-out ${h.val_loss[e].toFixed(3)} (perplexity ${h.val_perplexity[e].toFixed(1)}), ${h.seconds[e].toFixed(1)} s, ${n(Math.round(s.settings.windowsPerEpoch * ctx / h.seconds[e]))} tokens/s`),
    `bigram (λ ${s.bigram.lambda}): ${bigram.toFixed(3)} nats/token (perplexity ${s.bigram.perplexity.toFixed(1)}), unigram ${s.bigram.unigramNll.toFixed(3)}; GPT ${s.pretraining.heldOutNll.toFixed(3)}: ${s.improvementNatsPerToken.toFixed(3)} nats/token better; held-out drops over the last three epochs ${h.val_loss.slice(-4).map((x, k, a) => (k ? (a[k - 1] - x).toFixed(3) : "")).filter(Boolean).join(", ")}`,
    `constant rate (results-constant-rate.json): held-out per epoch ${constant.pretraining.history.val_loss.map((x) => x.toFixed(3)).join(", ")}; ${(constant.pretraining.heldOutNll - bigram).toFixed(2)} worse than the bigram; the schedule is worth ${(constant.pretraining.heldOutNll - s.pretraining.heldOutNll).toFixed(2)} nats/token`,
  ];
  const lh = long.pretraining.history, firstBelow = lh.val_loss.findIndex((x) => x < bigram);
  const longSeconds = lh.seconds.reduce((a, b) => a + b, 0);
  lines.push(`30 epochs (results-pretrain-30-epochs.json): held-out after epochs 10, 15, ${firstBelow + 1} (first below the bigram), 20, 25, 30: ${[10, 15, firstBelow + 1, 20, 25, 30].map((e) => lh.val_loss[e - 1].toFixed(3)).join(", ")} (perplexity ${Math.exp(lh.val_loss.at(-1)).toFixed(1)}); ${(bigram - long.pretraining.heldOutNll).toFixed(3)} better than the bigram; ${n(Math.round(longSeconds))} s of training steps, ${n(Math.round(lh.tokens.at(-1) / longSeconds))} tokens/s`);
  for (const r of speed.rows) lines.push(`generation (generation-speed.json), ${r.positions} positions, ${r.weights} weights: ${Math.round(r.cachedTokensPerSecond)} tokens/s with the cache, ${r.uncachedTokensPerSecond.toFixed(1)} without, ${r.speedup.toFixed(1)}×; same tokens: ${r.identicalTokens ? "yes" : "no"}`);
  const tps = s.generation.samples.map((x) => x.tokensPerSecond);
  lines.push(`samples: ${s.generation.samples.map((x) => `${JSON.stringify(x.prompt)} (${x.tokens} tokens)`).join(", ")}; ${Math.round(Math.min(...tps))}–${Math.round(Math.max(...tps))} tokens/s`);
  lines.push(...fineTuneTable("warmup + cosine (results.json)", s), ...fineTuneTable("constant rate, 10 epochs (results-constant-rate.json)", constant), ...fineTuneTable("constant rate, 30 epochs (results-finetune-from-30-epochs.json)", from30));
  lines.push("not recorded in any file: the whole run's wall-clock time, the quick run's time, the 500-merge side run");
  return lines;
}

/** Mean over seeds per (labelled emails, variant): accuracy, F1 on spam, seconds per epoch; the per-seed accuracies; the gain over scratch. */
function fineTuneTable(label, s) {
  const runs = s.fineTuning.runs, sets = [...new Set(runs.map((r) => r.labelSet))];
  const mean = (set, variant, key) => {
    const xs = runs.filter((r) => r.labelSet === set && r.variant === variant).map((r) => r[key]);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  return [`fine-tuning, ${label}:`, ...sets.map((set) => {
    const cell = (v) => `${pct(mean(set, v, "accuracy"), 1)} (F1 ${pct(mean(set, v, "f1Spam"), 1)}, ${mean(set, v, "secondsPerEpoch").toFixed(2)} s/epoch)`;
    const perSeed = [...new Set(runs.map((r) => r.seed))].map((seed) => ["pretrained", "scratch", "frozen"].map((v) => (runs.find((r) => r.labelSet === set && r.seed === seed && r.variant === v).accuracy * 100).toFixed(1)).join("/")).join(", ");
    const gain = (k) => signed((mean(set, "pretrained", k) - mean(set, "scratch", k)) * 100, 1);
    const faster = (mean(set, "pretrained", "secondsPerEpoch") / mean(set, "frozen", "secondsPerEpoch")).toFixed(1);
    return `  ${set} labels: pretrained ${cell("pretrained")}; scratch ${cell("scratch")}; frozen ${cell("frozen")}, ${faster}× faster per epoch than fine-tuning all; pretrained vs scratch ${gain("accuracy")} points accuracy, ${gain("f1Spam")} F1; per seed (pretrained/scratch/frozen) ${perSeed}`;
  })];
}

function loadLine(s) {
  return s.measured ? `(load average ${s.measured.loadAverage} when the run ended, ${s.measured.seconds} s in all; ${s.measured.machine})` : "(machine load not recorded)";
}

/** Runs node with `argv` in the repository; its stdout (throws with its stderr's end on failure). */
function runNode(argv) {
  // The child's stderr (progress, warnings) goes straight to ours.
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`node ${argv.join(" ")} exited with ${r.status ?? r.signal}; its output ended: ${tailLines(r.stdout ?? "", 5).join("\n")}`);
  return r.stdout;
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function out(line = "") {
  console.log(line);
}

function git(...argv) {
  try {
    return execFileSync("git", argv, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

function tailLines(text, n) {
  return text.trim().split("\n").slice(-n);
}

function bytes(n) {
  return `${n.toLocaleString("en-US")} B (${(n / 1024).toFixed(1)} KB)`;
}

/** "+1.23" / "−0.62" (a minus sign, as the READMEs write it). */
function signed(v, digits) {
  return `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(digits)}`;
}

function pct(v, digits = 2) {
  return `${(v * 100).toFixed(digits)} %`;
}

/** "lo–hi" of a list at `digits` decimals (one figure when they round alike). */
function range(xs, digits) {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return lo.toFixed(digits) === hi.toFixed(digits) ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
}
