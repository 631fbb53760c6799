/**
 * ONNX Runtime Web sessions (wasm, one thread): everything a program that runs an .onnx file
 * needs, and nothing else — the start-up child (startup/ort.js) imports only this, so it loads
 * onnxruntime-web and not onnx-proto, which only the bench parent needs to write the model.
 */
import * as ort from "onnxruntime-web";

export { ort };

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** An ORT-web session on the wasm execution provider, one thread. */
export async function session(bytes) {
  return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
}

/** One inference: the input copied into ORT (as kiln's predict copies it into its memory), output read. */
export async function run(sess, name, data, shape) {
  const out = await sess.run({ [name]: new ort.Tensor("float32", data, shape) });
  return out.y.data;
}
