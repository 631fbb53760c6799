/**
 * No aborts and the NaN finder (issue 7, items 6 and 8) on a hand-made module: a trap becomes a
 * KilnError naming the export, the kernel and its layer (from the progress cell, or from the
 * stack through manifest.kernels); fit({ debugNaN }) names the first layer whose output went
 * non-finite, and leaves the model as a plain failing fit would.
 */
import { afterEach, describe, expect, test } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import { FUNCTIONS, trapManifest, trapModule } from "./fixtures.js";
import type { Manifest } from "../../runtime/manifest.js";
import { kilnError, rejects } from "../util/errors.js";

const load = async (o: Partial<Manifest> = {}) => loadModel(await trapModule(trapManifest(o)));

// vitest rewrites stack traces (no "wasm-function[N]" frames); engines left alone print them.
const saved = (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
const plainStacks = () => delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
afterEach(() => void ((Error as { prepareStackTrace?: unknown }).prepareStackTrace = saved));

const x = (...v: number[]) => ({ x: Float32Array.from(v) });

describe("traps name the kernel and the layer", () => {
  test("unreachable in k1 (progress cell): layer root", async () => {
    const m = await load();
    m.setWeights({ "scale/kernel": new Float32Array([1, 1]) });
    const e = kilnError(() => m.predict(x(1, 2, 7, 1)));
    expect(e.diagnostics).toHaveLength(1);
    expect(e.diagnostics[0]).toMatchObject({ code: "trap", path: "predict", layer: "root" });
    expect(e.message).toContain('export "predict" in kernel k1 of layer "root" (batch 2)');
    expect(e.message).toContain("unreachable");
    expect(e.message).not.toMatch(/^RuntimeError/);
  });

  test("out-of-bounds load in k2 (progress cell): layer total, in train_step too", async () => {
    const m = await load();
    m.setWeights({ "scale/kernel": new Float32Array([1, 1]) });
    const e = kilnError(() => m.predict(x(9, 1)));
    expect(e.diagnostics[0]).toMatchObject({ code: "trap", path: "predict", layer: "total" });
    expect(e.message).toContain("kernel k2");
    expect(e.message).toMatch(/out of bounds/);
    const t = kilnError(() => m.trainStep({ ...x(9, 1), t: new Float32Array([0]) }));
    expect(t.diagnostics[0]).toMatchObject({ path: "train_step", layer: "total" });
  });

  test("no progress cell: the stack's wasm-function index through kernels.functions", async () => {
    const kernels = { ...trapManifest().kernels!, progressOffset: undefined, functions: FUNCTIONS };
    const m = await load({ kernels });
    m.setWeights({ "scale/kernel": new Float32Array([1, 1]) });
    plainStacks();
    expect(kilnError(() => m.predict(x(7, 1))).diagnostics[0]).toMatchObject({ path: "predict", layer: "root" });
    expect(kilnError(() => m.predict(x(9, 1))).diagnostics[0]).toMatchObject({ path: "predict", layer: "total" });
    expect(kilnError(() => m.predict(x(9, 1))).message).toContain("kernel k2");
  });

  test("one kernel shared by two layers, no progress cell: both are named", async () => {
    const kernels = { calls: trapManifest().kernels!.calls, functions: FUNCTIONS };
    const m = await load({ kernels, exports: { predict: "twice", trainStep: "train_step", evaluate: "evaluate" } });
    plainStacks();
    const e = kilnError(() => m.predict(x(7, 1)));
    expect(e.diagnostics[0]).toMatchObject({ code: "trap", path: "twice", layer: "first, second" });
    expect(e.message).toContain('kernel k1 of layer "first" or "second"');
  });

  test("without a kernel table (or an unmatched stack) the export is still named", async () => {
    const m = await load({ kernels: undefined });
    m.setWeights({ "scale/kernel": new Float32Array([1, 1]) });
    const e = kilnError(() => m.predict(x(7, 1)));
    expect(e.diagnostics[0].layer).toBeUndefined();
    expect(e.message).toMatch(/failed inside export "predict" \(batch 1\): .*unreachable/);
    const noMap = await load({ kernels: { calls: trapManifest().kernels!.calls } }); // the stack has only indices
    noMap.setWeights({ "scale/kernel": new Float32Array([1, 1]) });
    plainStacks();
    expect(kilnError(() => noMap.predict(x(7, 1))).diagnostics[0].layer).toBeUndefined();
  });

  test("the model still works after a trap", async () => {
    const m = await load();
    m.setWeights({ "scale/kernel": new Float32Array([1, 1]) });
    kilnError(() => m.predict(x(7, 1)));
    m.setWeights({ "scale/kernel": new Float32Array([4, 1]) });
    expect(Array.from(m.predict(x(1, 9)).total)).toEqual([5]); // sqrt(1·4) + sqrt(9·1)
  });

  test("bad kernel tables and layer outputs are rejected at load", async () => {
    const bad = [
      { kernels: { calls: { predict: [["k0"]] } } },
      { kernels: { calls: { predict: [["k0", "a"]] }, progressOffset: 65536 } },
      { kernels: { progressOffset: 8 } },
      // kernels.functions is checked (by trap-stack.ts) when the table has no progress cell
      { kernels: { calls: trapManifest().kernels!.calls, functions: { 0: 7 } } },
      { training: { ...trapManifest().training!, layerOutputs: [{ layer: "scale", offset: 65530, shape: [2] }] } },
      // the call after which the NaN finder reads a layer output must be one of train_step's
      ...[-1, 1.5, 4, "0"].map((call) => ({ training: { ...trapManifest().training!, layerOutputs: [{ ...trapManifest().training!.layerOutputs![0]!, call }] } })),
    ];
    for (const o of bad) {
      const e = await rejects(loadModel(await trapModule(trapManifest(o as Partial<Manifest>))));
      expect(e.diagnostics[0].code).toBe("manifest");
    }
  });
});

describe("fit({ debugNaN }) names the first non-finite layer", () => {
  // x = 1 everywhere: h1 = w, and w drops by 0.5 per step: 1, 0.5, 0, −0.5 → sqrt is NaN at step 4.
  const ones = { x: new Float32Array(16).fill(1), t: new Float32Array(8) };

  test("sqrt of a negative: layer root, at step 4", async () => {
    const m = await load();
    const e = await rejects(m.fit(ones, { batchSize: 2, shuffle: false, debugNaN: true }));
    expect(e.diagnostics[0]).toMatchObject({ code: "diverged", path: "fit", layer: "root" });
    expect(e.message).toContain("the loss became NaN at step 4 of this fit");
    expect(e.message).toContain('the first non-finite layer output is layer "root" (example 0 of the batch, element 0 is NaN)');
    expect(e.message).not.toContain("weights non-finite");
  });

  test("the re-run leaves the model as a fit without debugNaN does", async () => {
    const plain = await load(), debug = await load();
    const e = await rejects(plain.fit(ones, { batchSize: 2, shuffle: false }));
    expect(e.message).not.toContain("layer output");
    expect(e.diagnostics[0].layer).toBeUndefined();
    await rejects(debug.fit(ones, { batchSize: 2, shuffle: false, debugNaN: true }));
    expect(debug.getWeights()).toEqual(plain.getWeights());
    expect(Array.from(debug.getWeights()["scale/kernel"])).toEqual([-0.5, -0.5]); // three updates: the failing fourth was undone
    expect(debug.saveWeights()).toEqual(plain.saveWeights()); // the step counter too
  });

  test("an infinite weight: layer scale, and the weight is named", async () => {
    const m = await load();
    m.setWeights({ "scale/kernel": new Float32Array([Infinity, 1]) });
    const data = { x: new Float32Array([1, 1, 0, 1]), t: new Float32Array(2) };
    const e = await rejects(m.fit(data, { batchSize: 2, shuffle: false, debugNaN: true }));
    expect(e.diagnostics[0].layer).toBe("scale");
    expect(e.message).toContain("step 1 of this fit");
    expect(e.message).toContain('layer "scale" (example 0 of the batch, element 0 is Infinity)');
    expect(e.message).toContain('weights non-finite before the step: "scale/kernel"');
  });

  test("finite layer outputs, overflowing loss: the loss is blamed", async () => {
    const m = await load();
    const data = { x: new Float32Array([3e38, 3e38]), t: new Float32Array(1) };
    const e = await rejects(m.fit(data, { batchSize: 1, debugNaN: true }));
    expect(e.message).toContain("the loss became Infinity at step 1");
    expect(e.message).toContain("every layer output was finite: the loss computation itself went non-finite");
    expect(e.diagnostics[0].layer).toBeUndefined();
  });

  test("a module without layerOutputs says so", async () => {
    const m = await load({ training: { ...trapManifest().training!, layerOutputs: undefined } });
    const e = await rejects(m.fit(ones, { batchSize: 2, shuffle: false, debugNaN: true }));
    expect(e.message).toContain("step 4");
    expect(e.message).toContain("lists no layer outputs");
  });
});
