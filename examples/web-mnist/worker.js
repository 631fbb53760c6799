/**
 * The training worker: loads the threaded build of the CNN and the digits, trains with trainStep on
 * shuffled batches and posts each batch's loss and accuracy, and every few steps the weights
 * (safetensors bytes from saveWeights, transferred, not copied) so the page can predict with them.
 * Training here keeps the page's main thread free; in a cross-origin-isolated page the runtime
 * shares each step with THREADS − 1 more workers, elsewhere it runs the module's single-threaded build.
 */
import { loadModel } from "./runtime/index.js";
import { decodeDigits, feedsOf } from "./digits.js";

const WEIGHTS_EVERY = 25; // steps between weight updates sent to the page
const THREADS = 2; // what build/mnist-cnn.threads.wasm was compiled for (prepare.mjs)
let ready; // Promise of { model, digits }
let running = false, stopRequested = false;

self.onmessage = ({ data }) => {
  if (data.type === "stop") stopRequested = true;
  if (data.type === "train" && !running) train(data).catch((e) => post({ type: "error", message: String(e?.message ?? e) }));
};

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

async function setup() {
  const warnings = [];
  const [model, digits] = await Promise.all([
    loadThreaded(warnings),
    fetch(new URL("./build/mnist.bin", import.meta.url)).then((r) => {
      if (!r.ok) throw new Error(`build/mnist.bin: HTTP ${r.status}`);
      return r.arrayBuffer();
    }).then(decodeDigits),
  ]);
  // The runtime decides: shared memory here gives a pool of THREADS; otherwise it fell back.
  const threads = model.pool?.size ?? 1;
  post({ type: "ready", train: digits.train.count, test: digits.test.count, maxBatch: model.maxBatch, threads, isolated: self.crossOriginIsolated === true, warnings });
  return { model, digits };
}

/**
 * Always asks for THREADS: where shared memory is missing (no COOP/COEP headers) the runtime warns
 * once and runs the single-threaded build the file carries. The warning is also kept for the page.
 */
async function loadThreaded(warnings) {
  const warn = console.warn;
  console.warn = (...args) => {
    warnings.push(args.map(String).join(" "));
    warn.apply(console, args);
  };
  try {
    return await loadModel(new URL("./build/mnist-cnn.threads.wasm", import.meta.url), { threads: THREADS });
  } finally {
    console.warn = warn;
  }
}
ready = setup();
ready.catch((e) => post({ type: "error", message: String(e?.message ?? e) }));

/** Trains `steps` batches of `batchSize` (capped at the module's maxBatch), then measures test accuracy. */
async function train({ steps, batchSize, seed = 1 }) {
  running = true;
  stopRequested = false;
  const { model, digits } = await ready;
  const size = Math.max(1, Math.min(batchSize, model.maxBatch));
  const order = shuffled(digits.train.count, seed);
  let at = 0, step = 0;
  const sendWeights = () => {
    const bytes = model.saveWeights({ optimizer: false });
    post({ type: "weights", step, bytes }, [bytes.buffer]);
  };
  for (; step < steps && !stopRequested; ) {
    if (at + size > order.length) at = 0;
    const t0 = performance.now();
    const { loss, metrics } = model.trainStep(feedsOf(digits.train, Array.from(order.subarray(at, at + size))));
    at += size;
    step++;
    post({ type: "batch", step, loss, accuracy: metrics.accuracy, ms: performance.now() - t0 });
    if (step % WEIGHTS_EVERY === 0) sendWeights();
    if (step % 4 === 0) await new Promise((r) => setTimeout(r, 0)); // let a "stop" message in
  }
  sendWeights();
  const test = feedsOf(digits.test, Array.from({ length: digits.test.count }, (_, i) => i));
  const result = model.evaluate(test, { batchSize: model.maxBatch });
  running = false;
  post({ type: "done", step, stopped: stopRequested, testLoss: result.loss, testAccuracy: result.metrics.accuracy });
}

/** A seeded permutation of 0..n-1 (mulberry32 + Fisher-Yates), so runs are repeatable. */
function shuffled(n, seed) {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = new Uint32Array(n).map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
