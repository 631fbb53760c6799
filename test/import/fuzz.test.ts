/**
 * The import readers under mutation, as the safetensors reader is fuzzed (test/safetensors): valid
 * TF.js model.json + shard files (float32 and quantized), Keras 3 .keras zips and Keras 2 .h5 files
 * are mutated with a seeded generator — structured JSON edits (a value anywhere in model.json,
 * config.json, metadata.json or the manifest replaced by a hostile one or removed), truncated,
 * extended, missing or byte-flipped shards, truncated or flipped zips and HDF5 — and every case
 * must either throw a KilnError or return an import kiln accepts (the graph passes checkGraph and
 * the weights file holds exactly its weights). Never another exception. The command line, given a
 * sample of the rejected files, exits 1 and writes nothing.
 * KILN_FUZZ_FULL=1 runs ten times as many cases. At that size the Keras 2 .h5 test reaches a
 * mutated file (Rng 184, case 755: a flipped byte in a global heap object's size) on which the HDF5
 * library looped forever; compiler/import/hdf5-guard.ts now refuses it before h5wasm reads it
 * (regression: h5-heap-guard.test.ts, with that file as a fixture), and any other hang ends at the
 * HDF5 worker's deadline (compiler/import/hdf5-reader.ts, hdf5-worker.test.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync, zipSync } from "fflate";
import { beforeAll, describe, expect, test } from "vitest";
import { checkGraph, importModel, KilnError, type ImportFiles } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { readSafetensors } from "../../runtime/safetensors.js";
import { Rng } from "../safetensors/fuzz.js";
import { randomizeTf, saveArtifacts, toFiles } from "./helpers.js";
import { k3layer, keras2H5, kerasWeightsH5, kerasZip } from "./keras-fixtures.js";

const SCALE = process.env.KILN_FUZZ_FULL === "1" ? 10 : 1;
const HOSTILE: unknown[] = [
  null, 0, -1, 1.5, 1e300, -1e300, 2 ** 31, "", "x", "../../etc/passwd", "\u0000", true, false, [], [null], [-1, -1], [1e9, 1e9, 1e9],
  {}, { class_name: "Dense" }, { __proto__: { polluted: 1 } }, JSON.parse('{"__proto__": {"polluted": 1}}'), "constructor", "toString",
  JSON.parse("[".repeat(40) + "1" + "]".repeat(40)), "x".repeat(5000),
];

/** Every [container, key] in a JSON value (depth-limited), for picking a place to mutate. */
function places(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = [], depth = 0): typeof out {
  if (depth > 12 || typeof v !== "object" || v === null) return out;
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), places(x, out, depth + 1)));
  else for (const [k, x] of Object.entries(v)) (out.push([v as Record<string, unknown>, k]), places(x, out, depth + 1));
  return out;
}

/** `json` with one to three values replaced by hostile ones or removed. */
function mutateJson(json: unknown, rng: Rng): string {
  const copy = structuredClone(json);
  for (let k = 0; k <= rng.int(3); k++) {
    const all = places(copy);
    if (!all.length) break;
    const [at, key] = rng.pick(all);
    if (rng.chance(0.2)) {
      if (Array.isArray(at)) at.splice(key as number, 1);
      else delete at[key as string];
    } else (at as Record<string | number, unknown>)[key] = structuredClone(rng.pick(HOSTILE));
  }
  return JSON.stringify(copy);
}

function flip(bytes: Uint8Array, rng: Rng, count: number, from = 0): Uint8Array {
  const b = bytes.slice();
  for (let k = 0; k < count && b.length > from; k++) b[from + rng.int(b.length - from)] = rng.int(256);
  return b;
}

interface Outcome {
  accepted: number;
  rejected: number;
  rejectedSamples: ImportFiles[];
}

/** Imports every case: a KilnError or an import kiln accepts, nothing else. */
async function run(label: string, cases: ImportFiles[] | Uint8Array[]): Promise<Outcome> {
  const o: Outcome = { accepted: 0, rejected: 0, rejectedSamples: [] };
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    let result;
    try {
      result = await importModel(c);
    } catch (e) {
      if (!(e instanceof KilnError)) throw new Error(`${label} case ${i}: ${e instanceof Error ? e.stack : String(e)}`);
      expect(e.diagnostics.length, `${label} case ${i}`).toBeGreaterThan(0);
      o.rejected++;
      if (o.rejectedSamples.length < 4 && !(c instanceof Uint8Array)) o.rejectedSamples.push(c);
      continue;
    }
    const g = checkGraph(result.graph);
    const tensors = readSafetensors(result.weights).tensors;
    const names = g.layers.flatMap((l) => l.weights.map((w) => w.fullName));
    expect([...tensors.keys()].sort(), `${label} case ${i}`).toEqual(names.sort());
    o.accepted++;
  }
  return o;
}

let tfjsCorpus: ImportFiles[];
let kerasZipGood: Uint8Array;
let kerasH5Good: Uint8Array;

beforeAll(async () => {
  await tf.setBackend("cpu");
  const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "relu", name: "d1" }), tf.layers.dense({ units: 2, name: "d2" })] });
  const conv = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 2, name: "c" }), tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.flatten({ name: "f" }), tf.layers.dense({ units: 2, name: "o" }),
    ],
  });
  conv.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
  randomizeTf(dense, 1);
  randomizeTf(conv, 2);
  tfjsCorpus = [
    toFiles(await saveArtifacts(dense)), toFiles(await saveArtifacts(dense), { shards: 3 }),
    toFiles(await saveArtifacts(conv, true), { quantization: "uint8" }), toFiles(await saveArtifacts(conv), { quantization: "float16", shards: 2 }),
    toFiles(await saveArtifacts(conv), { quantization: "uint16" }),
  ];
  const config = {
    module: "keras", class_name: "Sequential", registered_name: null,
    config: { name: "s", trainable: true, layers: [k3layer("InputLayer", { batch_shape: [null, 2], name: "x" }), k3layer("Dense", { name: "dense", units: 3, activation: "relu" })] },
    compile_config: { optimizer: { module: "keras.optimizers", class_name: "SGD", config: { learning_rate: { module: "keras.optimizers.schedules", class_name: "ExponentialDecay", config: { initial_learning_rate: 0.1, decay_steps: 2, decay_rate: 0.5 } } } }, loss: "mse" },
  };
  const t = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_v, i) => i / 10) });
  kerasZipGood = kerasZip(config, await kerasWeightsH5({ "layers/dense/vars/0": t([2, 3]), "layers/dense/vars/1": t([3]) }));
  kerasH5Good = await keras2H5(
    { class_name: "Sequential", config: { name: "s", layers: [{ class_name: "Dense", config: { name: "dense", units: 3, batch_input_shape: [null, 2], activation: "linear" } }] } },
    { loss: "mse", optimizer_config: { class_name: "Adam", config: { learning_rate: 0.01, decay: 0.1 } } },
    [{ name: "dense", weights: { "dense/kernel:0": t([2, 3]), "dense/bias:0": t([3]) } }],
  );
});

describe("import readers under mutation: a KilnError or an accepted import, never a crash", () => {
  test(`TF.js model.json: ${400 * SCALE} structured edits anywhere in the topology, manifest and training config`, async () => {
    const rng = new Rng(181);
    const cases = Array.from({ length: 400 * SCALE }, () => {
      const files = rng.pick(tfjsCorpus);
      const json = JSON.parse(files["model.json"] as string);
      // Half the edits go to the manifest (shapes, dtypes, quantization, paths), which the topology would outnumber.
      const mutated = rng.chance(0.5) ? { ...json, weightsManifest: JSON.parse(mutateJson(json.weightsManifest, rng)) } : JSON.parse(mutateJson(json, rng));
      return { ...files, "model.json": JSON.stringify(mutated) };
    });
    const o = await run("model.json", cases);
    expect(o.rejected).toBeGreaterThan(cases.length / 4);
    expect(o.accepted).toBeGreaterThan(10);
  }, 120_000);

  test(`TF.js shards: ${300 * SCALE} truncated, extended, emptied, missing, swapped or byte-flipped`, async () => {
    const rng = new Rng(182);
    const kinds = ["truncate", "extend", "empty", "missing", "flip", "swap", "text"] as const;
    const seen = new Set<string>();
    const cases = Array.from({ length: 300 * SCALE }, () => {
      const files = { ...rng.pick(tfjsCorpus) };
      const shards = Object.keys(files).filter((k) => k.endsWith(".bin"));
      const name = rng.pick(shards), bytes = files[name] as Uint8Array;
      const kind = rng.pick(kinds);
      seen.add(kind);
      if (kind === "truncate") files[name] = bytes.slice(0, rng.int(bytes.length));
      else if (kind === "extend") files[name] = new Uint8Array([...bytes, ...Array.from({ length: 1 + rng.int(64) }, () => rng.int(256))]);
      else if (kind === "empty") files[name] = new Uint8Array(0);
      else if (kind === "missing") delete files[name];
      else if (kind === "flip") files[name] = flip(bytes, rng, 1 + rng.int(8));
      else if (kind === "swap" && shards.length > 1) [files[shards[0]!], files[shards[1]!]] = [files[shards[1]!]!, files[shards[0]!]!];
      else files[name] = "not binary";
      return files;
    });
    const o = await run("shard", cases);
    expect(seen.size).toBe(kinds.length);
    expect(o.rejected).toBeGreaterThan(cases.length / 3);
    expect(o.accepted).toBeGreaterThan(10); // flipped bytes are other float values: still a model
  }, 120_000);

  test(`Keras 3 .keras: ${150 * SCALE} edits of config.json / metadata.json, broken or missing entries, truncated and flipped zips`, async () => {
    const rng = new Rng(183);
    const entries = unzipSync(kerasZipGood);
    const kinds = ["config", "metadata", "h5-truncate", "h5-flip", "drop", "zip-truncate", "zip-flip", "config-text"] as const;
    const cases = Array.from({ length: 150 * SCALE }, () => {
      const e: Record<string, Uint8Array> = { ...entries };
      const kind = rng.pick(kinds);
      if (kind === "config") e["config.json"] = new TextEncoder().encode(mutateJson(JSON.parse(new TextDecoder().decode(entries["config.json"])), rng));
      else if (kind === "metadata") e["metadata.json"] = new TextEncoder().encode(mutateJson(JSON.parse(new TextDecoder().decode(entries["metadata.json"])), rng));
      else if (kind === "h5-truncate") e["model.weights.h5"] = entries["model.weights.h5"]!.slice(0, rng.int(entries["model.weights.h5"]!.length));
      else if (kind === "h5-flip") e["model.weights.h5"] = flip(entries["model.weights.h5"]!, rng, 1 + rng.int(6), 8);
      else if (kind === "drop") delete e[rng.pick(Object.keys(entries))];
      else if (kind === "config-text") e["config.json"] = entries["config.json"]!.slice(0, rng.int(entries["config.json"]!.length));
      if (kind === "zip-truncate") return kerasZipGood.slice(0, 4 + rng.int(kerasZipGood.length - 4));
      if (kind === "zip-flip") return flip(kerasZipGood, rng, 1 + rng.int(6), 4);
      return zipSync(e);
    });
    const o = await run(".keras", cases);
    expect(o.rejected).toBeGreaterThan(cases.length / 4);
    expect(o.accepted).toBeGreaterThan(5);
  }, 240_000);

  test(`Keras 2 .h5: ${100 * SCALE} truncated or byte-flipped files`, async () => {
    const rng = new Rng(184);
    const cases = Array.from({ length: 100 * SCALE }, () => (rng.chance(0.4) ? kerasH5Good.slice(0, 8 + rng.int(kerasH5Good.length - 8)) : flip(kerasH5Good, rng, 1 + rng.int(6), 8)));
    const o = await run(".h5", cases);
    expect(o.rejected).toBeGreaterThan(cases.length / 5);
  }, 240_000);

  test("the command line, given rejected mutated files, exits 1 and writes nothing", async () => {
    const rng = new Rng(185);
    const dir = mkdtempSync(join(tmpdir(), "kiln-import-fuzz-"));
    let tried = 0;
    for (let i = 0; tried < 12 && i < 200; i++) {
      const files = rng.pick(tfjsCorpus);
      const mutated = { ...files, "model.json": mutateJson(JSON.parse(files["model.json"] as string), rng) };
      if (await importModel(mutated).then(() => true, () => false)) continue;
      const d = mkdtempSync(join(dir, "case-"));
      for (const [k, v] of Object.entries(mutated)) writeFileSync(join(d, k), v);
      let err = "";
      const code = await main(["import", join(d, "model.json"), "-o", join(d, "out.json")], { out: () => {}, err: (t) => void (err += t) });
      expect(code, err).toBe(1);
      expect(err.trim().length).toBeGreaterThan(0);
      expect(existsSync(join(d, "out.json"))).toBe(false);
      expect(existsSync(join(d, "out.safetensors"))).toBe(false);
      tried++;
    }
    expect(tried).toBe(12);
  }, 120_000);
});
