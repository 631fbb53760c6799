/**
 * Debug builds (`compile({ debug: true })`) catch what they promise to (runtime/debug.ts): a kernel
 * call that writes past its buffer breaks a guard and is named, call and layer; a predict or
 * evaluate that changes the weights fails the checksum. A kernel misbehaving is simulated by
 * wrapping the module's `<program>_range` export, the one the checked runner calls, so that one
 * call also writes where it must not.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import type { DebugInfo } from "../../runtime/debug.js";
import { kilnError } from "../util/errors.js";

const GRAPH = JSON.stringify({
  format: "kiln.graph/v1", name: "guarded", seed: 2,
  inputs: [{ name: "x", shape: [5] }],
  targets: [{ name: "y", shape: [3] }],
  layers: [{ name: "h", op: "dense", units: 4, activation: "tanh" }, { name: "out", op: "dense", units: 3 }],
  training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { type: "sgd" } },
});
const x = Float32Array.from({ length: 10 }, (_, i) => Math.cos(i));
const y = Float32Array.from({ length: 6 }, (_, i) => Math.sin(i));

async function debugModel(): Promise<Model> {
  const { wasm } = await compile(GRAPH, { maxBatch: 2, debug: true });
  return loadModel(wasm);
}

/** Makes call `at` of `program` also run `misbehave` (white-box: the model's export table). */
function sabotage(model: Model, program: string, at: number, misbehave: (memory: Uint8Array) => void): void {
  const internals = model as unknown as { exports: Record<string, unknown> };
  const range = internals.exports[`${program}_range`] as (batch: number, from: number, to: number) => void;
  internals.exports = {
    ...internals.exports,
    [`${program}_range`]: (batch: number, from: number, to: number) => {
      range(batch, from, to);
      if (from === at) misbehave(model.memoryView());
    },
  };
}

const guardsOf = (model: Model) => (model.manifest as unknown as { debug: DebugInfo }).debug.guards;

describe("debug builds catch corruption", () => {
  it("a kernel call writing into an arena guard is named, with its layer", async () => {
    const model = await debugModel();
    const program = model.manifest.exports.predict!;
    const calls = model.manifest.kernels!.calls[program]!;
    const [offset] = guardsOf(model).programs[program]![0]!;
    expect(model.predict({ x }).out).toHaveLength(6); // untouched: no error
    const at = calls.length - 1;
    sabotage(model, program, at, (mem) => void (mem[offset + 3] ^= 1));
    const err = kilnError(() => model.predict({ x }));
    const [kernel, layer] = calls[at]!;
    expect(err.diagnostics).toEqual([{ code: "corruption", path: program, layer, message: `kernel ${kernel} (call ${at} of ${program}) wrote past a buffer: the guard at byte ${offset} changed` }]);
  });

  it("a broken guard between weights is caught at the next call's first kernel", async () => {
    const model = await debugModel();
    const [offset] = guardsOf(model).persistent[0]!;
    model.memoryView()[offset] ^= 0x80;
    const err = kilnError(() => model.trainStep({ x, y }));
    expect(err.diagnostics[0]!.code).toBe("corruption");
    expect(err.diagnostics[0]!.message).toMatch(new RegExp(`^kernel \\w+ \\(call 0 of ${model.manifest.exports.trainStep}\\) wrote past a buffer: the guard at byte ${offset} changed$`));
  });

  it("a predict or evaluate that changes a weight fails the checksum", async () => {
    for (const which of ["predict", "evaluate"] as const) {
      const model = await debugModel();
      const program = model.manifest.exports[which]!;
      const w = model.manifest.weights[0]!;
      sabotage(model, program, 0, (mem) => void (mem[w.offset + 1] ^= 1));
      const err = kilnError(() => (which === "predict" ? model.predict({ x }) : model.evaluate({ x, y })));
      expect(err.diagnostics).toEqual([{ code: "corruption", path: program, message: `${program} changed the weights or optimizer state` }]);
    }
  });

  it("train_step may change the weights: no checksum there", async () => {
    const model = await debugModel();
    const before = model.getWeights();
    expect(Number.isFinite(model.trainStep({ x, y }).loss)).toBe(true);
    expect(model.getWeights()[model.manifest.weights[0]!.name]).not.toEqual(before[model.manifest.weights[0]!.name]);
  });
});
