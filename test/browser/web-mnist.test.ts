/**
 * The web demo end to end in a real browser (the Chromium that ./chromium.ts finds, driven by
 * playwright-core): the page trains the seed CNN in a Web Worker while the page stays responsive,
 * the loss falls, real test digits painted on the pad and a digit drawn with the mouse are
 * recognized, and a screenshot is saved to test/browser/screenshot.png. The module is compiled
 * fresh (optimizeLevel 0) each run.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { useChromium } from "./chromium.js";
import { decodeDigits, type DigitPart } from "../../examples/web-mnist/digits.js";
import { prepare } from "../../examples/web-mnist/prepare.mjs";
import { startServer } from "../../examples/web-mnist/serve.mjs";

const STEPS = 300, BATCH = 16;

let server: Awaited<ReturnType<typeof startServer>>;
const browser = useChromium();
let page: Page;
let testDigits: DigitPart;
let cnnWasm: Uint8Array; // build/mnist-cnn.wasm, the module the page predicts with
const pageErrors: string[] = [];

interface DemoState {
  ready: boolean; training: boolean; done: boolean; error?: string;
  losses: number[]; accuracies: number[]; weightsStep: number; latencies: number[];
  predictions: number; probs?: number[]; test?: { loss: number; accuracy: number };
}
const demoState = () => page.evaluate(() => (window as unknown as { kilnDemo: { state: DemoState } }).kilnDemo.state);

beforeAll(async () => {
  const buildDir = mkdtempSync(join(tmpdir(), "kiln-web-"));
  const files = await prepare({ out: buildDir, optimizeLevel: 0 });
  testDigits = decodeDigits(readFileSync(files.data)).test;
  cnnWasm = readFileSync(files.wasm);
  server = await startServer({ port: 0, buildDir });
});

afterAll(async () => {
  await server?.close();
});

test("trains in a worker, stays responsive, recognizes digits", async () => {
  page = await browser().context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
  await page.goto(server.url);
  await page.waitForFunction(() => (window as unknown as { kilnDemo?: { state: DemoState } }).kilnDemo?.state.ready, null, { timeout: 30_000 });

  await page.fill("#steps", String(STEPS));
  await page.fill("#batch", String(BATCH));
  await page.click("#train");

  // While the worker trains: toggle chart smoothing a few times; the page measures each answer.
  await page.waitForFunction(() => (window as unknown as { kilnDemo: { state: DemoState } }).kilnDemo.state.losses.length >= 10, null, { timeout: 30_000 });
  for (let i = 0; i < 4; i++) {
    await page.click("#smooth");
    await page.waitForTimeout(150);
  }
  const during = await demoState();
  expect(during.training).toBe(true); // the clicks really happened during training
  expect(during.losses.length).toBeLessThan(STEPS);

  await page.waitForFunction(() => (window as unknown as { kilnDemo: { state: DemoState } }).kilnDemo.state.done, null, { timeout: 90_000 });
  const s = await demoState();
  expect(s.error).toBeUndefined();
  expect(s.losses).toHaveLength(STEPS);
  expect(s.losses.every(Number.isFinite)).toBe(true);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(s.losses.slice(0, 20)), last = mean(s.losses.slice(-20));
  expect(first).toBeGreaterThan(1.5); // an untrained 10-way softmax starts near ln 10 ≈ 2.3
  expect(last).toBeLessThan(first * 0.5);
  expect(s.test!.accuracy).toBeGreaterThan(0.8);
  expect(s.weightsStep).toBe(STEPS);
  expect(s.latencies.length).toBe(4);
  expect(Math.max(...s.latencies)).toBeLessThan(200);
  expect(await page.isChecked("#smooth")).toBe(true); // four toggles: back where it started

  // Real held-out digits painted on the pad at different sizes and places; the page preprocesses.
  let right = 0;
  const tried = 20;
  for (let i = 0; i < tried; i++) {
    const row = Math.floor((i * testDigits.count) / tried);
    const pixels = Array.from(testDigits.pixels.subarray(row * 784, (row + 1) * 784), (v) => v / 255);
    const before = (await demoState()).predictions;
    await page.evaluate(([px, opts]) => (window as unknown as { kilnDemo: { paintDigit(p: number[], o: object): void } }).kilnDemo.paintDigit(px, opts),
      [pixels, { scale: 6 + (i % 4), x: 10 + 7 * (i % 5), y: 40 - 6 * (i % 3) }] as const);
    await page.waitForFunction((n) => (window as unknown as { kilnDemo: { state: DemoState } }).kilnDemo.state.predictions > n, before);
    const probs = (await demoState()).probs!;
    expect(probs).toHaveLength(10);
    expect(mean(probs) * 10).toBeCloseTo(1, 4);
    if (probs.indexOf(Math.max(...probs)) === testDigits.labels[row]) right++;
  }
  expect(right).toBeGreaterThanOrEqual(16);

  // A "1" drawn with the mouse: predictions update while drawing, and it is read as a 1.
  await page.click("#clear");
  const box = (await page.locator("#pad").boundingBox())!;
  const before = (await demoState()).predictions;
  await page.mouse.move(box.x + 150, box.y + 40);
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) {
    await page.mouse.move(box.x + 150 - k, box.y + 40 + 20 * k);
    await page.waitForTimeout(20);
  }
  const midStroke = (await demoState()).predictions;
  await page.mouse.up();
  await page.waitForTimeout(100);
  expect(midStroke).toBeGreaterThan(before + 1);
  const probs = (await demoState()).probs!;
  expect(probs.indexOf(Math.max(...probs))).toBe(1);
  expect(await page.textContent("#verdict")).toMatch(/Looks like a 1/);

  await page.screenshot({ path: join(import.meta.dirname, "screenshot.png"), fullPage: true });
  expect(pageErrors).toEqual([]);
});

/** One call of WebAssembly.compileStreaming or WebAssembly.compile in the page. */
interface CompileCall { api: "compileStreaming" | "compile"; url?: string; type?: string | null; bytes?: number }

/**
 * Runs in the page before its scripts: records every compileStreaming call (with the response's
 * URL and Content-Type) and every compile call (with the byte count), then calls the real function.
 */
const WATCH_COMPILES = `(() => {
  const W = WebAssembly, calls = [];
  const streaming = W.compileStreaming, whole = W.compile;
  W.compileStreaming = async (source) => {
    const res = await source;
    calls.push({ api: "compileStreaming", url: res.url, type: res.headers.get("content-type") });
    return streaming.call(W, res);
  };
  W.compile = (bytes) => {
    calls.push({ api: "compile", bytes: bytes.byteLength });
    return whole.call(W, bytes);
  };
  window.compileCalls = calls;
})()`;

interface Loads { fromUrl: number[]; fromResponse: number[]; fallback: number[]; calls: CompileCall[] }
/**
 * Runs in the page (a string, so vitest does not rewrite its dynamic import): kiln/runtime/predict
 * loads the page's module from a URL, from a fetched Response and from the URL served as
 * application/octet-stream, and predicts one image with each.
 */
const THREE_LOADS = `(async () => {
  const { loadModel } = await import(new URL("runtime/predict.js", location.href).href);
  const x = Float32Array.from({ length: 784 }, (_, i) => (i % 29) / 29);
  const predict = async (source) => {
    const model = await loadModel(source);
    const y = Array.from(Object.values(model.predict({ [model.inputs[0].name]: x }))[0]);
    model.dispose();
    return y;
  };
  const at = (name) => new URL("build/" + name, location.href);
  const before = window.compileCalls.length;
  const fromUrl = await predict(at("mnist-cnn.wasm"));
  const fromResponse = await predict(await fetch(at("mnist-cnn.wasm")));
  const fallback = await predict(at("as-octet-stream.wasm"));
  return { fromUrl, fromResponse, fallback, calls: window.compileCalls.slice(before) };
})()`;

test("the page compiles its module while it downloads (compileStreaming); served as another type, the runtime compiles the whole bytes to the same model", async () => {
  const streamPage = await browser().context.newPage();
  try {
    await streamPage.addInitScript(WATCH_COMPILES);
    // The same module under a second name, served as application/octet-stream (compileStreaming refuses that type).
    await streamPage.route("**/build/as-octet-stream.wasm", (route) => route.fulfill({ status: 200, contentType: "application/octet-stream", body: Buffer.from(cnnWasm) }));
    await streamPage.goto(server.url);
    await streamPage.waitForFunction(() => (window as unknown as { kilnDemo?: { state: DemoState } }).kilnDemo?.state.ready, null, { timeout: 30_000 });
    const calls = () => streamPage.evaluate(() => (window as unknown as { compileCalls: CompileCall[] }).compileCalls.slice());
    // The page's own model (app.js: loadModel(new URL("./build/mnist-cnn.wasm"))) was compiled streaming, and nothing was compiled whole.
    expect(await calls()).toEqual([{ api: "compileStreaming", url: `${server.url}build/mnist-cnn.wasm`, type: "application/wasm" }]);

    // kiln/runtime/predict from a URL, a fetched Response and the wrongly typed URL: the first two
    // stream, the third is read whole and compiled; all three predict the same (seeded initial weights).
    const out = await streamPage.evaluate<Loads>(THREE_LOADS);
    expect(out.calls).toEqual([
      { api: "compileStreaming", url: `${server.url}build/mnist-cnn.wasm`, type: "application/wasm" },
      { api: "compileStreaming", url: `${server.url}build/mnist-cnn.wasm`, type: "application/wasm" },
      { api: "compile", bytes: cnnWasm.length },
    ]);
    expect(out.fromUrl).toHaveLength(10);
    expect(out.fromUrl.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5); // a softmax over the ten digits
    expect(out.fromResponse).toEqual(out.fromUrl);
    expect(out.fallback).toEqual(out.fromUrl);
  } finally {
    await streamPage.close();
  }
});
