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
