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

const INT64 = onnx.TensorProto.DataType.INT64;
const int64Initializer = (name, values) => { const data = BigInt64Array.from(values.map(BigInt)); return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }; };

/** Depthwise [kh, kw, C, m] (Keras) → [C·m, 1, kh, kw] (ONNX Conv with group = C; output channel c·m + j as in Keras). */
function depthwiseToOihw(w, [kh, kw, c, m]) {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < c; i++) for (let j = 0; j < m; j++) {
    out[((i * m + j) * kh + y) * kw + x] = w[((y * kw + x) * c + i) * m + j];
  }
  return out;
}

const pairOf = (v, dflt) => (v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : v);

/**
 * Output size and explicit [before, after] padding of one spatial axis, as TensorFlow computes
 * "same" (the odd pixel after) and "valid" (docs/graph-spec.md §2 "Padding").
 */
function windowAxis(size, k, stride, dilation, padding) {
  const span = dilation * (k - 1) + 1;
  if (padding === "valid") return { out: Math.floor((size - span) / stride) + 1, before: 0, after: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + span - size, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}

/**
 * ONNX model bytes for any kiln graph made of the layers of the issue-19 networks (MobileNetV2,
 * ResNet, Inception): a DAG of conv2d, depthwise_conv2d (Conv with group = C), batch_normalization
 * (ONNX BatchNormalization in inference mode: moving statistics; ORT folds it into the preceding
 * Conv at graphOptimizationLevel "all"), relu / relu6 activations (Relu, Clip 0..6),
 * zero_padding2d (Pad), max and average pooling (explicit pads; AveragePool with
 * count_include_pad 0 divides by the real elements, as Keras does), global average / max pooling,
 * add (Add, Sum for more than two), concatenate on the channel axis, flatten and dense, with kiln's
 * weights. The input is transposed from NHWC to NCHW once; every 4-D tensor stays NCHW after it
 * (flatten transposes back first so the element order is kiln's).
 */
export function buildOnnxGraph(graph, weights) {
  const input = graph.inputs[0];
  const nodes = [], inits = [];
  const shapes = Object.create(null); // tensor name → per-example shape in kiln's (channels-last) order
  const onnxName = Object.create(null); // kiln layer name → its ONNX output
  let n = 0;
  const add = (opType, inputs, attribute = []) => { const out = `t${n++}`; nodes.push({ opType, input: inputs, output: [out], attribute }); return out; };
  const ints = (name, v) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name, v) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  const float = (name, v) => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v });
  const weight = (layer, w) => {
    const v = weights[`${layer.name}/${w}`];
    if (!v) throw new Error(`buildOnnxGraph: layer ${layer.name} has no weight ${w}`);
    return v;
  };
  const constant = (name, dims, data) => { inits.push(initializer(name, dims, data)); return name; };
  const activation = (x, a, shape) => {
    if (!a || a === "linear") return x;
    if (a === "relu") return add("Relu", [x]);
    if (a === "relu6") {
      if (!inits.some((i) => i.name === "zero")) { constant("zero", [], Float32Array.of(0)); constant("six", [], Float32Array.of(6)); }
      return add("Clip", [x, "zero", "six"]);
    }
    if (a === "sigmoid") return add("Sigmoid", [x]);
    if (a === "tanh") return add("Tanh", [x]);
    if (a === "softmax") {
      if (shape.length !== 1) throw new Error("buildOnnxGraph: softmax on a rank > 1 tensor");
      return add("Softmax", [x], [int("axis", -1)]);
    }
    throw new Error(`buildOnnxGraph: activation ${a}`);
  };
  onnxName[input.name] = add("Transpose", [input.name], [ints("perm", [0, 3, 1, 2])]);
  shapes[input.name] = input.shape.slice();
  let previous = input.name;
  for (const l of graph.layers) {
    const ins = (l.inputs ?? [previous]).map((i) => { if (!(i in onnxName)) throw new Error(`buildOnnxGraph: ${l.name} reads ${i}, not defined before it`); return i; });
    const x = onnxName[ins[0]], shape = shapes[ins[0]];
    let y, out;
    if (l.op === "conv2d" || l.op === "depthwise_conv2d") {
      const [k, s, d] = [pairOf(l.kernel_size), pairOf(l.strides, 1), pairOf(l.dilation_rate, 1)];
      const [h, w, c] = shape;
      const ph = windowAxis(h, k[0], s[0], d[0], l.padding ?? "valid"), pw = windowAxis(w, k[1], s[1], d[1], l.padding ?? "valid");
      const depthwise = l.op === "depthwise_conv2d";
      const m = depthwise ? l.depth_multiplier ?? 1 : 0;
      const f = depthwise ? c * m : l.filters;
      const kernel = weight(l, "kernel");
      const oihw = depthwise ? depthwiseToOihw(kernel, [k[0], k[1], c, m]) : toOihw(kernel, [k[0], k[1], c, f]);
      const conv = [x, constant(`${l.name}_w`, [f, depthwise ? 1 : c, k[0], k[1]], oihw)];
      if (l.use_bias !== false) conv.push(constant(`${l.name}_b`, [f], weight(l, "bias")));
      y = add("Conv", conv, [ints("kernel_shape", k), ints("strides", s), ints("dilations", d), ints("pads", [ph.before, pw.before, ph.after, pw.after]), int("group", depthwise ? c : 1)]);
      out = [ph.out, pw.out, f];
      y = activation(y, l.activation, out);
    } else if (l.op === "batch_normalization") {
      const axis = l.axis ?? -1;
      if (axis !== -1 && axis !== shape.length) throw new Error(`buildOnnxGraph: ${l.name} normalizes axis ${axis}, not the channels`);
      const c = shape[shape.length - 1];
      const has = (w) => !!weights[`${l.name}/${w}`];
      const gamma = has("gamma") ? weight(l, "gamma") : new Float32Array(c).fill(1);
      const beta = has("beta") ? weight(l, "beta") : new Float32Array(c);
      const params = [["scale", gamma], ["bias", beta], ["mean", weight(l, "moving_mean")], ["var", weight(l, "moving_variance")]].map(([p, v]) => constant(`${l.name}_${p}`, [c], v));
      y = add("BatchNormalization", [x, ...params], [float("epsilon", l.epsilon ?? 1e-3)]);
      out = shape;
    } else if (l.op === "activation") {
      y = activation(x, l.activation, shape);
      out = shape;
    } else if (l.op === "relu") {
      if ((l.negative_slope ?? 0) !== 0 || (l.threshold ?? 0) !== 0) throw new Error(`buildOnnxGraph: ${l.name}: relu with a negative slope or threshold`);
      y = l.max_value === 6 ? activation(x, "relu6", shape) : l.max_value == null ? activation(x, "relu", shape) : (() => { throw new Error(`buildOnnxGraph: ${l.name}: max_value ${l.max_value}`); })();
      out = shape;
    } else if (l.op === "zero_padding2d") {
      const p = l.padding ?? 1;
      const [[top, bottom], [left, right]] = typeof p === "number" ? [[p, p], [p, p]] : p.map((v) => (typeof v === "number" ? [v, v] : v));
      inits.push(int64Initializer(`${l.name}_pads`, [0, 0, top, left, 0, 0, bottom, right]));
      y = add("Pad", [x, `${l.name}_pads`]);
      out = [shape[0] + top + bottom, shape[1] + left + right, shape[2]];
    } else if (l.op === "max_pooling2d" || l.op === "average_pooling2d") {
      const k = pairOf(l.pool_size, 2), s = pairOf(l.strides ?? l.pool_size, 2);
      const ph = windowAxis(shape[0], k[0], s[0], 1, l.padding ?? "valid"), pw = windowAxis(shape[1], k[1], s[1], 1, l.padding ?? "valid");
      const attrs = [ints("kernel_shape", k), ints("strides", s), ints("pads", [ph.before, pw.before, ph.after, pw.after])];
      y = add(l.op === "max_pooling2d" ? "MaxPool" : "AveragePool", [x], l.op === "average_pooling2d" ? [...attrs, int("count_include_pad", 0)] : attrs);
      out = [ph.out, pw.out, shape[2]];
    } else if (l.op === "global_average_pooling2d" || l.op === "global_max_pooling2d") {
      y = add("Flatten", [add(l.op === "global_average_pooling2d" ? "GlobalAveragePool" : "GlobalMaxPool", [x])], [int("axis", 1)]);
      out = [shape[2]];
    } else if (l.op === "add") {
      y = add(ins.length === 2 ? "Add" : "Sum", ins.map((i) => onnxName[i]));
      out = shape;
    } else if (l.op === "concatenate") {
      const axis = l.axis ?? -1;
      if (shape.length !== 3 || (axis !== -1 && axis !== 3)) throw new Error(`buildOnnxGraph: ${l.name} concatenates axis ${axis}; only the channel axis of [H, W, C] is mapped`);
      y = add("Concat", ins.map((i) => onnxName[i]), [int("axis", 1)]);
      out = [shape[0], shape[1], ins.reduce((sum, i) => sum + shapes[i][2], 0)];
    } else if (l.op === "flatten") {
      y = add("Flatten", [shape.length === 3 ? add("Transpose", [x], [ints("perm", [0, 2, 3, 1])]) : x], [int("axis", 1)]);
      out = [shape.reduce((a, b) => a * b, 1)];
    } else if (l.op === "dense") {
      if (shape.length !== 1) throw new Error(`buildOnnxGraph: ${l.name} is a dense layer on a rank-${shape.length} input`);
      const w = constant(`${l.name}_w`, [shape[0], l.units], weight(l, "kernel"));
      y = l.use_bias === false ? add("MatMul", [x, w]) : add("Gemm", [x, w, constant(`${l.name}_b`, [l.units], weight(l, "bias"))]);
      out = [l.units];
      y = activation(y, l.activation, out);
    } else {
      throw new Error(`buildOnnxGraph: op ${l.op} (layer ${l.name}) is not mapped`);
    }
    onnxName[l.name] = y;
    shapes[l.name] = out;
    previous = l.name;
  }
  const outName = graph.outputs?.[0] ?? previous;
  const outShape = shapes[outName];
  if (outShape.length !== 1) throw new Error(`buildOnnxGraph: the output ${outName} is not a vector per example`);
  nodes.push({ opType: "Identity", input: [onnxName[outName]], output: ["y"], attribute: [] });
  const model = onnx.ModelProto.create({
    irVersion: 7, producerName: "kiln-bench", opsetImport: [{ domain: "", version: 13 }],
    graph: { name: "bench", node: nodes, initializer: inits, input: [valueInfo(input.name, ["N", ...input.shape])], output: [valueInfo("y", ["N", ...outShape])] },
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
