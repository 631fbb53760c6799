/**
 * Runs an example script the way a user would (`node examples/<name>/run.mjs --quick …`) in a
 * child process, with its data, plots and JSON summary in a fresh temporary folder, and returns
 * what it printed and wrote. The scripts import the built package (`kiln`, `kiln/runtime`), so
 * `dist/` must be current (`npm test` builds it first).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, "../..");
export const EXAMPLE_TIMEOUT = 240_000;

export interface ExampleRun {
  dir: string;
  stdout: string;
  summary: any;
}

export async function runExample(name: string, args: string[] = []): Promise<ExampleRun> {
  if (!existsSync(join(ROOT, "dist/compiler/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  const dir = mkdtempSync(join(tmpdir(), `kiln-example-${name.replace(/\//g, "-")}-`));
  const summaryPath = join(dir, "summary.json");
  const { stdout } = await run(
    process.execPath,
    [join(ROOT, "examples", name, "run.mjs"), "--quick", "--summary", summaryPath, "--out", dir, "--data-dir", join(dir, "data"), ...args],
    // Debug builds: every buffer guarded and checked after every kernel (zero corruptions).
    { cwd: ROOT, maxBuffer: 16 << 20, timeout: EXAMPLE_TIMEOUT, env: { ...process.env, KILN_DEBUG: "1" } },
  );
  return { dir, stdout, summary: JSON.parse(readFileSync(summaryPath, "utf8")) };
}

/** A learning curve SVG: parses as SVG text with labelled axes, both curves and a legend. */
export function expectLearningCurve(path: string, quantities = ["Loss"]): void {
  const svg = readFileSync(path, "utf8");
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(svg).toContain(">Epoch</text>");
  for (const q of quantities) expect(svg).toContain(`>${q}</text>`);
  expect(svg).toContain(">train</text>");
  expect(svg).toContain(">validation</text>");
  // One train and one validation path per panel.
  expect(svg.match(/<path d="M/g)?.length).toBe(2 * quantities.length);
}

/** Epoch losses fell: the last is below the first, and below the loss before any training. */
export function expectLossFalls(history: { loss: number[] }, lossBefore?: number): void {
  const loss = history.loss;
  expect(loss.length).toBeGreaterThanOrEqual(2);
  for (const v of loss) expect(Number.isFinite(v)).toBe(true);
  expect(loss.at(-1)!).toBeLessThan(loss[0]!);
  if (lossBefore !== undefined) expect(loss.at(-1)!).toBeLessThan(lossBefore);
}
