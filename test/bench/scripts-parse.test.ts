/**
 * The bench scripts are plain JavaScript that `npm test` otherwise never loads (running them takes
 * minutes): each must at least parse, so a broken edit is caught here and not at the next bench run
 * (a stray brace in bench/run.js once stopped `npm run bench` before it measured anything).
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { expect, test } from "vitest";

const scripts = ["bench", "bench/lib", "scripts"].flatMap((dir) =>
  readdirSync(dir).filter((f) => /\.(m?js)$/.test(f)).map((f) => `${dir}/${f}`));

test("every bench and project script parses (node --check)", () => {
  expect(scripts).toContain("bench/run.js");
  const broken = scripts.map((f) => [f, spawnSync(process.execPath, ["--check", f], { encoding: "utf8" })] as const)
    .filter(([, r]) => r.status !== 0).map(([f, r]) => `${f}: ${r.stderr.split("\n").slice(0, 4).join(" ")}`);
  expect(broken).toEqual([]);
});
