/**
 * TensorFlow.js peers: the wasm backend (SIMD on, threads off, wasm files from node_modules) and
 * the cpu backend, with Keras-equivalent models built from the same graph JSON and given kiln's
 * weights (same layouts: tfjs-model.js), and the smallest fix that lets tfjs-wasm train: the gradient kernels
 * it lacks, taken from the cpu backend and bridged (inputs read from the wasm heap, run on cpu,
 * output written back). A plain `{...cpuConfig, backendName: "wasm"}` re-registration cannot work
 * on its own: cpu kernels read `backend.data`, which the wasm backend does not have.
 */
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { tf, wasmSettings } from "./tfjs-model.js";

export { tf, use, buildSequential, copyWeights } from "./tfjs-model.js";
let ready = false;

/** Prepares both backends once: wasm with SIMD on, threads off, binaries from the package; then cpu. */
export async function initTf() {
  if (ready) return;
  wasmSettings(setWasmPaths);
  await tf.setBackend("wasm");
  await tf.setBackend("cpu");
  ready = true;
}


/** A wasm-backend kernel that runs the cpu backend's kernel on copies of its inputs. */
function bridged(name) {
  const cpuConfig = tf.getKernel(name, "cpu");
  if (!cpuConfig) throw new Error(`the cpu backend has no kernel ${name} either`);
  const cpu = tf.engine().findBackend("cpu");
  return {
    ...cpuConfig,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpuInputs = {};
      for (const [k, t] of Object.entries(inputs)) cpuInputs[k] = { dataId: cpu.write(backend.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
      const out = cpuConfig.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
      const outs = (Array.isArray(out) ? out : [out]).map((o) => {
        const values = cpu.readSync(o.dataId);
        cpu.disposeData(o.dataId);
        return backend.makeOutput(o.shape, o.dtype, undefined, values);
      });
      for (const t of Object.values(cpuInputs)) cpu.disposeData(t.dataId);
      return Array.isArray(out) ? outs : outs[0];
    },
  };
}

const MISSING = /Kernel '(\w+)' not registered for backend 'wasm'/;
/** Kernels this process added to wasm, with the variant currently registered. */
const added = new Map();

/**
 * Conv2DBackpropFilter on wasm's own kernels (NHWC, any stride and padding, no dilation):
 *
 *   dW[kh, kw, c, f] = Σ_{n, oh, ow} x_pad[n, oh·sh + kh, ow·sw + kw, c] · dy[n, oh, ow, f]
 *
 * is the convolution of x viewed as [C, H, W, N] (explicitly padded as the forward conv was) with
 * dy viewed as an [OH, OW, N, F] filter dilated by the stride, transposed back to [KH, KW, C, F]
 * (and cut to KH × KW where the window fits more positions, e.g. a 1×1 stride-2 conv). A dilated
 * forward conv or NCHW falls back to the cpu bridge.
 */
function convFilterOnWasm() {
  const cpuBridge = bridged("Conv2DBackpropFilter");
  const kernel = (name) => tf.getKernel(name, "wasm").kernelFunc;
  return {
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: (args) => {
      const { inputs: { x, dy }, backend, attrs } = args;
      const one = (v) => (Array.isArray(v) ? v.every((e) => e === 1) : v === 1 || v === undefined);
      if (!one(attrs.dilations) || (attrs.dataFormat ?? "NHWC") !== "NHWC") return cpuBridge.kernelFunc(args);
      const info = tf.backend_util.computeConv2DInfo(x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const p = info.padInfo, [kh, kw] = attrs.filterShape;
      const xt = kernel("Transpose")({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } });
      const dyt = kernel("Transpose")({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
      const w = kernel("Conv2D")({ inputs: { x: xt, filter: dyt }, backend, attrs: { strides: [1, 1], pad: [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]], dataFormat: "NHWC", dilations: [info.strideHeight, info.strideWidth], dimRoundingMode: undefined } });
      const fits = w.shape[1] === kh && w.shape[2] === kw;
      const cut = fits ? w : kernel("Slice")({ inputs: { x: w }, backend, attrs: { begin: [0, 0, 0, 0], size: [w.shape[0], kh, kw, w.shape[3]] } });
      const out = kernel("Transpose")({ inputs: { x: cut }, backend, attrs: { perm: [1, 2, 0, 3] } });
      for (const t of fits ? [xt, dyt, w] : [xt, dyt, w, cut]) backend.disposeData(t.dataId);
      return out;
    },
  };
}

/** The kernel config for a missing kernel: bridged from cpu, or ("conv") the filter gradient on wasm kernels. */
function patchFor(name, variant) {
  return variant === "conv" && name === "Conv2DBackpropFilter" ? convFilterOnWasm() : bridged(name);
}

/** Registers `names` on wasm in `variant` (replacing another variant's registration). */
export function activate(names, variant) {
  for (const name of names) {
    if (added.get(name) === variant) continue;
    if (added.has(name)) tf.unregisterKernel(name, "wasm");
    tf.registerKernel(patchFor(name, variant));
    added.set(name, variant);
  }
}

/**
 * Runs `attempt`; while it fails for a kernel missing on wasm, patches that kernel in (`variant`:
 * "cpu" bridges the cpu backend's kernel, "conv" also computes the conv filter gradient on wasm)
 * and retries. Only the kernels this call patched are registered meanwhile. Returns them.
 */
export async function patchUntilItRuns(attempt, variant) {
  const patched = [];
  for (;;) {
    try {
      await withOnly(attempt, patched, variant);
      return { patched };
    } catch (e) {
      const m = MISSING.exec(e.message);
      if (!m || patched.includes(m[1])) throw e;
      patched.push(m[1]);
    }
  }
}

/** Runs `fn` with exactly the added kernels in `keep` registered (in `variant`); the rest restored after. */
async function withOnly(fn, keep, variant) {
  const before = new Map(added);
  for (const name of [...added.keys()].filter((k) => !keep.includes(k))) { tf.unregisterKernel(name, "wasm"); added.delete(name); }
  activate(keep, variant);
  try {
    return await fn();
  } finally {
    for (const name of [...added.keys()]) { tf.unregisterKernel(name, "wasm"); added.delete(name); }
    for (const [name, v] of before) activate([name], v);
  }
}

/** Runs `fn` on stock tfjs-wasm: every added kernel unregistered meanwhile. */
export const withoutPatches = (fn) => withOnly(fn, [], "cpu");
