/**
 * The relaxed-SIMD variant: a module compiled with `relaxedSimd` is the plain-SIMD build carrying
 * its relaxed twin; loadModel runs the twin only where the host validates relaxed SIMD (Node 20
 * needs --experimental-wasm-relaxed-simd), and both give the same outputs within rounding.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { relErr, rng } from "./harness.js";

const graph = {
  format: "kiln.graph/v2", name: "relaxed", seed: 1, inputs: [{ name: "x", shape: [37] }],
  layers: [{ name: "h", op: "dense", units: 29, activation: "relu" }, { name: "out", op: "dense", units: 11 }],
};

describe("relaxed-SIMD variant", () => {
  it("is chosen at load time where the host validates it, the plain build elsewhere", async () => {
    const { wasm, manifest } = await compile(JSON.stringify(graph), { relaxedSimd: true, optimizeLevel: 0, maxBatch: 8 });
    expect(manifest.simd).toBe("simd128");
    const section = WebAssembly.Module.customSections(new WebAssembly.Module(wasm), "kiln.relaxed");
    expect(section.length).toBe(1);

    const next = rng(9);
    const x = Float32Array.from({ length: 5 * 37 }, () => next() * 2 - 1);
    const plain = await loadModel(wasm);
    expect(plain.manifest.simd).toBe("simd128"); // Node 20 without the flag: plain build
    const expected = plain.predict({ x }).out!;

    const dir = mkdtempSync(join(tmpdir(), "kiln-relaxed-"));
    writeFileSync(join(dir, "m.wasm"), wasm);
    writeFileSync(join(dir, "x.json"), JSON.stringify(Array.from(x)));
    writeFileSync(join(dir, "run.mjs"), `
      import { readFileSync } from "node:fs";
      import { loadModel } from ${JSON.stringify(new URL("../../dist/runtime/index.js", import.meta.url).href)};
      const model = await loadModel(new Uint8Array(readFileSync(${JSON.stringify(join(dir, "m.wasm"))})));
      const x = Float32Array.from(JSON.parse(readFileSync(${JSON.stringify(join(dir, "x.json"))}, "utf8")));
      console.log(JSON.stringify({ simd: model.manifest.simd, out: Array.from(model.predict({ x }).out) }));
    `);
    const out = JSON.parse(execFileSync(process.execPath, ["--experimental-wasm-relaxed-simd", join(dir, "run.mjs")], { encoding: "utf8" }));
    expect(out.simd).toBe("relaxed-simd");
    expect(relErr(out.out, expected)).toBeLessThan(1e-5);
  });
});
