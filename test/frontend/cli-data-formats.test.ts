/**
 * `kiln train/evaluate/predict --data` in the formats people have (issue 21 item 8): NumPy .npy
 * (float64, Fortran order, big-endian, int64 labels), .npz (stored and deflated, arrays by slot
 * name or mapped as name=file.npz:array) and CSV (--columns ranges, a label column by name) train
 * to the same bytes as the same data in safetensors; evaluate and predict read them too; errors
 * name the file, array or column and what was expected.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { main } from "../../compiler/cli/main.js";
import { writeDataFile } from "../../runtime/safetensors.js";
import { bigEndian, fortranOf, npy, npyOf, npz } from "./data-files.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-formats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

/** `--data` before each item, except flags and the value after a flag. */
const dataArgs = (items: string[]) => items.flatMap((d, i) => (d.startsWith("--") || items[i - 1]?.startsWith("--") ? [d] : ["--data", d]));

async function run(...argv: string[]) {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const GRAPH = file("graph.json", JSON.stringify({
  format: "kiln.graph/v2", name: "formats", seed: 4,
  inputs: [{ name: "features", shape: [2, 3] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [{ name: "flat", op: "flatten" }, { name: "h", op: "dense", units: 5, activation: "relu" }, { name: "probs", op: "dense", units: 3, activation: "softmax" }],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "adam", learning_rate: 0.05 }, metrics: ["accuracy"] },
}));

const N = 37;
// float32 values; their float64 copies are exact, so every format holds the same numbers.
const features = Float32Array.from({ length: N * 6 }, (_, i) => Math.fround(Math.sin(i * 0.7) * 2));
const labels = Int32Array.from({ length: N }, (_, i) => (i * 7) % 3);
const SAFETENSORS = file("data.safetensors", writeDataFile({ features: { shape: [N, 2, 3], data: features }, label: { shape: [N], data: labels } }));

/** Trains 2 shuffled epochs on `data` items; returns the saved file's bytes (weights, optimizer state, run record). */
async function trained(name: string, ...data: string[]): Promise<Buffer> {
  const out = join(dir, `${name}.safetensors`);
  const r = await run("train", GRAPH, ...dataArgs(data), "--epochs", "2", "--batch-size", "8", "--out", out, "--verbose", "0");
  expect(r.err, name).toBe("");
  expect(r.code, name).toBe(0);
  return readFileSync(out);
}

describe("NumPy and CSV data train as safetensors does", () => {
  test(".npz (by name, stored; mapped, deflated), .npy (float64 Fortran order, big-endian int32, int64) and CSV give the same bytes", async () => {
    const want = await trained("safetensors", SAFETENSORS);
    const int64 = BigInt64Array.from(labels, (v) => BigInt(v));
    const byName = file("byname.npz", npz({ features: npyOf(features, [N, 2, 3]), label: npyOf(int64, [N]) }));
    expect(await trained("npz", byName)).toEqual(want);
    const mapped = file("mapped.npz", npz({ x_train: npyOf(features, [N, 2, 3], { version: 2 }), y_train: npyOf(Uint8Array.from(labels), [N]) }, true));
    expect(await trained("npz-mapped", `features=${mapped}:x_train`, `label=${mapped}:y_train`)).toEqual(want);
    const x64 = file("x64.npy", npy("<f8", [N, 2, 3], new Uint8Array(fortranOf(Float64Array.from(features), [N, 2, 3]).buffer), { fortran: true }));
    const yBig = file("ybig.npy", bigEndian(labels, [N]));
    expect(await trained("npy", `features=${x64}`, `label=${yBig}`)).toEqual(want);
    expect(await trained("npy-i8", `features=${x64}`, `label=${file("y64.npy", npyOf(int64, [N]))}`)).toEqual(want);
    const header = "id,f0,f1,f2,f3,f4,f5,label";
    const rows = Array.from({ length: N }, (_, i) => [i, ...Array.from(features.subarray(i * 6, i * 6 + 6), String), labels[i]].join(","));
    const csv = file("data.csv", `${header}\n${rows.join("\n")}\n`);
    expect(await trained("csv", csv, "--columns", "features=f0:f5")).toEqual(want);
    // Shards: the first 20 examples in safetensors, the rest in .npz, concatenated in order.
    const head = file("head.safetensors", writeDataFile({ features: { shape: [20, 2, 3], data: features.slice(0, 120) }, label: { shape: [20], data: labels.slice(0, 20) } }));
    const tail = file("tail.npz", npz({ features: npyOf(features.slice(120), [N - 20, 2, 3]), label: npyOf(labels.slice(20), [N - 20]) }));
    expect(await trained("shards", head, tail)).toEqual(want);
  }, 120_000);

  test("evaluate and predict read .npz, .npy and CSV as safetensors", async () => {
    const weights = join(dir, "safetensors.safetensors");
    await trained("safetensors", SAFETENSORS);
    const evaluate = async (...data: string[]) => await run("evaluate", GRAPH, ...dataArgs(data), "--weights", weights, "--json");
    const want = await evaluate(SAFETENSORS);
    expect(want.err).toBe("");
    expect(JSON.parse(want.out).loss).toBeGreaterThan(0);
    expect(await evaluate(file("e.npz", npz({ features: npyOf(features, [N, 2, 3]), label: npyOf(labels, [N]) })))).toEqual(want);
    const csv = file("e.csv", `label,a,b,c,d,e,f\n${Array.from({ length: N }, (_, i) => [labels[i], ...Array.from(features.subarray(i * 6, i * 6 + 6), String)].join(",")).join("\n")}`);
    expect(await evaluate(csv, "--columns", "features=a,b,c:f")).toEqual(want);
    const predicted = (await run("predict", GRAPH, "--data", SAFETENSORS, "--weights", weights, "--json")).out;
    // One input: a bare .npy is it.
    expect((await run("predict", GRAPH, "--data", file("p.npy", npyOf(features, [N, 2, 3])), "--weights", weights, "--json")).out).toBe(predicted);
  }, 120_000);
});

describe("errors name the file, array or column and what was expected", () => {
  const x = () => file("x.npy", npyOf(features, [N, 2, 3]));
  const cases: [string, () => string[], RegExp][] = [
    ["a missing .npz array", () => [`features=${file("m.npz", npz({ a: npyOf(features, [N, 2, 3]) }))}:x_train`, `label=${file("l.npy", npyOf(labels, [N]))}`], /m\.npz has no array "x_train" \(it has "a"\)/],
    ["an unsupported dtype", () => [`features=${file("h.npy", npy("<f2", [N, 2, 3], new Uint8Array(N * 12)))}`, "label=" + file("l.npy", npyOf(labels, [N]))], /h\.npy: dtype "<f2" is not one kiln reads; expected <f4, <f8, <i4, <i8, \|u1 or \|b1/],
    ["a shape that differs", () => [`features=${file("s.npy", npyOf(features, [N, 6]))}`, "label=" + file("l.npy", npyOf(labels, [N]))], /s\.npy: expected \[N, 2, 3\] F32 for "features", got \[37, 6\] float32 \(the same 6 values per example: reshape it to \[N, 2, 3\]\)/],
    ["fractional labels", () => [`features=${x()}`, `label=${file("f.npy", npyOf(Float32Array.from(labels, (v, i) => (i === 5 ? 0.5 : v)), [N]))}`], /f\.npy: "label" takes int32 ids; element 5 \(example 5\) is 0\.5/],
    ["an unnamed .npy for two slots", () => [x()], /x\.npy holds one unnamed array; say which input or target it is, e\.g\. --data features=/],
    ["a CSV word", () => [file("w.csv", "label,a,b,c,d,e,f\n1,1,2,3,4,5,6\n2,1,2,oops,4,5,6\n"), "--columns", "features=a:f"], /w\.csv: line 3, column "c": expected a number, got "oops"/],
    ["a CSV column not there", () => [file("c.csv", "label,a\n1,2\n"), "--columns", "features=a:f"], /c\.csv: --columns features: no column "f" in the header \(it has "label", "a"\)/],
    ["a CSV range of the wrong width", () => [file("r.csv", "label,a,b,c,d,e,f\n1,1,2,3,4,5,6\n"), "--columns", "features=a:e"], /--columns features names 5 columns; "features" takes 6 values per example \(shape \[2, 3\]\)/],
    ["a ragged CSV", () => [file("g.csv", "label,a,b,c,d,e,f\n1,1,2,3,4,5,6\n1,2\n"), "--columns", "features=a:f"], /g\.csv: not readable as CSV: .*(record|column)/i],
    ["examples that disagree", () => [`features=${x()}`, `label=${file("short.npy", npyOf(labels.slice(1), [N - 1]))}`], /"label" has 36 examples .* but "features" has 37/],
    ["not a .npy", () => [`features=${file("bad.npy", "hello, not numpy")}`, `label=${file("l.npy", npyOf(labels, [N]))}`], /bad\.npy: not a NumPy \.npy array: expected the magic string/],
    ["not a zip", () => [file("bad.npz", "PK but not a zip at all")], /bad\.npz: not a readable \.npz \(zip\) archive/],
    ["an unknown extension", () => [file("d.parquet", "x")], /d\.parquet: unknown kind of data file; expected \.safetensors, \.npy, \.npz or \.csv/],
  ];
  for (const [what, data, message] of cases) {
    test(what, async () => {
      const r = await run("train", GRAPH, ...dataArgs(data()), "--out", join(dir, "never.safetensors"));
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    });
  }
});
