/**
 * A small GPT pretrained on real email text (the Spam Assassin corpus), compared per token with
 * a bigram model on held-out emails, then fine-tuned to tell spam from ham. One command: prepare
 * the data (BPE, splits), pretrain (warmup + cosine), report loss and perplexity per epoch, write
 * the learning curve, generate text (key/value cache), fine-tune and print the table.
 * Usage: node examples/pretrain-fine-tune/run.mjs [--quick] [--seed 1] [--epochs n] [--summary results.json] [--out dir]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { intOption, parseOptions } from "../shared/cli.mjs";
import { loadData, takeRows } from "../shared/data.mjs";
import { writeLearningCurve } from "../shared/plot.mjs";
import { writeSummary } from "../shared/summary.mjs";
import { parameterCount, warmupCosine } from "./model.mjs";
import { fineTuneAll, summarize } from "./finetune.mjs";
import { generateText } from "./generate.mjs";
import { SETTINGS } from "./settings.mjs";
import { prepare } from "./prepare.mjs";
import { bigramBaseline, pretrain, windowPairs } from "./pretrain.mjs";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");

const opts = parseOptions({
  name: "pretrain-fine-tune", description: "A small GPT pretrained on the Spam Assassin emails.", outDir: here, defaults: { seed: 1 },
  extra: (p) => p.option("--windows <n>", "language-model windows per pretraining epoch", intOption)
    .option("--pretrain-only", "stop after pretraining and generation (no fine-tuning)", false)
    .option("--merges <n>", "BPE merges (vocabulary = 257 + merges)", intOption)
    .option("--lr-schedule <kind>", "pretraining learning rate: warmup-cosine (the default; in-module: 10% linear warmup from a tenth of the peak, cosine down to a tenth) or constant", "warmup-cosine")
    .option("--weights <file>", "start from these language-model weights (a gpt-lm.safetensors of the same settings); with --epochs 0, no pretraining"),
});
const settings = { ...SETTINGS[opts.quick ? "quick" : "full"] };
if (opts.epochs !== undefined) settings.epochs = opts.epochs;
if (opts.windows !== undefined) settings.windowsPerEpoch = opts.windows;
if (opts.merges !== undefined) settings.merges = opts.merges;
const seed = opts.seed;

// 1. Data: BPE on the train emails, windows, classification rows.
const prepared = prepare(opts.dataDir, { seed, merges: settings.merges, context: settings.model.context, limit: settings.emailLimit });
const config = { ...settings.model, vocab: prepared.tokenizer.vocabSize };
const lmTrain = loadData(prepared.files["lm-train"]);
const lmHeldOutAll = loadData(prepared.files["lm-heldout"]);
const evalRows = Array.from({ length: Math.min(settings.evalWindows, lmHeldOutAll.count) }, (_, i) => i);
const lmHeldOut = {
  count: evalRows.length,
  feeds: Object.fromEntries(Object.entries(lmHeldOutAll.feeds).map(([k, v]) => [k, takeRows(v, evalRows, config.context)])),
};

// 2. The baseline, on exactly the held-out positions the GPT is scored on.
const bigram = bigramBaseline(prepared.streams.train, windowPairs(lmHeldOut.feeds), config.vocab);
console.log(`bigram baseline (interpolated, λ ${bigram.lambda}): ${bigram.nll.toFixed(4)} nats/token on ${lmHeldOut.count * config.context} held-out tokens; unigram ${bigram.unigramNll.toFixed(4)}`);

// 3. Pretraining.
if (!["constant", "warmup-cosine"].includes(opts.lrSchedule)) throw new Error(`--lr-schedule: expected constant or warmup-cosine, got ${opts.lrSchedule}`);
const totalSteps = settings.epochs * Math.ceil(settings.windowsPerEpoch / settings.batchSize);
const learningRate = opts.lrSchedule === "constant" ? settings.learningRate : warmupCosine(settings.learningRate, Math.round(totalSteps / 10), totalSteps);
const lm = await pretrain({
  config, data: { train: lmTrain, heldOut: lmHeldOut }, seed, epochs: settings.epochs, windowsPerEpoch: settings.windowsPerEpoch,
  batchSize: settings.batchSize, learningRate, optimizeLevel: opts.optimize,
  initialWeights: opts.weights ? new Uint8Array(readFileSync(opts.weights)) : undefined,
});
const params = parameterCount(lm.model);
const finalNll = lm.history.val_loss.at(-1) ?? lm.lossBefore;
console.log(`GPT (${params} parameters): held-out ${finalNll.toFixed(4)} nats/token (perplexity ${Math.exp(finalNll).toFixed(1)}) vs bigram ${bigram.nll.toFixed(4)} (perplexity ${Math.exp(bigram.nll).toFixed(1)}): ${Math.abs(bigram.nll - finalNll).toFixed(4)} nats/token ${finalNll < bigram.nll ? "better" : "worse"} than the bigram`);
mkdirSync(opts.out, { recursive: true });
const pretrainedBytes = lm.model.saveWeights();
writeFileSync(`${opts.dataDir}/gpt-lm.safetensors`, pretrainedBytes);

const svg = `${opts.out}/learning-curve.svg`;
if (lm.history.loss.length) {
  writeLearningCurve(svg, lm.history, {
    title: `GPT pretraining on Spam Assassin emails: train vs held-out (validation) per epoch of ${settings.windowsPerEpoch} windows of ${config.context} tokens; bigram ${bigram.nll.toFixed(3)} nats/token`,
    panels: [{ key: "loss", label: "Loss" }, { key: "perplexity", label: "Perplexity" }],
  });
  console.log(`wrote ${svg}`);
}

// 4. Generation: the language model's module has a decode program (key/value cache), so the
// pretrained model generates as it is (model.generate).
const generator = lm.model;
const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95 };
const samples = [];
for (const [i, prompt] of ["Dear friend,", "I think the problem is", "Subject: "].entries()) {
  const out = generateText(generator, prepared.tokenizer, prompt, { maxTokens: opts.quick ? 16 : 80, ...SAMPLING, seed: seed + i });
  samples.push({ prompt, text: out.text, tokens: out.tokens, tokensPerSecond: out.tokensPerSecond });
  console.log(`generated ${out.tokens} tokens (${out.tokensPerSecond.toFixed(1)} tokens/s, key/value cache) after ${JSON.stringify(prompt)}:\n  ${JSON.stringify(out.text)}`);
}

// 5. Fine-tuning: pretrained vs scratch vs frozen backbone, per label count and seed.
const ft = settings.fineTune;
if (opts.pretrainOnly) {
  writeSummary(opts.summary, { example: "pretrain-fine-tune", date: new Date().toISOString().slice(0, 10), quick: !!opts.quick, seed, settings, data: prepared.stats, parameters: params, pretraining: { history: lm.history, heldOutLossBefore: lm.lossBefore, heldOutNll: finalNll }, bigram, samples });
  process.exit(0);
}
const clsTrain = loadData(prepared.files["cls-train"]), clsTest = loadData(prepared.files["cls-test"]);
const fineTuneRows = await fineTuneAll({
  config, length: ft.length, pretrainedBytes, train: clsTrain, test: clsTest, plan: ft.plan, seeds: ft.seeds,
  batchSize: ft.batchSize, learningRate: ft.learningRate, frozenLearningRate: ft.frozenLearningRate, optimizeLevel: opts.optimize,
});
const table = summarize(fineTuneRows);
const majority = 1 - clsTest.feeds.label.reduce((s, y) => s + y, 0) / clsTest.count;
printTable(table, majority);

writeSummary(opts.summary, {
  example: "pretrain-fine-tune", date: new Date().toISOString().slice(0, 10), quick: !!opts.quick, seed, settings: { ...settings, emailLimit: String(settings.emailLimit) },
  data: prepared.stats, parameters: params, learningRate,
  pretraining: {
    history: lm.history, heldOutLossBefore: lm.lossBefore, heldOutNll: finalNll, heldOutPerplexity: Math.exp(finalNll),
    heldOutTokens: lmHeldOut.count * config.context, compileSeconds: lm.compileMs / 1000,
  },
  bigram: { ...bigram, perplexity: Math.exp(bigram.nll) }, improvementNatsPerToken: bigram.nll - finalNll,
  generation: { kvCache: true, context: config.context, settings: SAMPLING, samples },
  fineTuning: { testEmails: clsTest.count, majorityAccuracy: majority, table, runs: fineTuneRows },
  history: lm.history,
});

/** The README's table: one row per label count; mean accuracy (and F1 on spam) over the seeds. */
function printTable(table, majority) {
  const cell = (c) => `${(c.accuracy * 100).toFixed(1)}% (F1 ${(c.f1Spam * 100).toFixed(1)}%)`;
  console.log(`\ntest accuracy on ${clsTest.count} test emails, mean of ${ft.seeds.length} seed(s) (always "ham": ${(majority * 100).toFixed(1)}%)`);
  console.log("| labelled emails | pretrained + fine-tuned | from scratch | frozen backbone |");
  console.log("|---|---|---|---|");
  for (const byVariant of Object.values(table)) {
    console.log(`| ${byVariant.pretrained.labels} | ${cell(byVariant.pretrained)} | ${cell(byVariant.scratch)} | ${cell(byVariant.frozen)} |`);
  }
  for (const byVariant of Object.values(table)) {
    const { pretrained, scratch, frozen } = byVariant;
    console.log(`${pretrained.labels} labels: s/epoch fine-tuned ${pretrained.secondsPerEpoch.toFixed(2)}, scratch ${scratch.secondsPerEpoch.toFixed(2)}, frozen backbone ${frozen.secondsPerEpoch.toFixed(2)} (${(pretrained.secondsPerEpoch / frozen.secondsPerEpoch).toFixed(2)}× faster than fine-tuning all)`);
  }
}
