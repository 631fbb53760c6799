/**
 * Import test helpers: TF.js models saved in memory (tfjs-layers' own `model.save` through
 * `tf.io.withSaveHandler`: nothing downloaded), written as model.json + shard files, optionally
 * with quantized shards written exactly per the TF.js weights format (uint8/uint16 affine
 * `v = q·scale + min`, float16 halves), and kiln's compiled predict next to TF.js's.
 */
import * as tf from "@tensorflow/tfjs";
import { compile } from "../../compiler/index.js";
import type { ImportFiles, ImportResult } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { rng } from "../compile/harness.js";
import { KERAS_LAYERS, kerasWeightName } from "../../compiler/import/layers.js";

export type Quantization = "uint8" | "uint16" | "float16";

export async function saveArtifacts(model: tf.LayersModel, includeOptimizer = false): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }), { includeOptimizer });
  return saved!;
}

function weightBytes(a: tf.io.ModelArtifacts): Uint8Array {
  const d = a.weightData!;
  const buf = Array.isArray(d) ? d[0]! : d;
  return new Uint8Array(buf);
}

/** float32 → the nearest IEEE half (round to nearest even), as numpy's astype(float16). */
export function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = mant >> shift;
    const rem = mant & ((1 << shift) - 1), mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1)) ? 1 : 0));
  }
  const half = (exp << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1)) ? 1 : 0));
}

/** Quantized specs and bytes for float32 artifacts (affine min/scale over each weight, as the TF.js converter does). */
export function quantize(a: tf.io.ModelArtifacts, q: Quantization): { specs: tf.io.WeightsManifestEntry[]; data: Uint8Array } {
  const src = weightBytes(a);
  const f32 = new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const s of a.weightSpecs!) {
    const n = s.shape.reduce((x, y) => x * y, 1);
    const v = f32.subarray(at, at + n);
    at += n;
    if (q === "float16") {
      parts.push(new Uint8Array(Uint16Array.from(v, toHalf).buffer));
      specs.push({ ...s, quantization: { dtype: "float16", original_dtype: "float32" } } as tf.io.WeightsManifestEntry);
      continue;
    }
    const levels = q === "uint8" ? 255 : 65535;
    let min = Infinity, max = -Infinity;
    for (const x of v) (min = Math.min(min, x)), (max = Math.max(max, x));
    const scale = max > min ? (max - min) / levels : 1;
    const codes = Array.from(v, (x) => Math.round((x - min) / scale));
    parts.push(q === "uint8" ? Uint8Array.from(codes) : new Uint8Array(Uint16Array.from(codes).buffer));
    specs.push({ ...s, quantization: { dtype: q, min, scale, original_dtype: "float32" } } as tf.io.WeightsManifestEntry);
  }
  const data = new Uint8Array(parts.reduce((x, p) => x + p.length, 0));
  let o = 0;
  for (const p of parts) (data.set(p, o), (o += p.length));
  return { specs, data };
}

/**
 * model.json + shards as TF.js writes them to files (`tf.io.browserFiles` layout): the shard bytes
 * cut into `shards` files of one group.
 */
export function toFiles(a: tf.io.ModelArtifacts, opts: { quantization?: Quantization; shards?: number } = {}): ImportFiles {
  const { specs, data } = opts.quantization ? quantize(a, opts.quantization) : { specs: a.weightSpecs!, data: weightBytes(a) };
  const n = opts.shards ?? 1;
  const size = Math.ceil(data.length / n);
  const files: ImportFiles = {};
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `group1-shard${i + 1}of${n}.bin`;
    paths.push(name);
    files[name] = data.slice(i * size, (i + 1) * size);
  }
  const json: Record<string, unknown> = {
    modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy ?? null,
    weightsManifest: [{ paths, weights: specs }],
  };
  if (a.trainingConfig) json.trainingConfig = a.trainingConfig;
  files["model.json"] = JSON.stringify(json);
  return files;
}

/** TF.js loading the very files kiln imports (its own decodeWeights dequantizes). */
export async function tfjsFromFiles(files: ImportFiles): Promise<tf.LayersModel> {
  const json = JSON.parse(files["model.json"] as string);
  const group = json.weightsManifest[0];
  const parts = (group.paths as string[]).map((p) => files[p] as Uint8Array);
  const data = new Uint8Array(parts.reduce((x, p) => x + p.length, 0));
  let o = 0;
  for (const p of parts) (data.set(p, o), (o += p.length));
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: data.buffer }));
}

export async function kilnModel(r: ImportResult, maxBatch = 4) {
  const { wasm } = await compile(JSON.stringify(r.graph), { maxBatch, weights: r.weights });
  return loadModel(wasm);
}

/** Seeded inputs for each graph input: floats in [-1, 1), ints in [0, hi). */
export function feedsFor(graph: Record<string, unknown>, batch: number, seed: number, hi = 5): Record<string, Float32Array | Int32Array> {
  const next = rng(seed);
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const i of graph.inputs as { name: string; shape: number[]; dtype?: string }[]) {
    const n = batch * i.shape.reduce((a, b) => a * b, 1);
    out[i.name] = i.dtype === "int32" ? Int32Array.from({ length: n }, () => Math.floor(next() * hi)) : Float32Array.from({ length: n }, () => next() * 2 - 1);
  }
  return out;
}

/** TF.js predict on the same feeds (in the order of the model's inputs), each output flattened. */
export function tfPredict(model: tf.LayersModel, feeds: Record<string, Float32Array | Int32Array>, inputNames: string[], batch: number): Float32Array[] {
  const xs = model.inputs.map((inp, k) => tf.tensor(Array.from(feeds[inputNames[k]!]!), [batch, ...inp.shape.slice(1) as number[]]));
  const ys = model.predict(xs.length === 1 ? xs[0]! : xs);
  const list = Array.isArray(ys) ? ys : [ys];
  return list.map((y) => y.dataSync() as Float32Array);
}

/** Sets every weight of a TF.js model to seeded values in ±scale (moving variances positive). */
export function randomizeTf(model: tf.LayersModel, seed: number, scale = 0.5): void {
  const next = rng(seed);
  model.setWeights(model.weights.map((w) => {
    const n = w.shape.reduce((a, b) => a! * b!, 1) as number;
    const pos = w.name.includes("moving_variance");
    return tf.tensor(Float32Array.from({ length: n }, () => (pos ? 0.5 + next() : (next() * 2 - 1) * scale)), w.shape as number[]);
  }));
}

/** What three SGD steps did in kiln and in TF.js: each step's loss, and each kiln weight after them next to TF.js's. */
export interface TrainedBoth {
  kilnLosses: number[];
  tfLosses: number[];
  weights: { name: string; kiln: Float32Array; tf: Float32Array; initial: Float32Array }[];
}

/**
 * `steps` SGD steps (mean squared error, learning rate `lr`) on one seeded batch, in kiln (the
 * imported graph with a training section added) and in TF.js (compile + trainOnBatch, cpu backend),
 * both from the weights the model holds now. TF.js weights are found by the name the import read
 * them under (the layer table's weight names), so every kiln weight is compared.
 */
export async function trainBoth(model: tf.LayersModel, imported: ImportResult, seed: number, { steps = 3, lr = 0.05, batch = 3 } = {}): Promise<TrainedBoth> {
  const graph = structuredClone(imported.graph);
  const output = (graph.outputs as string[])[0]!;
  const outShape = model.outputs[0]!.shape.slice(1) as number[];
  graph.targets = [{ name: "target_for_test", shape: outShape }];
  graph.training = { loss: { type: "mean_squared_error", output, target: "target_for_test" }, optimizer: { type: "sgd", learning_rate: lr } };
  const { wasm } = await compile(JSON.stringify(graph), { maxBatch: batch, weights: imported.weights });
  const kiln = await loadModel(wasm);
  const feeds = feedsFor(graph, batch, seed);
  const next = rng(seed + 1);
  const target = Float32Array.from({ length: batch * outShape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1);
  const kilnLosses = Array.from({ length: steps }, () => kiln.trainStep({ ...feeds, target_for_test: target }).loss);

  const initial = new Map(model.weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
  model.compile({ optimizer: tf.train.sgd(lr), loss: "meanSquaredError" });
  const inputNames = (graph.inputs as { name: string }[]).map((i) => i.name);
  const xs = model.inputs.map((inp, k) => tf.tensor(Array.from(feeds[inputNames[k]!]!), [batch, ...inp.shape.slice(1) as number[]]));
  const y = tf.tensor(Array.from(target), [batch, ...outShape]);
  const tfLosses: number[] = [];
  for (let i = 0; i < steps; i++) tfLosses.push((await model.trainOnBatch(xs.length === 1 ? xs[0]! : xs, y)) as number);

  const tfByName = new Map(model.weights.map((w) => [w.originalName, w]));
  const ours = kiln.getWeights();
  const weights: TrainedBoth["weights"] = [];
  for (const layer of graph.layers as { name: string; keras_name?: string }[]) {
    const kerasName = layer.keras_name ?? layer.name;
    const mapping = KERAS_LAYERS[model.getLayer(kerasName).getClassName()]!;
    for (const [name, value] of Object.entries(ours)) {
      if (!name.startsWith(`${layer.name}/`)) continue;
      const tfName = `${kerasName}/${kerasWeightName(mapping, name.slice(layer.name.length + 1), "tfjs")}`;
      const theirs = tfByName.get(tfName);
      if (!theirs) throw new Error(`test: no TF.js weight ${tfName} for kiln's ${name}`);
      weights.push({ name, kiln: value, tf: theirs.read().dataSync() as Float32Array, initial: initial.get(tfName)! });
    }
  }
  return { kilnLosses, tfLosses, weights };
}
