/**
 * The front end's time limits, checked and reported (`npm run check-limits`, which builds first):
 * every one of the 2,000 seeded fuzz cases of test/frontend/fuzz.test.ts is checked in under 1 s,
 * and a 10,000-layer graph and a ~10 MB graph (test/frontend/limits.test.ts) each in under 5 s.
 * The tests assert what these graphs give; timings live here, where a slow shared machine makes a
 * visible report instead of a flaky test. Prints one line per check and exits 1 if any missed.
 * Usage: node scripts/limits-check.mjs   (after `npm run build`)
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const frontend = join(root, "dist/compiler/frontend/index.js");
if (!existsSync(frontend)) {
  console.error(`${frontend} does not exist; run \`npm run build\` first`);
  process.exit(1);
}
const { checkGraph } = await import(pathToFileURL(frontend).href);

// The tests' graph generators are TypeScript: bundle them once with esbuild (a dev dependency).
const dir = mkdtempSync(join(tmpdir(), "kiln-limits-"));
const generators = join(dir, "graphs-gen.mjs");
await build({ entryPoints: [join(root, "test/frontend/graphs-gen.ts")], bundle: true, platform: "node", format: "esm", outfile: generators, logLevel: "error" });
const { chain, examples, fuzzCases, padded } = await import(pathToFileURL(generators).href);
rmSync(dir, { recursive: true, force: true });

/** Milliseconds `fn` takes; a KilnError (a rejected graph) is an outcome, anything else a crash. */
function timed(fn) {
  const t0 = performance.now();
  try {
    fn();
  } catch (err) {
    if (err?.name !== "KilnError") throw err;
  }
  return performance.now() - t0;
}

const results = [];
function report(what, ms, limitMs, detail = "") {
  const ok = ms < limitMs;
  results.push(ok);
  console.log(`${ok ? "ok  " : "MISS"} ${what}: ${ms.toFixed(1)} ms (limit ${limitMs} ms)${detail}`);
}

process.chdir(root); // the fuzz generator reads examples/ relative to the project
checkGraph(examples[0]); // compiles the schema validator once, outside the figures (as the test does)

let slowest = 0, slowestCase = -1, over = 0, count = 0;
for (const input of fuzzCases()) {
  const ms = timed(() => checkGraph(input));
  if (ms >= 1000) over++;
  if (ms > slowest) [slowest, slowestCase] = [ms, count];
  count++;
}
report(`each of ${count} fuzz cases`, slowest, 1000, `: slowest is case ${slowestCase}; ${over} at or over the limit`);

const layers = JSON.stringify(chain(10_000));
report("10,000 layers", timed(() => checkGraph(layers)), 5000, ` (${(layers.length / 1e6).toFixed(2)} MB of JSON)`);

const big = padded(chain(10_000, 60));
report("a ~10 MB graph", timed(() => checkGraph(big)), 5000, ` (${(big.length / 1e6).toFixed(2)} MB, 10,000 layers)`);

const missed = results.filter((ok) => !ok).length;
console.log(missed ? `${missed} of ${results.length} limits missed` : `all ${results.length} limits met`);
process.exit(missed ? 1 : 0);
