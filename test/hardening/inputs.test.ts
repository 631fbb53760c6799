/**
 * Runtime input fuzzing (issue 7, item 5): seeded wrong calls — unknown and missing names, wrong
 * lengths and typed-array types, NaN and infinities, detached buffers, ids out of range, batch
 * limits, bad options, bad weight maps and weight files — on hand-made modules and a compiled one (class-id targets, token ids). Each must end in a
 * KilnError naming the input (or option, or tensor) with what was expected and what came, and the
 * whole wasm memory must hash the same before and after. Default 2,000 calls; KILN_FUZZ_FULL=1: 10,000.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import type { Manifest } from "../../runtime/manifest.js";
import { writeSafetensors } from "../../runtime/safetensors.js";
import { linearManifest, moduleBytes, probeManifest } from "../runtime/fixtures.js";
import { rng } from "../compile/harness.js";
import { compile } from "../../compiler/index.js";

const FULL = process.env.KILN_FUZZ_FULL === "1";
const CALLS = FULL ? 10_000 : 2_000;

/** What a wrong call must produce: a diagnostic at `path` whose message holds every `says`. */
interface Case {
  label: string;
  call: (m: Model) => unknown;
  path: string;
  says: string[];
}

const hash = (m: Model) => createHash("sha1").update(m.memoryView()).digest("hex");
const per = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

type Info = { name: string; shape: number[]; dtype: string; range?: [number, number] };

/** Valid data for `slots` at `batch` examples. */
function valid(slots: Info[], batch: number, r: () => number): Record<string, Float32Array | Int32Array> {
  return Object.fromEntries(slots.map((s) => {
    const n = batch * per(s.shape);
    return [s.name, s.dtype === "int32" ? Int32Array.from({ length: n }, () => Math.floor(r() * s.range![1])) : Float32Array.from({ length: n }, () => r() - 0.5)];
  }));
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function detached(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

/** One wrong data argument for the slots `slots` of `what`; the call is made by `use`. */
function badFeeds(slots: Info[], batch: number, r: () => number, what: string): Omit<Case, "call"> & { feeds: unknown } {
  const feeds: Record<string, unknown> = valid(slots, batch, r);
  const s = pick(r, slots);
  const kind = Math.floor(r() * 9);
  switch (kind) {
    case 0: {
      const name = pick(r, ["nope", "X", "constructor", "__proto__", "toString", "x ", "", "a/b", s.name + "_"]);
      const withExtra = Object.fromEntries([...Object.entries(feeds), [name, new Float32Array(3)]]);
      return { label: `unknown ${what} ${JSON.stringify(name)}`, feeds: withExtra, path: name, says: [`unknown ${what} "${name}"`, "expected"] };
    }
    case 1:
      delete feeds[s.name];
      return { label: `missing ${s.name}`, feeds, path: s.name, says: ["missing", "expected"] };
    case 2: {
      const want = s.dtype === "int32" ? "Int32Array" : "Float32Array";
      const n = batch * per(s.shape);
      const [got, value] = pick(r, [
        ["Float64Array", new Float64Array(n)], ["Uint8Array", new Uint8Array(n)], ["Array", Array(n).fill(0)],
        ["number", 3], ["string", "data"], ["null", null], ["DataView", new DataView(new ArrayBuffer(4 * n))],
        s.dtype === "int32" ? ["Float32Array", new Float32Array(n)] : ["Int32Array", new Int32Array(n)],
        ["Uint32Array", new Uint32Array(n)], ["BigInt64Array", new BigInt64Array(n)],
      ] as [string, unknown][]);
      feeds[s.name] = value;
      return { label: `${s.name} as ${got}`, feeds, path: s.name, says: [`expected ${want}`, `got ${got}`] };
    }
    case 3: {
      const size = per(s.shape);
      let len = Math.floor(r() * 40);
      if (size > 1 && len > 0 && len % size === 0) len++;
      if (size === 1) len = 0;
      feeds[s.name] = s.dtype === "int32" ? new Int32Array(len) : new Float32Array(len);
      return { label: `${s.name} of length ${len}`, feeds, path: s.name, says: [`multiple of ${size}`, `got ${len}`] };
    }
    case 4: {
      const f = slots.filter((x) => x.dtype === "float32");
      const t = pick(r, f);
      const a = feeds[t.name] as Float32Array;
      const i = Math.floor(r() * a.length), v = pick(r, [NaN, Infinity, -Infinity]);
      a[i] = v;
      return { label: `${t.name}[${i}] = ${v}`, feeds, path: t.name, says: [`element ${i}`, `example ${Math.floor(i / per(t.shape))}`, `is ${v}`, "expected a finite number"] };
    }
    case 5: {
      const ints = slots.filter((x) => x.range);
      if (!ints.length) return badFeeds(slots, batch, r, what);
      const t = pick(r, ints);
      const a = feeds[t.name] as Int32Array;
      const i = Math.floor(r() * a.length), v = pick(r, [-1, t.range![1], t.range![1] + 1, 2 ** 31 - 1, -(2 ** 31)]);
      a[i] = v;
      return { label: `${t.name}[${i}] = ${v}`, feeds, path: t.name, says: [`element ${i}`, `is ${v}`, `[${t.range![0]}, ${t.range![1]})`] };
    }
    case 6: {
      if (slots.length < 2) return badFeeds(slots, batch, r, what);
      const t = slots[1];
      const other = batch + 1 + Math.floor(r() * 3);
      feeds[t.name] = valid([t], other, r)[t.name];
      return { label: `${t.name} with ${other} examples, others ${batch}`, feeds, path: t.name, says: [`${other} examples`, `has ${batch}`] };
    }
    case 7:
      if (s.dtype === "int32") return badFeeds(slots, batch, r, what);
      feeds[s.name] = detached(batch * per(s.shape));
      return { label: `${s.name} detached`, feeds, path: s.name, says: ["got 0", "detached"] };
    default: {
      const [got, value] = pick(r, [["null", null], ["number", 7], ["Array", [new Float32Array(3)]], ["Float32Array", new Float32Array(3)], ["string", "x"]] as [string, unknown][]);
      return { label: `feeds as ${got}`, feeds: value, path: "", says: [`got ${got}`] };
    }
  }
}

/** fit and evaluate take an array as a list of batches (runtime/stream.ts): its wrong first batch is named by index. */
const listed = <T extends { label: string; path: string; says: string[] }>(b: T): T => (b.label === "feeds as Array" ? { ...b, path: "batch 0", says: ["got Float32Array"] } : b);

/** A seeded wrong call on `m`. */
function wrongCall(m: Model, r: () => number): Case {
  const batch = 1 + Math.floor(r() * m.maxBatch);
  const train = [...m.inputs, ...m.targets] as Info[];
  const kind = m.canTrain ? Math.floor(r() * 10) : pick(r, [0, 0, 0, 6, 7, 8, 9]);
  switch (kind) {
    case 0: {
      const b = badFeeds(m.inputs as Info[], 1 + Math.floor(r() * 9), r, "input");
      return { ...b, label: `predict: ${b.label}`, call: (x) => x.predict(b.feeds as any) };
    }
    case 1: {
      const b = badFeeds(train, batch, r, "input or target");
      return { ...b, label: `trainStep: ${b.label}`, call: (x) => x.trainStep(b.feeds as any) };
    }
    case 2: {
      const b = listed(badFeeds(train, batch, r, "input or target"));
      return { ...b, label: `evaluate: ${b.label}`, call: (x) => x.evaluate(b.feeds as any) };
    }
    case 3: {
      const b = listed(badFeeds(train, batch, r, "input or target"));
      const validation = r() < 0.5;
      const good = valid(train, 3, r);
      return {
        ...b, label: `fit${validation ? " validation" : ""}: ${b.label}`,
        call: (x) => (validation ? x.fit(good, { validationData: b.feeds as any }) : x.fit(b.feeds as any)),
      };
    }
    case 4: {
      const n = m.maxBatch + 1 + Math.floor(r() * 100);
      const feeds = valid(train, n, r);
      return { label: `trainStep with ${n} examples`, call: (x) => x.trainStep(feeds), path: "batch", says: [`maxBatch = ${m.maxBatch}`, `got ${n}`] };
    }
    case 5: {
      const feeds = valid(train, 3, r);
      const [opt, v] = pick(r, [["batchSize", 0], ["batchSize", -1], ["batchSize", 1.5], ["batchSize", NaN], ["batchSize", m.maxBatch + 1], ["batchSize", 1e9], ["epochs", 0], ["epochs", -2], ["epochs", 0.5], ["epochs", Infinity], ["batchSize", "4"]] as [string, unknown][]);
      const how = pick(r, ["fit", "evaluate"] as const);
      if (how === "evaluate" && (opt === "epochs" || v === m.maxBatch + 1 || v === 1e9)) {
        return { label: `evaluate batchSize 0`, call: (x) => x.evaluate(feeds, { batchSize: 0 }), path: "batchSize", says: ["got 0", "integer"] };
      }
      return { label: `${how} ${opt} = ${String(v)}`, call: (x) => (how === "fit" ? x.fit(feeds, { [opt]: v }) : x.evaluate(feeds, { [opt]: v } as any)), path: opt, says: [`got ${String(v)}`, "integer"] };
    }
    case 6: {
      const w = pick(r, m.weights);
      const n = per(w.shape);
      const [label, value, path, says] = pick(r, [
        ["unknown weight", { "dense/kernal": new Float32Array(n) }, "dense/kernal", ['unknown weight "dense/kernal"', `"${w.name}"`]],
        ["short weight", { [w.name]: new Float32Array(n - 1) }, w.name, [`expected ${n} elements`, `got ${n - 1}`]],
        ["long weight", { [w.name]: new Float32Array(n + 3) }, w.name, [`expected ${n} elements`, `got ${n + 3}`]],
        ["Float64Array weight", { [w.name]: new Float64Array(n) }, w.name, ["expected a Float32Array", "got Float64Array"]],
        ["Array weight", { [w.name]: Array(n).fill(0) }, w.name, ["expected a Float32Array", "got Array"]],
        ["null weights", null, "", ["got null"]],
        ["one good, one bad", { [m.weights[0].name]: new Float32Array(per(m.weights[0].shape)), [w.name + "x"]: new Float32Array(n) }, w.name + "x", ["unknown weight"]],
      ] as [string, unknown, string, string[]][]);
      return { label: `setWeights: ${label}`, call: (x) => x.setWeights(value as any), path, says };
    }
    case 7: {
      // A weights file with one tensor of the wrong shape or dtype, or one missing, plus good ones.
      const record = Object.fromEntries(m.weights.map((w) => [w.name, { dtype: "F32" as const, shape: w.shape, data: new Float32Array(per(w.shape)) }]));
      const w = pick(r, m.weights);
      const how = Math.floor(r() * 4);
      let says: string[];
      if (how === 0) {
        const shape = [...w.shape.slice(0, -1), w.shape.at(-1)! + 1];
        record[w.name] = { dtype: "F32", shape, data: new Float32Array(per(shape)) };
        says = [`expected F32 [${w.shape.join(", ")}]`, `got F32 [${shape.join(", ")}]`];
      } else if (how === 1) {
        const shape = [per(w.shape)];
        if (String(shape) === String(w.shape)) shape.push(1);
        record[w.name] = { dtype: "F32", shape, data: new Float32Array(per(w.shape)) };
        says = [`expected F32 [${w.shape.join(", ")}]`, `got F32 [${shape.join(", ")}]`];
      } else if (how === 2) {
        record[w.name] = { dtype: "I32", shape: w.shape, data: new Int32Array(per(w.shape)) } as any;
        says = ["expected F32", "got I32"];
      } else {
        delete record[w.name];
        says = ["missing"];
      }
      const bytes = writeSafetensors(record as any);
      return { label: `loadWeights: ${["wrong shape", "flattened", "I32", "missing"][how]} ${w.name}`, call: (x) => x.loadWeights(bytes), path: w.name, says };
    }
    case 8: {
      // Not a safetensors file at all, or a good one cut short or with a corrupted header.
      const good = m.saveWeights({ optimizer: false });
      const choice = Math.floor(r() * 4);
      const bytes = choice === 0 ? Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))
        : choice === 1 ? good.slice(0, Math.floor(r() * (good.length - 1)))
        : choice === 2 ? (() => { const b = good.slice(); b[8 + Math.floor(r() * 16)] = 0; /* NUL: never valid in the JSON header */ return b; })()
        : (() => { const b = good.slice(); new DataView(b.buffer).setUint32(0, b.length * 2, true); return b; })();
      return { label: `loadWeights: corrupt bytes (${choice})`, call: (x) => x.loadWeights(bytes), path: "*", says: [] };
    }
    default: {
      const [got, value] = pick(r, [["ArrayBuffer", new ArrayBuffer(16)], ["weights.safetensors", "weights.safetensors"], ["null", null], ["Array", [1, 2]]] as [string, unknown][]);
      return { label: `loadWeights(${got})`, call: (x) => x.loadWeights(value as any), path: "*", says: [got] };
    }
  }
}

/** A compiled model whose target holds class ids (sparse cross-entropy): ids in [0, 3). */
async function compiledModel(): Promise<Model> {
  const graph = {
    format: "kiln.graph/v2", name: "classes", seed: 9,
    inputs: [{ name: "features", shape: [2, 3] }, { name: "tokens", shape: [4], dtype: "int32" }],
    targets: [{ name: "label", shape: [], dtype: "int32" }],
    layers: [
      { name: "flat", op: "flatten", inputs: ["features"] },
      { name: "embed", op: "embedding", input_dim: 5, output_dim: 2, inputs: ["tokens"] },
      { name: "flat2", op: "flatten", inputs: ["embed"] },
      { name: "joined", op: "concatenate", inputs: ["flat", "flat2"] },
      { name: "probs", op: "dense", units: 3, activation: "softmax" },
    ],
    training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "adam" }, metrics: ["accuracy"] },
  };
  const { wasm } = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 4 });
  const m = await loadModel(wasm);
  const r = rng(3);
  m.trainStep(valid([...m.inputs, ...m.targets] as Info[], 4, r)); // non-zero optimizer state
  return m;
}

interface Tally { calls: number; kinds: Set<string>; crashes: string[]; accepted: string[]; corruptions: string[]; misnamed: string[]; byModel: Record<string, number> }

async function fuzz(models: [string, Model][], calls: number, seed: number): Promise<Tally> {
  const r = rng(seed);
  const t: Tally = { calls: 0, kinds: new Set(), crashes: [], accepted: [], corruptions: [], misnamed: [], byModel: {} };
  let before = new Map(models.map(([n, m]) => [n, hash(m)]));
  for (let i = 0; i < calls; i++) {
    const [name, m] = models[i % models.length];
    const c = wrongCall(m, r);
    const label = `#${i} ${name} ${c.label}`;
    let error: unknown;
    try {
      await c.call(m);
    } catch (e) {
      error = e;
    }
    t.calls++;
    t.kinds.add(`${name} ${c.label.replace(/\[\d+\]|-?\d[\d.e+]*|Infinity|NaN/g, "#")}`);
    t.byModel[name] = (t.byModel[name] ?? 0) + 1;
    const after = hash(m);
    if (after !== before.get(name)) t.corruptions.push(label);
    before.set(name, after);
    if (error === undefined) t.accepted.push(label);
    else if (!(error instanceof KilnError)) t.crashes.push(`${label}: ${String(error)}`);
    else {
      const ds = error.diagnostics;
      const at = c.path === "*" ? ds : ds.filter((d) => d.path === c.path);
      const ok = ds.length > 0 && at.length > 0 && c.says.every((s) => at.some((d) => d.message.includes(s))) && ds.every((d) => d.message.length > 10);
      if (!ok) t.misnamed.push(`${label}: ${error.message}`);
    }
  }
  return t;
}

describe("wrong runtime calls are rejected before any memory is written", () => {
  it(`${CALLS} seeded wrong calls: KilnError naming the input, memory hash unchanged`, async () => {
    const inference = linearManifest({ canTrain: false, training: undefined, exports: { predict: "lin_predict" } } as Partial<Manifest>);
    const models: [string, Model][] = [
      ["linear", await loadModel(await moduleBytes(linearManifest()))],
      ["probe", await loadModel(await moduleBytes(probeManifest()))],
      ["inference", await loadModel(await moduleBytes(inference))],
      ["compiled", await compiledModel()],
    ];
    // Memory that is not all zeros: trained a little, so a stray write would show.
    const lin = models[0][1];
    lin.trainStep({ x: Float32Array.from([1, 2, 3, 4, 5, 6]), y: Float32Array.from([1, 0, 0, 1]) });
    const t = await fuzz(models, CALLS, 2024);
    console.log(`inputs fuzz: ${t.calls} calls, ${t.kinds.size} kinds (${JSON.stringify(t.byModel)}), crashes ${t.crashes.length}, accepted ${t.accepted.length}, corruptions ${t.corruptions.length}, misnamed ${t.misnamed.length}`);
    expect(t.crashes.slice(0, 5)).toEqual([]);
    expect(t.accepted.slice(0, 5)).toEqual([]);
    expect(t.corruptions.slice(0, 5)).toEqual([]);
    expect(t.misnamed.slice(0, 40)).toEqual([]);
    expect(t.calls).toBe(CALLS);
    expect(t.kinds.size).toBeGreaterThan(200); // distinct kinds of wrong call, by model
  }, 600_000);

  it("a valid call after the fuzz still computes x·W + b", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const t = await fuzz([["linear", m]], 200, 7);
    expect(t.crashes.length + t.accepted.length + t.corruptions.length).toBe(0);
    m.setWeights({ "dense/kernel": Float32Array.from([1, 0, 0, 1, 1, 1]), "dense/bias": Float32Array.from([0.5, -0.5]) });
    expect(Array.from(m.predict({ x: Float32Array.from([1, 2, 3]) }).out)).toEqual([4.5, 4.5]);
  });
});
