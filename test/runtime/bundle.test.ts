/**
 * The browser bundle: runtime/index.ts bundled by esbuild for the browser has no static Node
 * imports (only the dynamic `import("node:fs/promises")` of file paths and `import("node:worker_threads")`
 * of threads, both in Node-only branches), no `require`, and
 * works: the bundled code loads a module from bytes and predicts.
 */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { expect, test } from "vitest";
import { linearManifest, moduleBytes } from "./fixtures.js";

test("the browser bundle has no static Node dependencies and works", async () => {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "../../runtime/index.ts")],
    bundle: true, platform: "browser", format: "esm", minify: true, write: false, external: ["node:*"], logLevel: "silent",
  });
  const code = result.outputFiles[0].text;
  const nodeRefs = [...code.matchAll(/["']node:[a-z_/]+["']/g)].map((m) => m[0]);
  // node:fs/promises for file paths, node:worker_threads for threads: both dynamic, in Node-only branches.
  expect([...new Set(nodeRefs)].sort()).toEqual(['"node:fs/promises"', '"node:worker_threads"']);
  expect(code).toMatch(/import\("node:fs\/promises"\)/);
  expect(code).not.toMatch(/\bfrom\s*"node:/);
  expect(code).not.toMatch(/\brequire\(/);

  const file = join(mkdtempSync(join(tmpdir(), "kiln-bundle-")), "runtime.mjs");
  writeFileSync(file, code);
  const runtime = await import(pathToFileURL(file).href);
  const model = await runtime.loadModel(await moduleBytes(linearManifest()));
  model.setWeights({ "dense/kernel": new Float32Array(6).fill(2), "dense/bias": new Float32Array(2) });
  expect(Array.from(model.predict({ x: new Float32Array([1, 1, 1]) }).out)).toEqual([6, 6]);
  expect(() => model.predict({ x: new Float64Array(3) })).toThrow(runtime.KilnError);
});

test("kiln/runtime/predict's browser bundle has no static Node dependencies, none of the training code, and works", async () => {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "../../runtime/predict.ts")],
    bundle: true, platform: "browser", format: "esm", minify: true, write: false, external: ["node:*"], logLevel: "silent",
  });
  const code = result.outputFiles[0].text;
  expect(code).not.toMatch(/\bfrom\s*"node:/);
  expect(code).not.toMatch(/\brequire\(/);
  // The training step, the fit loop and the weights writer are not in it, even inlined (this bundle has no code splitting).
  expect(code).not.toMatch(/the step was undone|restoreBestWeights|"data_offsets":\[\$\{/);

  const file = join(mkdtempSync(join(tmpdir(), "kiln-bundle-")), "predict.mjs");
  writeFileSync(file, code);
  const runtime = await import(pathToFileURL(file).href);
  const { writeSafetensors } = await import("../../runtime/safetensors.js");
  const weights = writeSafetensors({ "dense/kernel": { dtype: "F32", shape: [3, 2], data: new Float32Array(6).fill(2) }, "dense/bias": { dtype: "F32", shape: [2], data: new Float32Array(2) } });
  const model = await runtime.loadModel(await moduleBytes(linearManifest()), { weights });
  expect(Array.from(model.predict({ x: new Float32Array([1, 1, 1]) }).out)).toEqual([6, 6]);
  expect(() => model.predict({ x: new Float64Array(3) })).toThrow(runtime.KilnError);
  expect(model.trainStep).toBeUndefined();
});
