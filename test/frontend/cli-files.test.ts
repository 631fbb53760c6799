// `kiln train`, `predict` and `compile` through main() and the files they read and write:
// outputs checked before any work (exit 2 with a message, never a stack trace or lost training),
// names from files as keys ("__proto__"), bounded lists of names, and --resume / --initial-epoch.
import { afterAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../compiler/cli/main.js";
import { readDataFile, readSafetensors, writeDataFile, writeSafetensors, type DataTensor } from "../../runtime/safetensors.js";

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "kiln-cli-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** A classifier on 3 features, 4 classes, adam (optimizer state) and dropout (the step word matters). */
const GRAPH = file("classifier.json", JSON.stringify({
  format: "kiln.graph/v1", name: "classifier", seed: 5,
  inputs: [{ name: "features", shape: [3] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [
    { name: "h", op: "dense", units: 6, activation: "relu" },
    { name: "drop", op: "dropout", rate: 0.3 },
    { name: "probs", op: "dense", units: 4, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "adam", learning_rate: 0.05 } },
}));
const N = 11;
const DATA = file("train.safetensors", writeDataFile({
  features: { shape: [N, 3], data: Float32Array.from({ length: N * 3 }, (_, i) => Math.sin(i * 1.7)) },
  label: { shape: [N], data: Int32Array.from({ length: N }, (_, i) => (i * 7) % 4) },
}));
/** A regular file: a path "under" it cannot be created (ENOTDIR), even for root. */
const NOT_A_DIR = file("plain.txt", "x");

describe("outputs are checked before any work: exit 2 with a message", () => {
  test("train --out in a missing directory fails before the first epoch", async () => {
    const out = join(dir, "missing", "w.safetensors");
    const r = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--batch-size", "4", "--out", out);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiln train: cannot write ${out}: the directory ${join(dir, "missing")} does not exist\n`);
    expect(r.out).toBe(""); // no epoch ran
  });

  test("train --out naming a directory fails before the first epoch", async () => {
    const r = await run("train", GRAPH, "--data", DATA, "--out", dir);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiln train: cannot write ${dir}: it is a directory\n`);
    expect(r.out).toBe("");
  });

  test("compile -o <directory>", async () => {
    const r = await run("compile", GRAPH, "-o", dir);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiln compile: cannot write ${dir}: it is a directory\n`);
    expect(r.out).toBe("");
  });

  test("compile --emit esm checks the wrapper's files too", async () => {
    const sub = join(dir, "esm-out");
    mkdirSync(sub);
    mkdirSync(join(sub, "model.js")); // where the wrapper would go
    const r = await run("compile", GRAPH, "-o", join(sub, "model.wasm"), "--emit", "esm");
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiln compile: cannot write ${join(sub, "model.js")}: it is a directory\n`);
  });

  test("predict --out under a regular file", async () => {
    const out = join(NOT_A_DIR, "y.safetensors");
    const r = await run("predict", GRAPH, "--data", DATA, "--out", out);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiln predict: cannot write ${out}: a part of its path is not a directory (ENOTDIR)\n`);
    expect(r.out).toBe("");
  });

  test("a written output is whole and leaves no temporary file", async () => {
    const sub = join(dir, "clean");
    mkdirSync(sub);
    const out = join(sub, "y.safetensors");
    const r = await run("predict", GRAPH, "--data", DATA, "--out", out);
    expect(r.code).toBe(0);
    expect(readDataFile(new Uint8Array(readFileSync(out))).tensors.get("probs")!.shape).toEqual([N, 4]);
    expect(readdirSync(sub)).toEqual(["y.safetensors"]);
  });
});

describe("names from files are keys of null-prototype maps", () => {
  test('a graph input named "__proto__" predicts and trains from the command line', async () => {
    const graph = file("proto.json", JSON.stringify({
      format: "kiln.graph/v1", name: "proto", seed: 1,
      inputs: [{ name: "__proto__", shape: [2] }],
      targets: [{ name: "constructor", shape: [1] }],
      layers: [{ name: "toString", op: "dense", units: 1 }],
      training: { loss: { type: "mean_squared_error", output: "toString", target: "constructor" }, optimizer: { type: "sgd" } },
    }));
    const tensors = new Map<string, DataTensor>([
      ["__proto__", { shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
      ["constructor", { shape: [3, 1], data: new Float32Array([1, 2, 3]) }],
    ]);
    const data = file("proto.safetensors", writeDataFile(tensors));
    const p = await run("predict", graph, "--data", data, "--json");
    expect(p.err).toBe("");
    expect(p.code).toBe(0);
    const out = JSON.parse(p.out);
    expect(Object.keys(out)).toEqual(["toString"]);
    expect(out.toString).toHaveLength(3);
    const saved = join(dir, "proto-y.safetensors");
    const q = await run("predict", graph, "--data", data, "--out", saved);
    expect(q.err).toBe("");
    expect(q.code).toBe(0);
    expect(readDataFile(new Uint8Array(readFileSync(saved))).tensors.get("toString")!.data).toEqual(new Float32Array(out.toString));
    const t = await run("train", graph, "--data", data, "--batch-size", "3", "--out", join(dir, "proto-w.safetensors"));
    expect(t.err).toBe("");
    expect(t.code).toBe(0);
  });
});

describe("lists of names are bounded", () => {
  test("a data file of 5,000 other tensors: the message names 10 and counts the rest", async () => {
    const many = new Map<string, DataTensor>(Array.from({ length: 5000 }, (_, i) => [`t${i}`, { shape: [1], data: new Float32Array(1) }]));
    const data = file("many.safetensors", writeDataFile(many));
    const r = await run("predict", GRAPH, "--data", data, "--json");
    expect(r.code).toBe(1);
    expect(r.err).toBe(`features: ${data} has no tensor "features": expected [N, 3] F32 (it has "t0", "t1", "t10", "t100", "t1000", "t1001", "t1002", "t1003", "t1004", "t1005" and 4,990 more)\n`);
  });
});

/** The tensors of a weights file, without its metadata. */
const tensorsOf = (path: string) => readSafetensors(new Uint8Array(readFileSync(path))).tensors;
const sameTensors = (a: string, b: string) => {
  const x = tensorsOf(a), y = tensorsOf(b);
  return x.size === y.size && [...x].every(([k, t]) => Buffer.from(t.data).equals(Buffer.from(y.get(k)!.data)));
};

describe("train --resume and --initial-epoch", () => {
  const straight = join(dir, "straight.safetensors");
  const half = join(dir, "half.safetensors");

  test("3 epochs straight equal 1 epoch, then --resume to 3 (shuffled): the same weights and optimizer state", async () => {
    const a = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--batch-size", "4", "--out", straight);
    expect(a.code).toBe(0);
    const b = await run("train", GRAPH, "--data", DATA, "--epochs", "1", "--batch-size", "4", "--out", half);
    expect(b.code).toBe(0);
    expect(readSafetensors(new Uint8Array(readFileSync(half))).metadata).toEqual({ "kiln.epochs": "1", "kiln.seed": "5", "kiln.batch_size": "4", "kiln.shuffle": "true" });
    const resumed = join(dir, "resumed.safetensors");
    const c = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--batch-size", "4", "--resume", half, "--out", resumed);
    expect(c.err).toBe("");
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^Epoch 2\/3\n\d+\/\d+ ━+ .*loss: .*\nEpoch 3\/3\n.*\nsaved /);
    expect(sameTensors(resumed, straight)).toBe(true);
    // Whole files too: the record says 3 epochs in both.
    expect(Buffer.from(readFileSync(resumed)).equals(readFileSync(straight))).toBe(true);
  });

  test("--resume from a file without the epoch record needs --initial-epoch, and then resumes exactly", async () => {
    const bare = new Map(tensorsOf(half));
    const noRecord = file("no-record.safetensors", writeSafetensors(bare));
    const r = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--batch-size", "4", "--resume", noRecord, "--out", join(dir, "x.safetensors"));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiln train: ${noRecord} does not record how many epochs it was trained for (metadata "kiln.epochs", written by kiln train); give --initial-epoch\n`);
    const out = join(dir, "resumed2.safetensors");
    const ok = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--batch-size", "4", "--resume", noRecord, "--initial-epoch", "1", "--out", out);
    expect(ok.code).toBe(0);
    expect(sameTensors(out, straight)).toBe(true);
  });

  test("resuming at or past --epochs, without optimizer state, or with --weights too: exit 2 before training", async () => {
    const out = join(dir, "never.safetensors");
    const past = await run("train", GRAPH, "--data", DATA, "--epochs", "1", "--resume", half, "--out", out);
    expect(past.code).toBe(2);
    expect(past.err).toBe("kiln train: the run starts at epoch 2 but --epochs is 1: --epochs counts from the start of training (as Keras's epochs), so give more than 1\n");
    const weightsOnly = file("weights-only.safetensors", writeSafetensors(new Map([...tensorsOf(half)].filter(([k]) => !k.startsWith("optimizer/")))));
    const noState = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--resume", weightsOnly, "--out", out);
    expect(noState.code).toBe(2);
    expect(noState.err).toMatch(/has no optimizer state \(optimizer\/step\)/);
    const both = await run("train", GRAPH, "--data", DATA, "--epochs", "3", "--resume", half, "--weights", half, "--out", out);
    expect(both.code).toBe(2);
    expect(both.err).toBe("kiln train: --resume and --weights both give the starting weights; use one\n");
    expect(past.out + noState.out + both.out).toBe("");
  });

  test("resuming with another batch size trains on, with a note that the result will differ", async () => {
    const r = await run("train", GRAPH, "--data", DATA, "--epochs", "2", "--batch-size", "5", "--resume", half, "--out", join(dir, "other.safetensors"));
    expect(r.code).toBe(0);
    expect(r.err).toBe(`kiln train: note: ${half} was trained with kiln.batch_size "4", this run uses "5": the result will differ from an uninterrupted run\n`);
  });
});
