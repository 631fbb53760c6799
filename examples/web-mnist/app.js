/**
 * The demo page's main thread: starts the training worker and draws its loss and accuracy as the
 * batches arrive, loads the weights it sends into a model of its own, and predicts the digit on the
 * drawing pad as a person draws (mouse, pen or touch). `window.kilnDemo` exposes state and a few
 * hooks for the browser test.
 */
import { loadModel } from "./runtime/index.js";
import { drawChart, smooth } from "./charts.js";
import { toMnist } from "./digits.js";

const $ = (id) => document.getElementById(id);
const state = {
  ready: false, training: false, done: false, error: undefined,
  losses: [], accuracies: [], stepMs: [], weightsStep: -1, test: undefined,
  latencies: [], predictions: 0, probs: undefined,
  threads: 0, isolated: false, warnings: [], // how the worker trains (set when it is ready)
};
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const modelReady = loadModel(new URL("./build/mnist-cnn.wasm", import.meta.url));
let chartsDirty = true, predictDirty = false;

// ---- training: the worker does the work; this thread only records and draws ----

worker.onmessage = async ({ data }) => {
  if (data.type === "ready") {
    await modelReady;
    Object.assign(state, { threads: data.threads, isolated: data.isolated, warnings: data.warnings });
    showMode(data);
    state.ready = true;
    $("train").disabled = false;
    status(`Ready: ${data.train} training and ${data.test} test digits. Press Train, or draw a digit (the model is untrained yet).`);
  } else if (data.type === "batch") {
    state.losses.push(data.loss);
    state.accuracies.push(data.accuracy);
    state.stepMs.push(data.ms);
    chartsDirty = true;
    if (data.step % 10 === 0) status(`Training: step ${data.step}, loss ${data.loss.toFixed(3)}, ${data.ms.toFixed(0)} ms per batch (in a Web Worker, ${state.threads} thread${state.threads === 1 ? "" : "s"}).`);
  } else if (data.type === "weights") {
    (await modelReady).loadWeights(data.bytes);
    state.weightsStep = data.step;
    predictDirty = true;
  } else if (data.type === "done") {
    state.training = false;
    state.done = true;
    state.test = { loss: data.testLoss, accuracy: data.testAccuracy };
    $("train").disabled = false;
    $("stop").disabled = true;
    status(`${data.stopped ? "Stopped" : "Trained"} after ${data.step} steps: test accuracy ${(100 * data.testAccuracy).toFixed(1)}% on held-out digits. Draw one!`);
  } else if (data.type === "error") {
    fail(data.message);
  }
};
worker.onerror = (e) => fail(e.message || "the training worker failed to start");
modelReady.catch((e) => fail(e.message));

/** Which build trains: the threaded one on a pool of workers, or the single-threaded fallback. */
function showMode({ threads, isolated, warnings }) {
  const why = isolated ? "cross-origin isolated" : "not cross-origin isolated; start the server with --isolate for 2";
  $("mode").textContent = `Training on ${threads} thread${threads === 1 ? "" : "s"} (${why}).`;
  $("mode").title = warnings.join("\n");
}

function startTraining() {
  const steps = Math.max(1, Math.floor(Number($("steps").value)) || 1);
  const batchSize = Math.max(1, Math.floor(Number($("batch").value)) || 1);
  Object.assign(state, { training: true, done: false, test: undefined, losses: [], accuracies: [], stepMs: [] });
  $("train").disabled = true;
  $("stop").disabled = false;
  status(`Training ${steps} steps of ${batchSize} digits…`);
  worker.postMessage({ type: "train", steps, batchSize });
}

$("train").onclick = startTraining;
$("stop").onclick = () => worker.postMessage({ type: "stop" });

// The smoothing toggle is also how responsiveness is measured: from the click event to the frame
// after its redraw. With training in the worker this stays a few milliseconds.
$("smooth").onchange = (event) => {
  const t0 = event.timeStamp;
  drawCharts();
  requestAnimationFrame(() => setTimeout(() => {
    const ms = performance.now() - t0;
    state.latencies.push(ms);
    $("latency").textContent = `UI answered in ${ms.toFixed(0)} ms`;
  }));
};

function drawCharts() {
  chartsDirty = false;
  const on = $("smooth").checked;
  const loss = on ? smooth(state.losses) : state.losses;
  const acc = on ? smooth(state.accuracies) : state.accuracies;
  drawChart($("loss-chart"), { title: "training loss", series: [{ values: loss, color: "#c0392b" }] });
  drawChart($("acc-chart"), { title: "training accuracy", yMax: 1, series: [{ values: acc, color: "#2a7ab0" }] });
}

// ---- drawing pad and predictions ----

const pad = $("pad");
const pen = pad.getContext("2d", { willReadFrequently: true });
let last;
clearPad();

function clearPad() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  state.probs = undefined;
  predictDirty = true;
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

function strokeTo([x, y]) {
  pen.strokeStyle = "#fff";
  pen.lineWidth = 22;
  pen.lineCap = pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(...(last ?? [x, y]));
  pen.lineTo(x, y);
  pen.stroke();
  last = [x, y];
  predictDirty = true;
}

pad.addEventListener("pointerdown", (e) => {
  pad.setPointerCapture(e.pointerId);
  last = undefined;
  strokeTo(point(e));
});
pad.addEventListener("pointermove", (e) => {
  if (pad.hasPointerCapture(e.pointerId)) strokeTo(point(e));
});
pad.addEventListener("pointerup", () => (last = undefined));
$("clear").onclick = clearPad;

/** The pad's ink (red channel) as one value in [0, 1] per pixel. */
function padInk() {
  const { data } = pen.getImageData(0, 0, pad.width, pad.height);
  const ink = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4] / 255;
  return ink;
}

async function predict() {
  predictDirty = false;
  const model = await modelReady;
  const input = toMnist(padInk(), pad.width, pad.height);
  showPreview(input);
  if (!input) return showProbs(undefined);
  const probs = model.predict({ image: input }).probs;
  state.predictions++;
  showProbs(Array.from(probs));
}

function showPreview(input) {
  const ctx = $("preview").getContext("2d");
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = input ? Math.round(input[i] * 255) : 0;
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
}

function showProbs(probs) {
  state.probs = probs;
  const best = probs ? probs.indexOf(Math.max(...probs)) : -1;
  $("probs").replaceChildren(...Array.from({ length: 10 }, (_, d) => {
    const li = document.createElement("li");
    const p = probs ? probs[d] : 0;
    li.className = d === best ? "best" : "";
    li.innerHTML = `<b>${d}</b><span class="bar" style="width:${(100 * p).toFixed(1)}%"></span><span class="pct">${(100 * p).toFixed(1)}%</span>`;
    return li;
  }));
  $("verdict").textContent = probs ? `Looks like a ${best} (${(100 * probs[best]).toFixed(0)}%)${state.weightsStep < 0 ? " — untrained guess" : ""}` : "Draw a digit in the black box.";
}

// One redraw per frame at most, however many batches or pointer moves arrived.
function frame() {
  if (chartsDirty) drawCharts();
  if (predictDirty) predict().catch((e) => fail(e.message));
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
showProbs(undefined);

function status(text) {
  $("status").textContent = text;
}

function fail(message) {
  state.error = message;
  status(`Error: ${message}`);
}

// ---- hooks for the browser test ----

window.kilnDemo = {
  state,
  /** Paints 28×28 pixels (values in [0, 1]) onto the pad, `scale` canvas pixels each, at (x, y). */
  paintDigit(pixels, { scale = 8, x = 28, y = 28 } = {}) {
    clearPad();
    for (let i = 0; i < 784; i++) {
      if (pixels[i] <= 0) continue;
      const v = Math.round(pixels[i] * 255);
      pen.fillStyle = `rgb(${v},${v},${v})`;
      pen.fillRect(x + (i % 28) * scale, y + Math.floor(i / 28) * scale, scale, scale);
    }
    predictDirty = true;
  },
};
