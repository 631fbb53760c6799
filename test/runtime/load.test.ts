/**
 * loadModel: every kind of source (bytes, ArrayBuffer, Response, file path, file: URL, http URL,
 * compiled module), its load errors, manifest checks, import checks, and capability detection.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compileAssemblyScript, finishModule } from "../../compiler/assemble/asc.js";
import { KilnError } from "../../runtime/errors.js";
import { capabilities, loadModel } from "../../runtime/index.js";
import { detectCapabilities, PROBES } from "../../runtime/capabilities.js";
import { kernels, linearManifest, moduleBytes } from "./fixtures.js";

let bytes: Uint8Array;
let dir: string;
let server: ReturnType<typeof createServer>;
let base: string;

beforeAll(async () => {
  bytes = await moduleBytes(linearManifest());
  dir = mkdtempSync(join(tmpdir(), "kiln-rt-"));
  writeFileSync(join(dir, "model.wasm"), bytes);
  server = createServer((req, res) => {
    if (req.url === "/model.wasm") res.writeHead(200, { "content-type": "application/wasm" }).end(bytes);
    else res.writeHead(404).end("no");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Loads and checks that the model works: predict on one example with zero weights gives zeros. */
async function works(source: Parameters<typeof loadModel>[0]) {
  const m = await loadModel(source);
  expect(m.manifest.name).toBe("linear");
  m.setWeights({ "dense/kernel": new Float32Array(6).fill(1), "dense/bias": new Float32Array([1, 2]) });
  expect(Array.from(m.predict({ x: new Float32Array([1, 2, 3]) }).out)).toEqual([7, 8]);
}

async function loadError(source: Parameters<typeof loadModel>[0]): Promise<KilnError> {
  const e = await loadModel(source).then(() => undefined, (err) => err);
  expect(e).toBeInstanceOf(KilnError);
  return e;
}

describe("sources", () => {
  test("Uint8Array", () => works(bytes));
  test("ArrayBuffer", () => works(bytes.slice().buffer));
  test("Response", () => works(new Response(bytes as Uint8Array<ArrayBuffer>)));
  test("file path", () => works(join(dir, "model.wasm")));
  test("file: URL object", () => works(pathToFileURL(join(dir, "model.wasm"))));
  test("file: URL string", () => works(pathToFileURL(join(dir, "model.wasm")).href));
  test("http URL", () => works(new URL(`${base}/model.wasm`)));
  test("http URL string", () => works(`${base}/model.wasm`));
  test("WebAssembly.Module", async () => works(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>)));
});

describe("load errors", () => {
  test("a missing file names the path", async () => {
    const e = await loadError(join(dir, "nope.wasm"));
    expect(e.path).toBe(join(dir, "nope.wasm"));
    expect(e.message).toMatch(/could not read the model file/);
  });

  test("an HTTP error names the URL and status", async () => {
    const e = await loadError(`${base}/missing.wasm`);
    expect(e.message).toMatch(/missing\.wasm: fetching the model failed: HTTP 404/);
  });

  test("bytes that are not WebAssembly", async () => {
    const e = await loadError(new TextEncoder().encode("hello"));
    expect(e.message).toMatch(/not a valid WebAssembly module/);
  });

  test("a Response whose body was already read", async () => {
    const res = new Response(bytes as Uint8Array<ArrayBuffer>);
    await res.arrayBuffer();
    const e = await loadError(res);
    expect(e.message).toMatch(/could not read the response body/);
  });

  test("a source of the wrong type", async () => {
    const e = await loadError(42 as never);
    expect(e.message).toMatch(/expected bytes, a Response, a URL, a path or a WebAssembly.Module, got number/);
  });

  test("a module without a manifest", async () => {
    const e = await loadError(finishModule(await kernels(), {}));
    expect(e.message).toMatch(/expected one "kiln.manifest" custom section .* found 0/);
  });

  test("a manifest that is not JSON", async () => {
    const e = await loadError(finishModule(await kernels(), { "kiln.manifest": new TextEncoder().encode("{oops") }));
    expect(e.message).toMatch(/the manifest is not valid JSON/);
  });

  const broken: [string, () => unknown, RegExp][] = [
    ["wrong format", () => ({ ...linearManifest(), format: "kiln.module/v0" }), /expected format "kiln.module\/v1", got "kiln.module\/v0"/],
    ["maxBatch 0", () => linearManifest({ maxBatch: 0 }), /maxBatch must be a positive integer, got 0/],
    ["input outside memory", () => {
      const m = linearManifest();
      m.inputs[0].offset = 3 * 65536 - 8;
      return m;
    }, /inputs "x": offset 196600 \(\+48 bytes\) is not 4-byte aligned inside the 196608-byte memory/],
    ["misaligned weight", () => {
      const m = linearManifest();
      m.weights[0].offset += 2;
      return m;
    }, /weight "dense\/kernel": offset 66306/],
    ["bad shape", () => {
      const m = linearManifest();
      m.outputs[0].shape = [0];
      return m;
    }, /outputs "out": bad shape \[0\]/],
    ["missing export", () => linearManifest({ exports: { ...linearManifest().exports, predict: "nope" } }), /the module does not export "nope"/],
    ["training missing", () => linearManifest({ training: undefined }), /canTrain is set but training or its exports are missing/],
    ["slot of an unknown weight", () => {
      const m = linearManifest();
      m.training!.slots[0].weight = "ghost";
      return m;
    }, /training.slots: expected .*, got .*"ghost"/],
  ];
  test.each(broken)("manifest: %s", async (_, manifest, message) => {
    const e = await loadError(await moduleBytes(manifest()));
    expect(e.diagnostics[0]).toMatchObject({ code: "manifest", path: "kiln.manifest" });
    expect(e.message).toMatch(message);
  });

  test.each([
    ["host", "log", /the module imports function "host.log"; a kiln module imports only env.memory/],
    // The barrier's imports are granted to threaded modules only (their manifest says threads).
    ["env", "wait32", /the module imports function "env.wait32"; a kiln module imports only env.memory \(and env.wait32, env.passed when threaded\)/],
    ["env", "passed", /the module imports function "env.passed"; a kiln module imports only env.memory \(and env.wait32, env.passed when threaded\)/],
  ])("a module importing anything but env.memory: %s.%s", async (module, name, message) => {
    const src = `@external("${module}", "${name}") declare function f(x: i32): void;\nexport function predict(n: i32): void { f(n); }`;
    const wasm = await compileAssemblyScript(src, { optimizeLevel: 0, initialPages: 1 });
    const manifest = {
      ...linearManifest({ canTrain: false, training: undefined, exports: { predict: "predict" } }),
      memory: { pages: 1, weightsBytes: 0, arenaBytes: 0 }, inputs: [], outputs: [], targets: [], weights: [],
    };
    const e = await loadError(finishModule(wasm, { "kiln.manifest": new TextEncoder().encode(JSON.stringify(manifest)) }));
    expect(e.message).toMatch(message);
  });

  test("a manifest claiming threads on a non-shared module fails to instantiate with a KilnError", async () => {
    const e = await loadError(await moduleBytes(linearManifest({ threads: true, maxThreads: 1, threadControl: 0, threadSplits: 64, threadSegments: {} })));
    expect(e.message).toMatch(/could not instantiate the module \(3 pages of memory, shared\)/);
  });
});

test("capabilities are detected with WebAssembly.validate", async () => {
  const caps = capabilities();
  expect(caps.simd).toBe(true);
  expect(typeof caps.relaxedSimd).toBe("boolean");
  expect(typeof caps.threads).toBe("boolean");
  expect(caps.threads).toBe(true); // Node 20 has shared memory
  expect((await loadModel(bytes)).capabilities).toEqual(caps);
});

test("SIMD is detected, not assumed: a validator that refuses SIMD gives simd false", () => {
  expect(detectCapabilities()).toEqual(capabilities());
  expect(WebAssembly.validate(PROBES.simd)).toBe(true); // Node 20 has SIMD
  // An engine without SIMD refuses every module that uses the 0xfd prefix.
  const noSimd = detectCapabilities((b) => !b.includes(0xfd) && WebAssembly.validate(b));
  expect(noSimd.simd).toBe(false);
  expect(noSimd.relaxedSimd).toBe(false);
  expect(noSimd.threads).toBe(true);
  expect(detectCapabilities(() => false)).toEqual({ simd: false, relaxedSimd: false, threads: false });
  expect(detectCapabilities(() => true).simd).toBe(true);
  // The probe is a real SIMD function: cut its v128.const short and the engine refuses it.
  const at = PROBES.simd.indexOf(0xfd);
  const broken = new Uint8Array([...PROBES.simd.subarray(0, at + 2), ...PROBES.simd.subarray(at + 10)]);
  expect(WebAssembly.validate(broken)).toBe(false);
});
