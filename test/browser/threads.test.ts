/**
 * Threaded modules in a real browser (the Chromium that ./chromium.ts finds, driven by
 * playwright-core): the web demo's worker loads build/mnist-cnn.threads.wasm asking for 2 threads.
 * Served with COOP/COEP the page is cross-origin isolated and the runtime trains on a pool of 2 (a
 * nested Web Worker over shared memory); served without them it warns once and runs the
 * single-threaded fallback. Both train, and their losses are bit-identical, as the thread count
 * never changes the arithmetic. Also: a thread worker the browser refuses (CSP) fails the load
 * readably; a page's main thread falls back.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import binaryen from "binaryen";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { useChromium } from "./chromium.js";
import { prepare, THREADS } from "../../examples/web-mnist/prepare.mjs";
import { startServer } from "../../examples/web-mnist/serve.mjs";

const STEPS = 60, BATCH = 32;

interface DemoState {
  ready: boolean; done: boolean; error?: string; losses: number[];
  threads: number; isolated: boolean; warnings: string[]; test?: { loss: number; accuracy: number };
}
interface Run {
  isolated: boolean; state: DemoState; mode: string; workers: number; warnings: string[]; errors: string[];
}

type Server = Awaited<ReturnType<typeof startServer>>;
let isolatedServer: Server, plainServer: Server;
const browser = useChromium();
let threadsWasm: string;
const runs: { threaded?: Run; fallback?: Run } = {};

beforeAll(async () => {
  const buildDir = mkdtempSync(join(tmpdir(), "kiln-web-threads-"));
  ({ threadsWasm } = await prepare({ out: buildDir, optimizeLevel: 0 }));
  [isolatedServer, plainServer] = await Promise.all([startServer({ port: 0, buildDir, isolate: true }), startServer({ port: 0, buildDir })]);
});

afterAll(async () => {
  await isolatedServer?.close();
  await plainServer?.close();
});

/** Opens the demo at `url`, trains STEPS batches of BATCH and collects what the page and its workers said. */
async function trainOn(url: string): Promise<Run> {
  const page = await browser().context.newPage();
  return collect(page, url, true);
}

async function collect(page: Page, url: string, train: boolean): Promise<Run> {
  const warnings: string[] = [], errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
    if (m.type() === "warning") warnings.push(m.text());
  });
  try {
    await page.goto(url);
    type W = { kilnDemo?: { state: DemoState } };
    await page.waitForFunction(() => (window as unknown as W).kilnDemo?.state.ready || (window as unknown as W).kilnDemo?.state.error, null, { timeout: 30_000 });
    if (train) {
      await page.fill("#steps", String(STEPS));
      await page.fill("#batch", String(BATCH));
      await page.click("#train");
    await page.waitForFunction(() => (window as unknown as W).kilnDemo!.state.done || (window as unknown as W).kilnDemo!.state.error, null, { timeout: 90_000 });
    }
    return {
      isolated: await page.evaluate(() => crossOriginIsolated),
      state: await page.evaluate(() => (window as unknown as W).kilnDemo!.state),
      mode: (await page.textContent("#mode")) ?? "",
      workers: page.workers().length,
      warnings, errors,
    };
  } finally {
    await page.close();
  }
}

function expectTrained(s: DemoState): void {
  expect(s.error).toBeUndefined();
  expect(s.losses).toHaveLength(STEPS);
  expect(s.losses.every(Number.isFinite)).toBe(true);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(s.losses.slice(0, 10)), last = mean(s.losses.slice(-10));
  expect(first).toBeGreaterThan(1.5); // an untrained 10-way softmax starts near ln 10 ≈ 2.3
  expect(last).toBeLessThan(first * 0.6);
  expect(s.test!.accuracy).toBeGreaterThan(0.6); // 2,000 held-out digits after 60 small steps
}

test("cross-origin-isolated page: the worker trains on 2 threads", async () => {
  const run = (runs.threaded = await trainOn(isolatedServer.url));
  expect(run.isolated).toBe(true);
  expect(run.state.isolated).toBe(true); // the worker, too
  expect(run.state.threads).toBe(THREADS);
  expect(run.mode).toBe(`Training on ${THREADS} threads (cross-origin isolated).`);
  expect(run.state.warnings).toEqual([]); // no fallback
  expect(run.warnings.filter((w) => w.includes("kiln"))).toEqual([]);
  expect(run.workers).toBe(THREADS); // the training worker and the thread worker it started
  // Every step waits on barriers for all THREADS threads, so finishing at all means both took part.
  expectTrained(run.state);
  expect(run.errors).toEqual([]);
});

test("the module the isolated page trains with is SIMD code on a shared memory, so the browser ran both", () => {
  const mod = binaryen.readBinary(readFileSync(threadsWasm));
  try {
    const text = mod.emitText();
    expect(text).toMatch(/\(import "env" "memory" \(memory \S+ \d+ \d+ shared\)\)/);
    expect(text).toMatch(/\(memory\.atomic\.notify|\(i32\.atomic\./);
    expect(text.split("(f32x4.").length - 1).toBeGreaterThan(100); // the kernels' arithmetic, not a stray op
  } finally {
    mod.dispose();
  }
});

test("page without COOP/COEP: falls back to one thread, warns once naming the headers", async () => {
  const run = (runs.fallback = await trainOn(plainServer.url));
  expect(run.isolated).toBe(false);
  expect(run.state.isolated).toBe(false);
  expect(run.state.threads).toBe(1);
  expect(run.mode).toBe("Training on 1 thread (not cross-origin isolated; start the server with --isolate for 2).");
  expect(run.state.warnings).toHaveLength(1);
  expect(run.state.warnings[0]).toMatch(/single-threaded/);
  expect(run.state.warnings[0]).toMatch(/Cross-Origin-Opener-Policy: same-origin/);
  expect(run.state.warnings[0]).toMatch(/Cross-Origin-Embedder-Policy: require-corp/);
  expect(run.warnings.filter((w) => w.includes("kiln"))).toEqual(run.state.warnings); // the console shows it once
  expect(run.workers).toBe(1); // only the training worker
  expectTrained(run.state);
  expect(run.errors).toEqual([]);
});

test("2 threads and the fallback give bit-identical losses and test accuracy", () => {
  const { threaded, fallback } = runs;
  expect(threaded?.state.losses).toHaveLength(STEPS);
  expect(fallback?.state.losses).toHaveLength(STEPS);
  expect(fallback!.state.losses).toEqual(threaded!.state.losses);
  expect(fallback!.state.test).toEqual(threaded!.state.test);
});

test("an isolated page whose worker may not start Blob workers: loading fails with a readable KilnError", async () => {
  // The training worker's own Content-Security-Policy decides whether the runtime's thread worker
  // (a blob: URL) may start. Refused, the demo must say why, not hang or print [object Event];
  // the same policy plus blob: is the control (it loads with 2 threads).
  const open = async (workerSrc: string) => {
    const page = await browser().context.newPage();
    await page.route("**/worker.js", async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: { ...res.headers(), "content-security-policy": `worker-src ${workerSrc}` } });
    });
    return collect(page, isolatedServer.url, false);
  };
  const refused = await open("'self'");
  expect(refused.isolated).toBe(true);
  expect(refused.state.ready).toBe(false);
  expect(refused.state.error).toBe("threads: a thread worker failed to start: the browser refused the Web Worker (a Content-Security-Policy without worker-src blob:?)");
  const allowed = await open("'self' blob:");
  expect(allowed.state.error).toBeUndefined();
  expect(allowed.state.ready).toBe(true);
  expect(allowed.state.threads).toBe(THREADS);
});

interface Loaded { pool: number; threaded: boolean; probs: number[] }
/** Runs in the page (a string, so vitest does not rewrite its dynamic import): loads the threaded file twice. */
const MAIN_THREAD_LOADS = `(async () => {
  const { loadModel } = await import(new URL("runtime/index.js", location.href).href);
  const image = Float32Array.from({ length: 3 * 784 }, (_, i) => ((i * 7919) % 255) / 255);
  const use = async (threads) => {
    const model = await loadModel(new URL("build/mnist-cnn.threads.wasm", location.href), { threads });
    const probs = Array.from(model.predict({ image }).probs);
    const out = { pool: model.pool?.size ?? 0, threaded: model.manifest.threads === true, probs };
    model.dispose();
    return out;
  };
  return { isolated: crossOriginIsolated, two: await use(2), one: await use(1) };
})()`;

test("an isolated page's main thread: 2 threads fall back (it cannot wait on a barrier), 1 thread runs the threaded build", async () => {
  const page = await browser().context.newPage();
  const warnings: string[] = [];
  page.on("console", (m) => m.type() === "warning" && warnings.push(m.text()));
  try {
    await page.goto(isolatedServer.url);
    const got: { isolated: boolean; two: Loaded; one: Loaded } = await page.evaluate(MAIN_THREAD_LOADS);
    expect(got.isolated).toBe(true);
    expect(got.two.pool).toBe(0);
    expect(got.two.threaded).toBe(false); // the carried single-threaded build
    expect(got.one.pool).toBe(0);
    expect(got.one.threaded).toBe(true); // the threaded build itself, on shared memory, one thread
    expect(got.two.probs).toHaveLength(30);
    expect(got.two.probs.every(Number.isFinite)).toBe(true);
    expect(got.one.probs).toEqual(got.two.probs);
    const kiln = warnings.filter((w) => w.startsWith("kiln:"));
    expect(kiln).toHaveLength(1);
    expect(kiln[0]).toMatch(/main thread cannot wait on a barrier \(load the model in a Web Worker\)/);
  } finally {
    await page.close();
  }
});
