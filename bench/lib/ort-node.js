/**
 * ONNX Runtime in Node natively (onnxruntime-node: the CPU build, one intra-op thread), the
 * ceiling reference of issue 19's rows. It is not a dependency of the project: its npm package
 * ships prebuilt CPU binaries that load without its install script (checked with 1.30.0), but
 * that script, where npm runs it, downloads CUDA binaries from outside the npm registry and fails
 * here. Loaded from `BENCH_ORT_NODE` (a path to an installed onnxruntime-node package directory)
 * or, failing that, the package name; where neither loads, the system is skipped and says so.
 */
import { pathToFileURL } from "node:url";

let loaded;

async function ortNode() {
  loaded ??= (async () => {
    const where = process.env.BENCH_ORT_NODE;
    try {
      const m = await import(where ? pathToFileURL(where.replace(/\/?$/, "/")).href + "dist/index.js" : "onnxruntime-node");
      return m.InferenceSession ? m : m.default; // a CommonJS package: named exports or module.exports as default
    } catch (e) {
      return { error: `onnxruntime-node not loadable${where ? ` from BENCH_ORT_NODE=${where}` : " (not installed; see bench/README.md)"}: ${e.message.split("\n")[0]}` };
    }
  })();
  return loaded;
}

/** A native session on one thread (`run(name, data, shape)` → the output's data), or throws Skip-worthy errors. */
export async function nativeSession(bytes) {
  const ort = await ortNode();
  if (ort.error) {
    const { Skip } = await import("../workloads.js");
    throw new Skip(ort.error);
  }
  const sess = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  return {
    run: async (name, data, shape) => (await sess.run({ [name]: new ort.Tensor("float32", data, shape) })).y.data,
    release: () => sess.release(),
  };
}
