/**
 * The examples' training driver: compile a graph with kiln's public API, load it with the
 * runtime, and run `model.fit` behind a cli-progress bar (on a terminal) plus one printed line
 * per epoch with its figures, its time and samples per second.
 */
import cliProgress from "cli-progress";
import { compile } from "kiln";
import { loadModel } from "kiln/runtime";

/** Compiles `graph` (an object; `seed` set when given) and loads the module; `decode`: with the decode program (generation). */
export async function buildModel(graph, { seed, maxBatch = 64, optimizeLevel = 3, quiet = false, decode = false } = {}) {
  const spec = seed === undefined ? graph : { ...graph, seed };
  const started = performance.now();
  // KILN_DEBUG=1: a debug build (every buffer guarded, checked after every kernel); the test
  // suite runs the examples' quick modes this way.
  const debug = process.env.KILN_DEBUG === "1";
  const { wasm, stats } = await compile(spec, { maxBatch, optimizeLevel, debug, decode });
  const ms = performance.now() - started;
  if (!quiet) console.log(`compiled ${spec.name}: ${(wasm.byteLength / 1024).toFixed(1)} KiB, ${stats.kernels} kernels, ${(ms / 1000).toFixed(1)} s (asc -O${optimizeLevel})`);
  return { model: await loadModel(wasm), wasm, compileMs: ms };
}

/**
 * `model.fit` with a progress bar. Returns `{ history, epochSeconds, evalSeconds, samplesPerSecond }`;
 * `onEpoch(epoch, logs)` may add figures to the printed line by returning a string.
 */
export async function fitWithProgress(model, data, { count, epochs, batchSize, validationData, shuffle = true, onEpoch, label = "train" }) {
  const steps = Math.ceil(count / batchSize);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: `${label} epoch {epoch}/${epochs} [{bar}] {value}/{total} steps | loss {loss} | {rate} samples/s`, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  // Seconds of training steps per epoch: from the epoch's start to its last batch, so the
  // validation pass after it is not counted (it is reported separately as evalSeconds).
  const epochSeconds = [], evalSeconds = [];
  let started = performance.now(), lastBatch = started;
  bar?.start(steps, 0, { epoch: 1, loss: "-", rate: "-" });
  const { history } = await model.fit(data, {
    epochs, batchSize, shuffle, validationData,
    onBatchEnd: (step, logs) => {
      const done = (step % steps) + 1;
      lastBatch = performance.now();
      const rate = (Math.min(done * batchSize, count) / ((performance.now() - started) / 1000)).toFixed(0);
      bar?.update(done, { loss: logs.loss.toFixed(4), rate });
    },
    onEpochEnd: async (epoch, logs) => {
      const secs = (lastBatch - started) / 1000;
      bar?.stop();
      epochSeconds.push(secs);
      evalSeconds.push((performance.now() - lastBatch) / 1000);
      const extra = (await onEpoch?.(epoch, logs)) ?? "";
      console.log(`${label} epoch ${epoch + 1}/${epochs}  ${formatLogs(logs)}${extra ? "  " + extra : ""}  ${secs.toFixed(secs < 10 ? 2 : 1)} s  ${(count / secs).toFixed(0)} samples/s`);
      started = performance.now();
      if (epoch + 1 < epochs) bar?.start(steps, 0, { epoch: epoch + 2, loss: "-", rate: "-" });
    },
  });
  return { history, epochSeconds, evalSeconds, samplesPerSecond: epochSeconds.map((s) => count / s) };
}

export const formatLogs = (logs) => Object.entries(logs).map(([k, v]) => `${k} ${v.toFixed(4)}`).join("  ");

/** Index of the largest value in each row of `probs` (`classes` per row). */
export function argmaxRows(probs, classes) {
  const out = new Int32Array(probs.length / classes);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[r * classes + c] > probs[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}
