/**
 * Issue 22 (items 2, 3, 4, 8, 9, 10): hostile inputs that got through before, each fed as a
 * stranger would. Every one must end in a KilnError (never a TypeError, a hang or a silently
 * wrong answer), and a rejected call must leave the model exactly as it was.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import vm from "node:vm";
import { build, transformSync } from "esbuild";
import { describe, expect, test } from "vitest";
import { compile } from "../../compiler/index.js";
import { emitEsm } from "../../compiler/assemble/esm.js";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import { loadModel as loadPredictOnly } from "../../runtime/predict.js";
import type { Manifest } from "../../runtime/manifest.js";
import type { Model } from "../../runtime/model.js";
import { writeSafetensors } from "../../runtime/safetensors.js";
import { kilnError, rejects } from "../util/errors.js";
import { linearManifest, moduleBytes } from "../runtime/fixtures.js";
import { craftedManifests, ownMemoryModule, resolve, threadedModule, withManifest } from "./crafted.js";

const CLASSES = {
  format: "kiln.graph/v1", name: "classes", seed: 4,
  inputs: [{ name: "x", shape: [3] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [{ name: "hidden", op: "dense", units: 4, activation: "relu" }, { name: "probs", op: "dense", units: 3, activation: "softmax" }],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "adam" } },
};
let classes: Promise<Uint8Array> | undefined;
const classModel = async () => loadModel(await (classes ??= compile(JSON.stringify(CLASSES), { optimizeLevel: 0, maxBatch: 4 }).then((r) => r.wasm)));
const state = (m: Model) => Buffer.from(m.saveWeights());
const batch = () => ({ x: Float32Array.from([0.5, -1, 2, 1, 0, -0.5, 0.25, 0.75, -2, 1, 1, 1]), label: Int32Array.from([0, 1, 2, 1]) });

describe("22.2: a trap in a threaded model", () => {
  test("is blamed on the layer of the thread that trapped; later calls throw instead of running out of step", async () => {
    const model = await loadModel(await threadedModule(), { threads: 2 });
    try {
      const good = model.predict({ x: new Float32Array(1024).fill(0.01) }).after;
      // Only thread 1 gets examples, and far too many: its first kernel reads past the memory.
      model.pool!.balance = false;
      model.pool!.shares.set("predict", [0, 1]);
      const e = kilnError(() => (model as unknown as { run(w: string, b: number): void }).run("predict", 1 << 20));
      expect(e.diagnostics[0]).toMatchObject({ code: "trap", path: "predict", layer: "narrow" });
      expect(e.message).toMatch(/in kernel k\d+ of layer "narrow" on thread 1 \(batch 1048576\)/);
      const later = kilnError(() => model.predict({ x: new Float32Array(1024).fill(0.01) }));
      expect(later.diagnostics[0].code).toBe("trap");
      expect(later.message).toMatch(/threads stopped after an earlier trap.*load the model again/);
      expect(good.length).toBe(2);
      expect(Object.keys(model.getWeights())).toEqual(["narrow/kernel", "narrow/bias", "after/kernel", "after/bias"]); // still readable
    } finally {
      model.dispose();
    }
  }, 60_000);
});

describe("22.3: a failed threaded load stops its workers", () => {
  test("loadModel(src, { threads: 2, weights: <bad file> }) rejects and the process exits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-leak-"));
    writeFileSync(join(dir, "model.wasm"), await threadedModule());
    await build({ entryPoints: ["runtime/index.ts"], bundle: true, format: "esm", platform: "node", outfile: join(dir, "runtime.mjs"), logLevel: "silent" });
    writeFileSync(join(dir, "child.mjs"), `
      import { readFileSync } from "node:fs";
      import { loadModel } from "./runtime.mjs";
      for (const weights of [new Uint8Array(16), new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])]) {
        try { await loadModel(readFileSync(process.argv[2]), { threads: 2, weights }); console.log("loaded?!"); }
        catch (e) { console.log(e.name); }
      }`);
    // Before the fix the workers kept the process alive forever: the timeout kills it and the call throws.
    const out = execFileSync(process.execPath, [join(dir, "child.mjs"), join(dir, "model.wasm")], { encoding: "utf8", timeout: 30_000 });
    expect(out.trim().split("\n")).toEqual(["KilnError", "KilnError"]);
  }, 60_000);
});

describe("22.4: NaN does not get in, and does not stay in", () => {
  const f32 = (shape: number[], v = 0.5) => ({ dtype: "F32" as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
  const file = (change: Record<string, unknown>) => {
    const record: Record<string, unknown> = {
      "dense/kernel": f32([3, 2]), "dense/bias": f32([2]),
      "optimizer/momentum/dense/kernel": f32([3, 2]), "optimizer/momentum/dense/bias": f32([2]),
      "optimizer/step": { dtype: "I32", shape: [], data: new Int32Array([3]) }, ...change,
    };
    return writeSafetensors(record as never);
  };
  test.each([
    ["a NaN weight", { "dense/bias": { ...f32([2]), data: Float32Array.from([1, NaN]) } }, "dense/bias", /element 1 is NaN; expected finite values/],
    ["an infinite slot", { "optimizer/momentum/dense/kernel": f32([3, 2], -Infinity) }, "optimizer/momentum/dense/kernel", /element 0 is -Infinity/],
    ["step -1", { "optimizer/step": { dtype: "I32", shape: [], data: new Int32Array([-1]) } }, "optimizer/step", /step count in \[0, 2\^30\], got -1/],
    ["step 2^31 - 1", { "optimizer/step": { dtype: "I32", shape: [], data: new Int32Array([2 ** 31 - 1]) } }, "optimizer/step", /got 2147483647/],
  ])("a weights file with %s is refused naming the tensor, memory unchanged", async (_, change, path, message) => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const before = Buffer.from(m.memoryView());
    const e = kilnError(() => m.loadWeights(file(change)));
    expect(e.diagnostics[0].path).toBe(path);
    expect(e.message).toMatch(message);
    expect(Buffer.from(m.memoryView()).equals(before)).toBe(true);
    await expect(loadModel(await moduleBytes(linearManifest()), { weights: file(change) })).rejects.toThrow(KilnError);
  });

  test("a negative Adam velocity is refused", async () => {
    const m = await classModel();
    const saved = m.saveWeights();
    m.trainStep(batch());
    const { readSafetensors } = await import("../../runtime/safetensors.js");
    const t = readSafetensors(m.saveWeights()).tensors;
    const record = Object.fromEntries([...t].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data }]));
    const v = new Float32Array(record["optimizer/velocity/hidden/kernel"].data.slice().buffer);
    v[3] = -0.25;
    record["optimizer/velocity/hidden/kernel"].data = new Uint8Array(v.buffer);
    const e = kilnError(() => m.loadWeights(writeSafetensors(record as never)));
    expect(e.diagnostics[0].path).toBe("optimizer/velocity/hidden/kernel");
    expect(e.message).toMatch(/element 3 is -0.25; an average of squared gradients is never negative/);
    expect(saved.length).toBeGreaterThan(0);
  });

  test("trainStep with finite but huge inputs throws before its update lands: the model is as it was", async () => {
    const m = await classModel();
    m.trainStep(batch());
    const before = state(m);
    const huge = { x: new Float32Array(12).fill(3e38), label: Int32Array.from([0, 1, 2, 1]) };
    const e = kilnError(() => m.trainStep(huge));
    expect(e.diagnostics[0]).toMatchObject({ code: "diverged", path: "trainStep" });
    expect(e.message).toMatch(/the loss became (NaN|Infinity); the step was undone/);
    expect(state(m).equals(before)).toBe(true);
    expect(Number.isFinite(m.trainStep(batch()).loss)).toBe(true); // and it still trains
  });

  test("fit stops on the same data with the failing step undone", async () => {
    const m = await classModel();
    const data = batch();
    let after1: Buffer | undefined;
    const e = await rejects(m.fit(data, { batchSize: 4, epochs: 3, shuffle: false, onBatchEnd: (s) => { if (s === 0) { after1 = state(m); data.x.fill(3e38); } } }));
    expect(e.diagnostics[0].code).toBe("diverged");
    expect(state(m).equals(after1!)).toBe(true);
  });

  test("learning_rate 1e308 (Infinity in float32) is a graph error", async () => {
    const graph = { ...CLASSES, training: { ...CLASSES.training, optimizer: { type: "sgd", learning_rate: 1e308 } } };
    const e = await rejects(compile(JSON.stringify(graph), { optimizeLevel: 0 }));
    expect(e.diagnostics.some((d) => d.path === "/training/optimizer/learning_rate")).toBe(true);
  });
});

describe("22.8: input checks cannot be bypassed", () => {
  test("a Float32Array subclass overriding subarray and set cannot smuggle NaN in", async () => {
    class Sneaky extends Float32Array {
      override subarray() { return new Float32Array(this.length).fill(NaN); }
      override set() {}
    }
    const m = await loadModel(await moduleBytes(linearManifest()));
    const plain = m.predict({ x: Float32Array.from([1, 2, 3]) }).out;
    expect(m.predict({ x: Sneaky.from([1, 2, 3]) as Float32Array }).out).toEqual(plain);
  });

  test("an Int32Array subclass cannot pass out-of-range class ids after the check", async () => {
    class Liar extends Int32Array {
      override subarray() { return new Int32Array(this.length).fill(10); }
    }
    const a = await classModel(), b = await classModel();
    const { x, label } = batch();
    a.trainStep({ x, label });
    b.trainStep({ x, label: Liar.from(label) as Int32Array });
    expect(state(b).equals(state(a))).toBe(true); // the checked ids were the ones trained on
  });

  test("a Proxy posing as a Float32Array is refused", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const e = kilnError(() => m.predict({ x: new Proxy(Float32Array.from([1, 2, 3]), {}) }));
    expect(e.message).toMatch(/input "x": expected Float32Array \(float32\), got a fake Float32Array \(a Proxy\?\)/);
  });

  test("labels changed inside onBatchEnd are checked when staged: KilnError, the earlier steps kept", async () => {
    const m = await classModel();
    const data = { x: new Float32Array(24).fill(0.5), label: new Int32Array(8) };
    let afterFirst: Buffer | undefined;
    const e = await rejects(m.fit(data, { batchSize: 4, shuffle: false, onBatchEnd: (s) => { if (s === 0) { afterFirst = state(m); data.label[5] = 10; } } }));
    expect(e.diagnostics[0].path).toBe("label");
    expect(e.message).toMatch(/"label" changed after it was checked: element 1 .* is 10; expected an id in \[0, 3\)/);
    expect(state(m).equals(afterFirst!)).toBe(true);
  });

  test("setWeights reads each value once and writes exactly the checked count", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    let reads = 0;
    const partial = { get "dense/kernel"() { return ++reads === 1 ? new Float32Array(6).fill(1) : new Float32Array(8).fill(9); } };
    m.setWeights(partial as never);
    expect(reads).toBe(1);
    expect(Array.from(m.getWeights()["dense/kernel"])).toEqual(new Array(6).fill(1));
    expect(Array.from(m.getWeights()["dense/bias"])).toEqual([0, 0]); // the next tensor untouched
  });
});

describe("22.9: crafted modules end in a KilnError", () => {
  test.each(craftedManifests().map((c) => [c.label, c] as const))("%s", async (_, c) => {
    let error: unknown;
    try {
      await loadModel(await withManifest(await resolve(c), c.base), c.threads ? { threads: c.threads } : {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KilnError);
    expect((error as KilnError).message).toMatch(c.says);
  });

  test("a module with a memory of its own (not env.memory) is refused", async () => {
    const e = await rejects(loadModel(ownMemoryModule(linearManifest({ canTrain: false, training: undefined, exports: { predict: "lin_predict" } } as Partial<Manifest>))));
    expect(e.message).toMatch(/does not import env.memory/);
  });
});

describe("crafted manifests: the model shows only the documented fields", () => {
  test("unknown keys in a manifest's inputs, outputs, targets and weights stay out of the model's descriptions (both runtimes)", async () => {
    // Own keys as JSON.parse makes them, "__proto__" included.
    const extra = JSON.parse('{ "secret": "leak", "__proto__": { "polluted": true }, "toString": "x" }');
    const m = linearManifest();
    m.inputs[0] = { ...m.inputs[0]!, ...extra };
    m.outputs[0] = { ...m.outputs[0]!, ...extra, dtype: "float32" };
    m.targets[0] = { ...m.targets[0]!, ...extra, range: undefined };
    m.weights[0] = { ...m.weights[0]!, ...extra };
    const bytes = await moduleBytes(m);
    for (const model of [await loadModel(bytes), await loadPredictOnly(bytes)]) {
      // Before: every key but the offset (and a weight's initializer) showed, "secret" and "toString" too.
      expect(model.inputs).toStrictEqual([{ name: "x", shape: [3], dtype: "float32" }]);
      expect(model.outputs).toStrictEqual([{ name: "out", shape: [2], dtype: "float32" }]);
      expect(model.targets).toStrictEqual([{ name: "y", shape: [2], dtype: "float32" }]);
      expect(model.weights).toStrictEqual([{ name: "dense/kernel", shape: [3, 2], trainable: true }, { name: "dense/bias", shape: [2], trainable: true }]);
      for (const d of [...model.inputs, ...model.outputs, ...model.targets, ...model.weights]) {
        expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
        expect("polluted" in d).toBe(false);
      }
      // The descriptions are copies: editing one does not edit the manifest the checks read.
      model.inputs[0]!.shape[0] = 1000;
      expect(model.manifest.inputs[0]!.shape).toEqual([3]);
      expect(Array.from(model.predict({ x: new Float32Array(3) }).out)).toHaveLength(2);
    }
  });

  test("a slot's range shows in its description, and only when it has one", async () => {
    const m = linearManifest();
    m.inputs[0] = { name: "x", shape: [3], dtype: "int32", offset: m.inputs[0]!.offset, range: [0, 5] };
    const model = await loadModel(await moduleBytes(m));
    expect(model.inputs).toStrictEqual([{ name: "x", shape: [3], dtype: "int32", range: [0, 5] }]);
    expect("range" in model.outputs[0]!).toBe(false);
  });
});

describe("22.10: the smaller ones", () => {
  test("a Float32Array from another realm is accepted (checked by its internal tag)", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const foreign = vm.runInNewContext("new Float32Array([1, 2, 3])");
    expect(foreign instanceof Float32Array).toBe(false);
    expect(m.predict({ x: foreign }).out).toEqual(m.predict({ x: Float32Array.from([1, 2, 3]) }).out);
    m.loadWeights(vm.runInNewContext("(b) => new Uint8Array(b)")(m.saveWeights()));
  });

  test("a second concurrent fit on one model is refused; the first completes", async () => {
    const m = await classModel();
    const first = m.fit(batch(), { epochs: 2, batchSize: 2 });
    const e = await rejects(m.fit(batch()));
    expect(e.diagnostics[0]).toMatchObject({ code: "busy", path: "fit" });
    expect((await first).epoch).toEqual([0, 1]);
    expect((await m.fit(batch())).epoch).toEqual([0]); // free again once done
  });

  test("detaching a buffer during fit is a KilnError, not a TypeError", async () => {
    const m = await classModel();
    const data = { x: new Float32Array(24).fill(0.5), label: new Int32Array(8) };
    const e = await rejects(m.fit(data, { batchSize: 4, onBatchEnd: () => void structuredClone(data.x.buffer, { transfer: [data.x.buffer] }) }));
    expect(e.diagnostics[0].path).toBe("x");
    expect(e.message).toMatch(/"x" changed after it was checked: its buffer was detached or resized/);
  });

  test("a U+2028 in the file name does not break the --emit esm wrapper", async () => {
    const { manifest } = await compile(JSON.stringify(CLASSES), { optimizeLevel: 0, maxBatch: 4 });
    const { js } = emitEsm(manifest, { wasmFile: "model\u2028alert(1)\u2029.wasm" });
    expect(js).not.toMatch(/[\u2028\u2029]/);
    expect(() => transformSync(js, { format: "esm", loader: "js" })).not.toThrow();
    expect(js).toContain("model\\u2028alert(1)\\u2029.wasm");
  });
});
