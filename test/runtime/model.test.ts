/**
 * Model calls on hand-made modules: predict with batch splitting, every input check (and that it
 * runs before memory is written), traps, trainStep against a float64 reference, evaluate's
 * weighted means, get/setWeights, save/load round trips with optimizer state, initialization, dispose.
 */
import { describe, expect, test } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { readSafetensors, writeSafetensors } from "../../runtime/safetensors.js";
import { linearManifest, moduleBytes, probeManifest } from "./fixtures.js";
import { kilnError, rejects } from "../util/errors.js";

const linear = async (o = {}) => loadModel(await moduleBytes(linearManifest(o)));
const probe = async (o = {}) => loadModel(await moduleBytes(probeManifest(o)));

/** White-box: the bytes of the module's memory, to prove failed calls wrote nothing. */
const memoryBytes = (m: Model) => Buffer.from(m.memoryView().slice());
/** Byte equality without vitest's slow element-wise diff of 196 KB arrays. */
const same = (a: Buffer, b: Buffer) => expect(a.equals(b)).toBe(true);

const W = new Float32Array([0.5, -1, 2, 0.25, -0.75, 1.5]); // [3, 2]
const B = new Float32Array([0.1, -0.2]);

function reference(x: Float32Array, w: ArrayLike<number> = W, b: ArrayLike<number> = B): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length / 3; i++) {
    for (let u = 0; u < 2; u++) out.push(b[u] + x[i * 3] * w[u] + x[i * 3 + 1] * w[2 + u] + x[i * 3 + 2] * w[4 + u]);
  }
  return out;
}

const ramp = (n: number, f = (i: number) => i) => Float32Array.from({ length: n }, (_, i) => f(i));

describe("predict", () => {
  test.each([1, 4, 11])("batch of %i (maxBatch 4) matches x·W + b", async (n) => {
    const m = await linear();
    m.setWeights({ "dense/kernel": W, "dense/bias": B });
    const x = ramp(n * 3, (i) => Math.sin(i) * 3);
    const { out } = m.predict({ x });
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(n * 2);
    reference(x).forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
  });

  test("several inputs and outputs, float32 and int32, split into chunks", async () => {
    const m = await probe();
    const n = 9;
    const a = ramp(n * 2, (i) => i * 0.5);
    const ids = Int32Array.from({ length: n * 3 }, (_, i) => i % 7);
    const { sum, seed } = m.predict({ a, ids });
    for (let i = 0; i < n; i++) {
      expect(sum[i]).toBe(a[2 * i] + a[2 * i + 1] + ids[3 * i] + ids[3 * i + 1] + ids[3 * i + 2]);
    }
    expect(Array.from(seed)).toEqual(new Array(n).fill(42)); // the runtime wrote manifest.seed
  });

  test("outputs are the caller's own copies: later calls and changes leave them alone", async () => {
    const m = await linear();
    m.setWeights({ "dense/kernel": W, "dense/bias": B });
    const x1 = ramp(3, (i) => i + 1), x2 = ramp(3, (i) => -i);
    const first = m.predict({ x: x1 }).out;
    const kept = Array.from(first);
    const second = m.predict({ x: x2 }).out;
    expect(Array.from(first)).toEqual(kept);
    second.fill(7);
    expect(Array.from(m.predict({ x: x1 }).out)).toEqual(kept);
    expect(first.buffer).not.toBe(m.memoryView().buffer);
    reference(x2).forEach((v, i) => expect(m.predict({ x: x2 }).out[i]).toBeCloseTo(v, 5));
  });

  test("model properties come from the manifest", async () => {
    const m = await probe();
    expect(m.maxBatch).toBe(4);
    expect(m.canTrain).toBe(true);
    expect(m.inputs).toEqual([
      { name: "a", shape: [2], dtype: "float32" },
      { name: "ids", shape: [3], dtype: "int32", range: [0, 10] },
    ]);
    expect(m.outputs.map((o) => o.name)).toEqual(["sum", "seed"]);
    expect(m.targets).toEqual([{ name: "t", shape: [1], dtype: "float32" }]);
    expect(m.weights).toEqual([
      { name: "dense/kernel", shape: [4, 3], trainable: true },
      { name: "dense/bias", shape: [3], trainable: true },
      { name: "lstm/bias", shape: [8], trainable: true },
    ]);
    expect(m.capabilities.simd).toBe(true);
  });

  test("a trap inside an export is a KilnError naming the export; the model stays usable", async () => {
    const m = await probe();
    const e = kilnError(() => m.predict({ a: ramp(2), ids: new Int32Array([1, 7, 2]) }));
    expect(e.diagnostics[0].code).toBe("trap");
    expect(e.message).toMatch(/export "probe_predict"/);
    expect(m.predict({ a: ramp(2), ids: new Int32Array([1, 2, 3]) }).sum[0]).toBe(7);
  });
});

describe("input checks", () => {
  const good = () => ({ a: ramp(4), ids: new Int32Array([1, 2, 3, 4, 5, 6]) });

  const cases: [string, () => Record<string, unknown>, RegExp, string][] = [
    ["unknown name", () => ({ ...good(), b: ramp(2) }), /unknown input "b"; expected "a", "ids"/, "b"],
    ["missing name", () => ({ a: ramp(4) }), /input "ids": missing; expected Int32Array \(int32\)/, "ids"],
    ["Float64Array", () => ({ ...good(), a: new Float64Array(4) }), /input "a": expected Float32Array \(float32\), got Float64Array/, "a"],
    ["plain array", () => ({ ...good(), a: [1, 2, 3, 4] }), /input "a": expected Float32Array \(float32\), got Array/, "a"],
    ["float ids", () => ({ ...good(), ids: new Float32Array(6) }), /input "ids": expected Int32Array \(int32\), got Float32Array/, "ids"],
    ["empty", () => ({ ...good(), a: new Float32Array(0) }), /input "a": expected a positive multiple of 2 elements \(examples of shape \[2\]\), got 0/, "a"],
    ["ragged", () => ({ ...good(), ids: new Int32Array(7) }), /input "ids": expected a positive multiple of 3 elements \(examples of shape \[3\]\), got 7/, "ids"],
    ["batch mismatch", () => ({ ...good(), ids: new Int32Array(9) }), /input "ids" has 3 examples but "a" has 2/, "ids"],
    ["id too large", () => ({ ...good(), ids: new Int32Array([1, 2, 3, 4, 10, 6]) }), /input "ids": element 4 \(example 1, index \[1\]\) is 10; expected an id in \[0, 10\)/, "ids"],
    ["negative id", () => ({ ...good(), ids: new Int32Array([-1, 2, 3, 4, 5, 6]) }), /element 0 \(example 0, index \[0\]\) is -1; expected an id in \[0, 10\)/, "ids"],
    ["NaN", () => ({ ...good(), a: new Float32Array([1, 2, 3, NaN]) }), /input "a": element 3 \(example 1, index \[1\]\) is NaN; expected a finite number/, "a"],
    ["Infinity", () => ({ ...good(), a: new Float32Array([1, -Infinity, 3, 4]) }), /element 1 \(example 0, index \[1\]\) is -Infinity/, "a"],
    // the finiteness check sums the elements eight at a time and then scans: a problem in the tail, and the first of several
    ["NaN past the blocks of 8", () => ({ a: ramp(18, (i) => (i === 17 ? NaN : i)), ids: new Int32Array(27) }), /input "a": element 17 \(example 8, index \[1\]\) is NaN/, "a"],
    ["first of several non-finite", () => ({ a: ramp(18, (i) => (i === 5 ? Infinity : i === 2 ? -Infinity : i === 1 ? NaN : i)), ids: new Int32Array(27) }), /input "a": element 1 \(example 0, index \[1\]\) is NaN/, "a"],
  ];

  test.each(cases)("%s", async (_, feeds, message, path) => {
    const m = await probe();
    m.predict(good()); // leaves values in memory that a failed call must not touch
    const before = memoryBytes(m);
    const e = kilnError(() => m.predict(feeds() as never));
    expect(e.message).toMatch(message);
    expect(e.diagnostics[0]).toMatchObject({ code: "input", path });
    same(memoryBytes(m), before);
  });

  test("a detached buffer is rejected", async () => {
    const m = await probe();
    const a = ramp(4);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    expect(() => m.predict({ a, ids: new Int32Array(6) })).toThrow(/input "a": .*(detached|got 0)/);
  });

  test("every problem of a call is reported at once", async () => {
    const m = await probe();
    const e = kilnError(() => m.predict({ a: new Float64Array(2), ids: new Int32Array([11, 0, 0]), c: ramp(1) } as never));
    expect(e.diagnostics.map((d) => d.path).sort()).toEqual(["a", "c", "ids"]);
  });

  test("feeds must be an object", async () => {
    const m = await probe();
    expect(() => m.predict(null as never)).toThrow(/expected an object of inputs by name, got null/);
    expect(() => m.predict(ramp(2) as never)).toThrow(/got Float32Array/);
  });

  test("trainStep checks targets too, and its batch limit", async () => {
    const m = await probe();
    expect(() => m.trainStep({ a: ramp(2), ids: new Int32Array(3) })).toThrow(/input or target "t": missing/);
    const n = 5;
    expect(() => m.trainStep({ a: ramp(2 * n), ids: new Int32Array(3 * n), t: ramp(n) })).toThrow(
      /trainStep takes at most maxBatch = 4 examples, got 5/,
    );
  });
});

describe("trainStep and evaluate", () => {
  test("one step of momentum sgd matches a float64 reference; loss and metrics are before the update", async () => {
    const m = await linear();
    m.setWeights({ "dense/kernel": W, "dense/bias": B });
    const x = ramp(9, (i) => Math.cos(i));
    const y = ramp(6, (i) => i % 3);
    const out = reference(x);
    const err = out.map((o, i) => o - y[i]);
    const r = m.trainStep({ x, y });
    expect(r.loss).toBeCloseTo(err.reduce((s, e) => s + e * e, 0) / 6, 5);
    expect(r.metrics.mean_absolute_error).toBeCloseTo(err.reduce((s, e) => s + Math.abs(e), 0) / 6, 5);
    const w = m.getWeights();
    for (let d = 0; d < 3; d++) {
      for (let u = 0; u < 2; u++) {
        const g = (2 / 6) * [0, 1, 2].reduce((s, i) => s + x[i * 3 + d] * err[i * 2 + u], 0);
        expect(w["dense/kernel"][d * 2 + u]).toBeCloseTo(W[d * 2 + u] - 0.1 * g, 5);
      }
    }
    // A second step uses the momentum left by the first: the loss keeps falling.
    expect(m.trainStep({ x, y }).loss).toBeLessThan(r.loss);
  });

  test("evaluate: means weighted by chunk size, at most maxBatch per chunk, no update", async () => {
    const m = await probe();
    const n = 10;
    const a = ramp(2 * n, (i) => (i % 2 ? i * i : 0)); // evaluate's loss is the batch mean of a[:, 1]
    const data = { a, ids: new Int32Array(3 * n), t: ramp(n) };
    const meanA1 = Array.from({ length: n }, (_, i) => a[2 * i + 1]).reduce((s, v) => s + v, 0) / n;
    const r3 = m.evaluate(data, { batchSize: 3 });
    expect(r3.loss).toBeCloseTo(meanA1, 3);
    expect(r3.metrics.accuracy).toBeCloseTo((3 * 3 * 3 + 1 * 1) / n, 6); // the probe reports the chunk size
    expect(m.evaluate(data, { batchSize: 100 }).metrics.accuracy).toBeCloseTo((4 * 4 + 4 * 4 + 2 * 2) / n, 6);
    expect(m.evaluate(data).loss).toBeCloseTo(meanA1, 3);
    const st = readSafetensors(m.saveWeights()).tensors.get("optimizer/step")!;
    expect(new Int32Array(st.data.buffer, st.data.byteOffset, 1)[0]).toBe(0);
    expect(() => m.evaluate(data, { batchSize: 0 })).toThrow(/batchSize must be an integer ≥ 1, got 0/);
  });

  test("an inference-only model refuses training calls", async () => {
    const manifest = probeManifest({ canTrain: false, training: undefined, targets: [] });
    const m = await loadModel(await moduleBytes(manifest));
    expect(m.canTrain).toBe(false);
    expect(() => m.trainStep({ a: ramp(2), ids: new Int32Array(3) })).toThrow(/inference-only/);
    expect(() => m.evaluate({ a: ramp(2), ids: new Int32Array(3) })).toThrow(/inference-only/);
    await expect(m.fit({ a: ramp(2), ids: new Int32Array(3) })).rejects.toThrow(/inference-only/);
    expect(m.predict({ a: ramp(2), ids: new Int32Array(3) }).sum[0]).toBe(1);
  });
});

describe("weights", () => {
  test("getWeights returns copies; setWeights takes a partial record", async () => {
    const m = await linear();
    const w = m.getWeights();
    expect(Object.keys(w)).toEqual(["dense/kernel", "dense/bias"]);
    w["dense/kernel"].fill(9);
    expect(m.getWeights()["dense/kernel"]).not.toContain(9);
    m.setWeights({ "dense/bias": B });
    expect(m.getWeights()["dense/bias"]).toEqual(B);
    expect(m.getWeights()["dense/kernel"]).toEqual(m.getWeights()["dense/kernel"]);
  });

  test.each([
    ["unknown name", { "dense/kernal": W }, /dense\/kernal: unknown weight "dense\/kernal"; the model has "dense\/kernel", "dense\/bias"/],
    ["wrong length", { "dense/bias": new Float32Array(3) }, /dense\/bias: expected 2 elements \(shape \[2\]\), got 3/],
    ["wrong type", { "dense/bias": [1, 2] }, /dense\/bias: expected a Float32Array, got Array/],
  ])("setWeights rejects %s before writing anything", async (_, bad, message) => {
    const m = await linear();
    const before = m.getWeights();
    const e = kilnError(() => m.setWeights({ "dense/kernel": W, ...bad } as never));
    expect(e.message).toMatch(message);
    expect(m.getWeights()).toEqual(before);
  });

  test("save → load round trip restores weights and optimizer state: training continues identically", async () => {
    const x = ramp(12, (i) => Math.sin(i)), y = ramp(8, (i) => i % 2);
    const a = await linear();
    for (let i = 0; i < 3; i++) a.trainStep({ x, y });
    const bytes = a.saveWeights();
    const file = readSafetensors(bytes).tensors;
    expect([...file.keys()].sort()).toEqual(
      ["dense/bias", "dense/kernel", "optimizer/momentum/dense/bias", "optimizer/momentum/dense/kernel", "optimizer/step"],
    );
    expect(file.get("optimizer/step")).toMatchObject({ dtype: "I32", shape: [] });
    expect(new Int32Array(file.get("optimizer/step")!.data.buffer, 0, 1)[0]).toBe(3);
    expect(file.get("dense/kernel")).toMatchObject({ dtype: "F32", shape: [3, 2] });

    const b = await linear({ seed: 99 }); // different initial weights, overwritten by the load
    b.loadWeights(bytes);
    expect(b.getWeights()).toEqual(a.getWeights());
    const c = await loadModel(await moduleBytes(linearManifest({ seed: 99 })), { weights: bytes });
    const ra = a.trainStep({ x, y }), rb = b.trainStep({ x, y }), rc = c.trainStep({ x, y });
    expect(rb).toEqual(ra);
    expect(rc).toEqual(ra);
    expect(b.getWeights()).toEqual(a.getWeights());
    expect(readSafetensors(b.saveWeights()).tensors.get("optimizer/step")!.data).toEqual(readSafetensors(a.saveWeights()).tensors.get("optimizer/step")!.data);
  });

  test("saveWeights({ optimizer: false }) writes weights only; loading it leaves optimizer state alone", async () => {
    const a = await linear();
    a.trainStep({ x: ramp(3), y: ramp(2) });
    const bytes = a.saveWeights({ optimizer: false });
    expect([...readSafetensors(bytes).tensors.keys()].sort()).toEqual(["dense/bias", "dense/kernel"]);
    const b = await linear();
    b.loadWeights(bytes);
    expect(b.getWeights()).toEqual(a.getWeights());
    const step = readSafetensors(b.saveWeights()).tensors.get("optimizer/step")!;
    expect(new Int32Array(step.data.buffer, step.data.byteOffset, 1)[0]).toBe(0);
  });

  test("an inference-only model saves weights only and ignores optimizer tensors when loading", async () => {
    const trained = await linear();
    trained.trainStep({ x: ramp(3), y: ramp(2) });
    const m = await loadModel(await moduleBytes(linearManifest({ canTrain: false, training: undefined })));
    m.loadWeights(trained.saveWeights());
    expect(m.getWeights()).toEqual(trained.getWeights());
    expect([...readSafetensors(m.saveWeights()).tensors.keys()].sort()).toEqual(["dense/bias", "dense/kernel"]);
  });

  const f32 = (shape: number[], n = shape.reduce((a, b) => a * b, 1)) => ({ dtype: "F32" as const, shape, data: new Float32Array(n).fill(3) });
  const full = () => ({
    "dense/kernel": f32([3, 2]),
    "dense/bias": f32([2]),
    "optimizer/momentum/dense/kernel": f32([3, 2]),
    "optimizer/momentum/dense/bias": f32([2]),
    "optimizer/step": { dtype: "I32" as const, shape: [], data: new Int32Array([5]) },
  });
  test.each([
    ["a missing weight", { "dense/bias": undefined }, /dense\/bias: missing from the weights file/],
    ["a wrong shape", { "dense/kernel": f32([2, 3]) }, /dense\/kernel: expected F32 \[3, 2\], got F32 \[2, 3\]/],
    ["a wrong dtype", { "dense/bias": { dtype: "I32", shape: [2], data: new Int32Array(2) } }, /dense\/bias: expected F32 \[2\], got I32 \[2\]/],
    ["an unknown tensor", { "dense/extra": f32([1]) }, /dense\/extra: the model has no tensor "dense\/extra"/],
    ["partial optimizer state", { "optimizer/step": undefined }, /optimizer\/step: missing from the weights file/],
    ["a step of the wrong dtype", { "optimizer/step": f32([]) }, /optimizer\/step: expected I32 \[\], got F32 \[\]/],
  ])("loadWeights rejects %s before writing anything", async (_, change, message) => {
    const m = await linear();
    const before = memoryBytes(m);
    const record: Record<string, unknown> = { ...full(), ...change };
    for (const k of Object.keys(record)) if (record[k] === undefined) delete record[k];
    const e = kilnError(() => m.loadWeights(writeSafetensors(record as never)));
    expect(e.message).toMatch(message);
    same(memoryBytes(m), before);
    m.loadWeights(writeSafetensors(full())); // the complete file loads
    expect(Array.from(m.getWeights()["dense/bias"])).toEqual([3, 3]);
  });
});

describe("initialization at load", () => {
  test("seeded: the same manifest gives the same weights, another seed others; zeros and onesRange", async () => {
    const a = (await probe()).getWeights();
    expect((await probe()).getWeights()).toEqual(a);
    expect((await probe({ seed: 43 })).getWeights()["dense/kernel"]).not.toEqual(a["dense/kernel"]);
    const limit = Math.sqrt(6 / 7);
    expect(a["dense/kernel"].every((v) => Math.abs(v) <= limit && v !== 0)).toBe(true);
    expect(a["dense/kernel"][0]).not.toBe(1.5); // the module's own data was overwritten
    expect(Array.from(a["dense/bias"])).toEqual([0, 0, 0]);
    expect(Array.from(a["lstm/bias"])).toEqual([0, 0, 1, 1, 0, 0, 0, 0]);
  });

  test("weightsEmbedded: the kiln.weights section is loaded, not the initializers", async () => {
    const f = (n: number, v: number) => ({ dtype: "F32" as const, shape: [n], data: new Float32Array(n).fill(v) });
    const section = writeSafetensors({ "dense/kernel": { ...f(12, 2.5), shape: [4, 3] }, "dense/bias": f(3, -1), "lstm/bias": f(8, 0) });
    const w = (await loadModel(await moduleBytes(probeManifest({ weightsEmbedded: true }), section))).getWeights();
    expect(Array.from(w["dense/kernel"])).toEqual(new Array(12).fill(2.5));
    expect(Array.from(w["dense/bias"])).toEqual([-1, -1, -1]);
    expect(Array.from(w["lstm/bias"])).toEqual(new Array(8).fill(0)); // no onesRange: the file's values
  });

  test("weightsEmbedded without a kiln.weights section is refused (it would run on zeros)", async () => {
    const e = await rejects(loadModel(await moduleBytes(probeManifest({ weightsEmbedded: true }))));
    expect(e.message).toMatch(/weightsEmbedded but the module has no kiln.weights section/);
  });

  test("the dropout seed is written as a u32, also for large seeds", async () => {
    const m = await probe({ seed: 123456789 });
    expect(m.predict({ a: ramp(2), ids: new Int32Array(3) }).seed[0]).toBe(Math.fround(123456789));
    expect(m.trainStep({ a: ramp(2), ids: new Int32Array(3), t: ramp(1) }).metrics.accuracy).toBe(Math.fround(123456789));
  });
});

test("dispose: every later call throws a KilnError", async () => {
  const m = await linear();
  m.dispose();
  for (const call of [
    () => m.predict({ x: ramp(3) }),
    () => m.trainStep({ x: ramp(3), y: ramp(2) }),
    () => m.evaluate({ x: ramp(3), y: ramp(2) }),
    () => m.getWeights(),
    () => m.setWeights({}),
    () => m.saveWeights(),
    () => m.loadWeights(new Uint8Array(8)),
  ]) {
    const e = kilnError(call);
    expect(e.diagnostics[0].code).toBe("disposed");
    expect(e.message).toMatch(/disposed/);
  }
  await expect(m.fit({ x: ramp(3), y: ramp(2) })).rejects.toThrow(/disposed/);
});
