/**
 * Worker thread hosting one ORT-web session with its own thread count. ORT-web fixes
 * `env.wasm.numThreads` when its wasm first loads (once per JavaScript realm), so the 2-thread
 * session cannot live next to the 1-thread one in the main thread; a worker is a separate realm.
 * Messages: { input: Float32Array, name, shape } (kept here) → "ready"; "run" → output; "release".
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-web";

ort.env.wasm.numThreads = workerData.threads;
ort.env.logLevel = "error";

try {
  const sess = await ort.InferenceSession.create(workerData.bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  let feed;
  parentPort.on("message", async (m) => {
    try {
      if (m.input) { feed = m; parentPort.postMessage({ ok: true }); return; }
      if (m === "release") { await sess.release(); parentPort.postMessage({ ok: true }); return; }
      // As on the main thread: the input is copied into ORT on every run, the output read back.
      const out = await sess.run({ [feed.name]: new ort.Tensor("float32", feed.input, feed.shape) });
      parentPort.postMessage({ ok: true, y: out.y.data });
    } catch (e) {
      parentPort.postMessage({ ok: false, error: e.message });
    }
  });
  parentPort.postMessage({ ok: true, threads: ort.env.wasm.numThreads });
} catch (e) {
  parentPort.postMessage({ ok: false, error: e.message });
}
