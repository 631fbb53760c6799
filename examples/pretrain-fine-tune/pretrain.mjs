/**
 * Pretraining of the GPT on the train emails' text, and the bigram baseline it is judged against.
 *
 * An "epoch" here is a pass over `windowsPerEpoch` language-model windows, a different slice of
 * a seeded permutation of all train windows each epoch (the full run sees new text every epoch,
 * as language-model pretraining does; the corpus has more windows than the run has time for).
 *
 * Learning rate: `learningRate` is a number (constant) or an in-module schedule (spec §4); run.mjs
 * passes warmup + cosine (model.mjs `warmupCosine`) unless `--lr-schedule constant`.
 */
import { takeRows } from "../shared/data.mjs";
import { rng, shuffle } from "../shared/rng.mjs";
import { lmGraph } from "./model.mjs";
import { buildModel } from "../shared/train.mjs";

/**
 * The interpolated bigram model, P(b | a) = λ·c(a,b)/c(a) + (1 − λ)·P₁(b), with the add-one
 * unigram P₁ (so no token has probability 0), counted on the train stream. λ is the best of a
 * grid on the held-out positions themselves, which favours the baseline.
 */
export function bigramBaseline(trainStream, evalPairs, vocab) {
  const unigram = new Float64Array(vocab).fill(1), from = new Float64Array(vocab);
  const pairs = new Map();
  for (let i = 0; i < trainStream.length; i++) unigram[trainStream[i]]++;
  for (let i = 1; i < trainStream.length; i++) {
    const key = trainStream[i - 1] * vocab + trainStream[i];
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
    from[trainStream[i - 1]]++;
  }
  const total = unigram.reduce((s, c) => s + c, 0);
  const nllAt = (lambda) => {
    let nll = 0;
    for (const [a, b] of evalPairs) {
      const p2 = from[a] ? (pairs.get(a * vocab + b) ?? 0) / from[a] : 0;
      nll -= Math.log(lambda * p2 + (1 - lambda) * (unigram[b] / total));
    }
    return nll / evalPairs.length;
  };
  let best = { lambda: 0, nll: nllAt(0) };
  for (const lambda of [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]) {
    const nll = nllAt(lambda);
    if (nll < best.nll) best = { lambda, nll };
  }
  return { ...best, unigramNll: nllAt(0) };
}

/** (previous token, next token) of every position of language-model windows. */
export function windowPairs({ tokens, next }) {
  return Array.from(tokens, (a, i) => [a, next[i]]);
}

/**
 * Pretrains the language model. `data` holds the train and held-out windows (`{ count, feeds }`);
 * returns the model, its history (loss and val_loss per epoch, perplexities) and timings.
 */
export async function pretrain({ config, data, seed, epochs, windowsPerEpoch, batchSize, learningRate, optimizeLevel, initialWeights, log = console.log }) {
  // With the decode program: the pretrained model generates text as it is (model.generate).
  const { model, compileMs } = await buildModel(lmGraph(config, { seed, learningRate }), { maxBatch: batchSize, optimizeLevel, decode: true });
  if (initialWeights) model.loadWeights(initialWeights);
  const { context } = config;
  const order = shuffle(Array.from({ length: data.train.count }, (_, i) => i), rng(seed));
  const history = { loss: [], val_loss: [], perplexity: [], val_perplexity: [], tokens: [], seconds: [] };
  const before = model.evaluate(data.heldOut.feeds, { batchSize }).loss;
  log(`pretraining: held-out loss before training ${before.toFixed(4)} nats/token (uniform would be ${Math.log(config.vocab).toFixed(4)})`);
  let seen = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    let rows = order.slice((epoch * windowsPerEpoch) % order.length).slice(0, windowsPerEpoch);
    if (rows.length < windowsPerEpoch) rows = rows.concat(order.slice(0, windowsPerEpoch - rows.length));
    const feeds = { tokens: takeRows(data.train.feeds.tokens, rows, context), next: takeRows(data.train.feeds.next, rows, context) };
    const started = performance.now();
    const { history: h } = await model.fit(feeds, { epochs: epoch + 1, initialEpoch: epoch, batchSize, shuffle: true });
    const seconds = (performance.now() - started) / 1000;
    const val = model.evaluate(data.heldOut.feeds, { batchSize }).loss;
    seen += rows.length * context;
    history.loss.push(h.loss.at(-1));
    history.val_loss.push(val);
    history.perplexity.push(Math.exp(h.loss.at(-1)));
    history.val_perplexity.push(Math.exp(val));
    history.tokens.push(seen);
    history.seconds.push(seconds);
    log(`pretrain epoch ${epoch + 1}/${epochs}  loss ${h.loss.at(-1).toFixed(4)}  held-out ${val.toFixed(4)} nats/token (perplexity ${Math.exp(val).toFixed(1)})  ${seconds.toFixed(1)} s  ${((rows.length * context) / seconds).toFixed(0)} tokens/s`);
  }
  return { model, history, lossBefore: before, compileMs };
}
