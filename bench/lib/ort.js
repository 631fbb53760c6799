/**
 * ONNX Runtime Web peer (wasm, inference only; one thread: ort-session.js, more in a worker: threadedSession). ONNX models are built here with
 * onnx-proto from the same graph JSON and kiln's weights: NHWC input transposed to NCHW for
 * Conv/MaxPool (conv kernels [kh,kw,C,F] → [F,C,kh,kw]) and back before Flatten, so Flatten and
 * Gemm see the same element order as kiln and the same weights give the same outputs.
 */
import onnxPkg from "onnx-proto";

export { ort, session, run } from "./ort-session.js";

const { onnx } = onnxPkg;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

const valueInfo = (name, dims) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } } });
const initializer = (name, dims, data) => ({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });

/** [kh, kw, C, F] (Keras) → [F, C, kh, kw] (ONNX). */
function toOihw(w, [kh, kw, c, f]) {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < c; i++) for (let o = 0; o < f; o++) {
    out[((o * c + i) * kh + y) * kw + x] = w[((y * kw + x) * c + i) * f + o];
  }
  return out;
}

/** ONNX model bytes for a sequential conv2d/max_pooling2d/flatten/dense graph with kiln's weights. */
export function buildOnnx(graph, weights) {
  const input = graph.inputs[0];
  const nodes = [], inits = [];
  let cur = input.name, layout = "nhwc", n = 0, shape = input.shape.slice();
  const next = () => `t${n++}`;
  const add = (opType, inputs, attribute = []) => { const out = next(); nodes.push({ opType, input: inputs, output: [out], attribute }); cur = out; };
  const ints = (name, v) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name, v) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  const toLayout = (want) => {
    if (layout === want || shape.length !== 3) return;
    add("Transpose", [cur], [ints("perm", want === "nchw" ? [0, 3, 1, 2] : [0, 2, 3, 1])]);
    layout = want;
  };
  const activation = (a) => {
    if (!a || a === "linear") return;
    if (a === "relu") add("Relu", [cur]);
    else if (a === "softmax") add("Softmax", [cur], [int("axis", -1)]);
    else if (a === "sigmoid") add("Sigmoid", [cur]);
    else throw new Error(`buildOnnx: activation ${a}`);
  };
  for (const l of graph.layers) {
    if (l.op === "conv2d") {
      toLayout("nchw");
      const k = typeof l.kernel_size === "number" ? [l.kernel_size, l.kernel_size] : l.kernel_size;
      const dims = [k[0], k[1], shape[2], l.filters];
      inits.push(initializer(`${l.name}_w`, [l.filters, shape[2], k[0], k[1]], toOihw(weights[`${l.name}/kernel`], dims)));
      const ins = [cur, `${l.name}_w`];
      if (l.use_bias !== false) { inits.push(initializer(`${l.name}_b`, [l.filters], weights[`${l.name}/bias`])); ins.push(`${l.name}_b`); }
      add("Conv", ins, [ints("kernel_shape", k)]);
      shape = [shape[0] - k[0] + 1, shape[1] - k[1] + 1, l.filters];
      activation(l.activation);
    } else if (l.op === "max_pooling2d") {
      toLayout("nchw");
      const p = l.pool_size ?? 2;
      add("MaxPool", [cur], [ints("kernel_shape", [p, p]), ints("strides", [p, p])]);
      shape = [Math.floor(shape[0] / p), Math.floor(shape[1] / p), shape[2]];
    } else if (l.op === "flatten") {
      toLayout("nhwc");
      add("Flatten", [cur], [int("axis", 1)]);
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else if (l.op === "dense") {
      const d = shape[shape.length - 1];
      inits.push(initializer(`${l.name}_w`, [d, l.units], weights[`${l.name}/kernel`]));
      if (l.use_bias === false) add("MatMul", [cur, `${l.name}_w`]);
      else { inits.push(initializer(`${l.name}_b`, [l.units], weights[`${l.name}/bias`])); add("Gemm", [cur, `${l.name}_w`, `${l.name}_b`]); }
      shape = [...shape.slice(0, -1), l.units];
      activation(l.activation);
    } else {
      throw new Error(`buildOnnx: op ${l.op}`);
    }
  }
  nodes[nodes.length - 1].output = ["y"];
  const model = onnx.ModelProto.create({
    irVersion: 7, producerName: "kiln-bench", opsetImport: [{ domain: "", version: 13 }],
    graph: { name: "bench", node: nodes, initializer: inits, input: [valueInfo(input.name, ["N", ...input.shape])], output: [valueInfo("y", ["N", ...shape])] },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * An ORT-web session with `threads` threads in a worker thread (see ort-worker.js), fed `data` of
 * `shape` on every run. The per-run cost over an in-thread session is one message each way and the
 * output copy (a few microseconds next to milliseconds of inference).
 */
export async function threadedSession(bytes, threads, name, data, shape) {
  const { Worker } = await import("node:worker_threads");
  const w = new Worker(new URL("./ort-worker.js", import.meta.url), { workerData: { bytes, threads } });
  const reply = () => new Promise((resolve, reject) => {
    const onError = (e) => reject(e);
    w.once("error", onError);
    w.once("message", (m) => { w.off("error", onError); m.ok ? resolve(m) : reject(new Error(m.error)); });
  });
  try {
    const started = await reply();
    if (started.threads !== threads) throw new Error(`ORT-web started with ${started.threads} thread(s), not ${threads}`);
    w.postMessage({ input: data, name, shape });
    await reply();
  } catch (e) {
    await w.terminate();
    throw e;
  }
  return {
    run: async () => { w.postMessage("run"); return (await reply()).y; },
    release: async () => { w.postMessage("release"); await reply().catch(() => {}); await w.terminate(); },
  };
}
