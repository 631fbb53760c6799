/**
 * Lists of problems are bounded (issue 22.5): a hostile weights file cannot make loadWeights
 * build millions of diagnostics or a message of megabytes. The reader refuses a header with more
 * tensors than a weights file for the model can hold before it builds any (in loadWeights and in
 * compile's embedded weights); the matching step keeps
 * 20 problems and counts the rest; any KilnError keeps at most 100 diagnostics.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import { writeSafetensors } from "../../runtime/safetensors.js";
import { kilnError } from "../util/errors.js";

/** A safetensors file of `n` empty F32 tensors named "0", "1", … (base 36), written by hand as an attacker would. */
function emptyTensors(n: number): Uint8Array {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"${i.toString(36)}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
  const json = `{${parts.join(",")}}`;
  const head = new TextEncoder().encode(json.padEnd(Math.ceil(json.length / 8) * 8, " "));
  const out = new Uint8Array(8 + head.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  return out;
}

/** 13 dense layers: 26 weights, so a file with every weight wrong has 26 problems. */
const CHAIN = {
  format: "kiln.graph/v1", name: "chain", seed: 3, inputs: [{ name: "x", shape: [3] }],
  layers: Array.from({ length: 13 }, (_, i) => ({ name: `d${i}`, op: "dense", units: 3 })),
};

describe("bounded problem lists", () => {
  it("a weights file of 200,000 empty tensors is refused in one short diagnostic; the model is unchanged", async () => {
    const { wasm } = await compile(JSON.stringify(CHAIN), { maxBatch: 2 });
    const model = await loadModel(wasm);
    const before = Buffer.from(model.memoryView());
    const err = kilnError(() => model.loadWeights(emptyTensors(200_000)));
    expect(err.diagnostics).toEqual([{ code: "safetensors", path: "header", message: "expected at most 79 tensors (the model's weights and optimizer state), got more" }]);
    expect(Buffer.from(model.memoryView()).equals(before)).toBe(true);
  });

  it("compile --weights with a file of 200,000 empty tensors is refused the same way", async () => {
    const err = await compile(JSON.stringify(CHAIN), { maxBatch: 2, weights: emptyTensors(200_000) }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).diagnostics).toEqual([{ code: "safetensors", path: "header", message: "expected at most 79 tensors (the graph's weights and optimizer state), got more" }]);
  });

  it("every weight of the wrong shape: 20 problems and a count of the other 6", async () => {
    const { wasm } = await compile(JSON.stringify(CHAIN), { maxBatch: 2 });
    const model = await loadModel(wasm);
    const wrong = Object.fromEntries(model.weights.map((w) => [w.name, { dtype: "F32" as const, shape: [2], data: new Float32Array(2) }]));
    const err = kilnError(() => model.loadWeights(writeSafetensors(wrong)));
    expect(err.diagnostics).toHaveLength(21);
    expect(err.diagnostics[0]).toEqual({ code: "weights", path: "d0/bias", message: "expected F32 [3], got F32 [2]" });
    expect(err.diagnostics[20]).toEqual({ code: "weights", path: "", message: "… and 6 more problems" });
  });

  it("a file listing the model's tensors under other names: the missing ones come first, the rest counted", async () => {
    const { wasm } = await compile(JSON.stringify(CHAIN), { maxBatch: 2 });
    const model = await loadModel(wasm);
    const renamed = Object.fromEntries(model.weights.map((w) => [`x${"y".repeat(300)}/${w.name}`, { dtype: "F32" as const, shape: [3], data: new Float32Array(3) }]));
    const err = kilnError(() => model.loadWeights(writeSafetensors(renamed)));
    expect(err.diagnostics).toHaveLength(21);
    expect(err.diagnostics.slice(0, 20).every((d) => d.message === "missing from the weights file")).toBe(true);
    expect(err.diagnostics[20]!.message).toBe("… and 32 more problems");
    expect(err.message.length).toBeLessThan(2000);
  });

  it("a KilnError keeps at most 100 diagnostics and counts the rest", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({ code: "input", path: `t${i}`, message: "bad" }));
    const err = new KilnError(many);
    expect(err.diagnostics).toHaveLength(101);
    expect(err.diagnostics[100]).toEqual({ code: "input", path: "", message: "… and 9,900 more problems" });
    expect(err.message.length).toBeLessThan(2000);
  });
});
