/**
 * predict checks its inputs once, before it writes memory, and re-checks the rows it staged only
 * where they can have changed since: a SharedArrayBuffer (another thread writes it at any time) or
 * a model of several inputs (a getter for a later input runs caller code after an earlier one was
 * checked). Fit and the other stagers always re-check (their callbacks run in between). These
 * tests hold the re-check where it was before the single-input, unshared case dropped it.
 */
import { describe, expect, test } from "vitest";
import { compile } from "../../compiler/index.js";
import { checkFeeds } from "../../runtime/feeds.js";
import { loadModel } from "../../runtime/index.js";
import { kilnError } from "../util/errors.js";
import { linearManifest, moduleBytes } from "./fixtures.js";

const TWO_INPUTS = {
  format: "kiln.graph/v2", name: "two_inputs", seed: 2,
  inputs: [{ name: "a", shape: [3] }, { name: "b", shape: [3] }],
  layers: [{ name: "sum", op: "add", inputs: ["a", "b"] }, { name: "out", op: "dense", units: 2 }],
};

describe("predict's staged re-check", () => {
  test("a shared input changed between the check and the stage is refused, naming the input and element", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const x = new Float32Array(new SharedArrayBuffer(12)).fill(1);
    const slots = m.manifest.inputs;
    const { views } = checkFeeds(slots, { x }, "input");
    x[1] = NaN; // another thread's write, after the check
    // predict's own call: one input, nothing of the caller's ran since the check (checked = true).
    const e = kilnError(() => m.stage(slots, views, 0, 1, true));
    expect(e.diagnostics[0]).toMatchObject({ code: "input", path: "x" });
    expect(e.message).toMatch(/"x" changed after it was checked: element 1 \(example 0, index \[1\]\) is NaN; expected a finite number/);
  });

  test("an unshared input is re-checked by every stager but predict (fit's callbacks run in between)", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const x = new Float32Array(3).fill(1), slots = m.manifest.inputs;
    const { views } = checkFeeds(slots, { x }, "input");
    x[2] = Infinity;
    const e = kilnError(() => m.stage(slots, views, 0, 1));
    expect(e.message).toMatch(/"x" changed after it was checked: element 2 .* is Infinity/);
  });

  test("with two inputs, a getter for the second that spoils the first is caught as before", async () => {
    const m = await loadModel((await compile(JSON.stringify(TWO_INPUTS), { optimizeLevel: 0, maxBatch: 2 })).wasm);
    const a = Float32Array.from([1, 2, 3]), b = Float32Array.from([4, 5, 6]);
    const good = m.predict({ a, b }).out;
    expect(Array.from(good).every(Number.isFinite)).toBe(true);
    const feeds = { a, get b() { a[0] = NaN; return b; } };
    const e = kilnError(() => m.predict(feeds));
    expect(e.diagnostics[0]).toMatchObject({ code: "input", path: "a" });
    expect(e.message).toMatch(/"a" changed after it was checked: element 0 \(example 0, index \[0\]\) is NaN/);
    expect(a[0]).toBeNaN();
    a[0] = 1;
    expect(Array.from(m.predict({ a, b }).out)).toEqual(Array.from(good)); // still works after the refusal
  });

  test("predict with a shared input: a NaN written before the call is refused with the same error as an unshared one", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    const plain = Float32Array.from([1, NaN, 3]);
    const sharedX = new Float32Array(new SharedArrayBuffer(12));
    sharedX.set(plain);
    const e1 = kilnError(() => m.predict({ x: plain })), e2 = kilnError(() => m.predict({ x: sharedX }));
    expect(e2.message).toBe(e1.message);
    expect(e1.message).toMatch(/input "x": element 1 \(example 0, index \[1\]\) is NaN; expected a finite number/);
    sharedX[1] = 2;
    expect(Array.from(m.predict({ x: sharedX }).out)).toEqual(Array.from(m.predict({ x: Float32Array.from([1, 2, 3]) }).out));
  });
});
