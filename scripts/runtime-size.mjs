/**
 * Size of the browser runtime: bundles dist/runtime/index.js (build first with `npm run build`)
 * with esbuild for the browser (ESM, minified, code splitting) and prints the core (the entry chunk
 * and what it imports statically: what a page parses before loadModel can start) and the lazy
 * chunks loadModel fetches by dynamic import while the module compiles (weights I/O,
 * initializers), minified and gzipped, with a per-file breakdown. Node built-ins stay external.
 * Usage: node scripts/runtime-size.mjs [--budget 15000]   (with --budget: exit 1 when the core's
 * minified size exceeds it; the project's target is 15 KB minified, 6 KB gzipped).
 */
import { existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const entry = fileURLToPath(new URL("../dist/runtime/index.js", import.meta.url));
if (!existsSync(entry)) {
  console.error(`${entry} does not exist; run \`npm run build\` first`);
  process.exit(1);
}
const budgetAt = process.argv.indexOf("--budget");
const budget = budgetAt > 0 ? Number(process.argv[budgetAt + 1]) : undefined;

const result = await build({
  entryPoints: { runtime: entry },
  bundle: true,
  splitting: true,
  platform: "browser",
  format: "esm",
  minify: true,
  target: "es2022",
  external: ["node:*"],
  write: false,
  metafile: true,
  outdir: "out",
  logLevel: "warning",
});
const outputs = result.metafile.outputs;
const files = new Map(result.outputFiles.map((f) => [`out/${f.path.split("/out/")[1]}`, f.contents]));
const entryOut = Object.keys(outputs).find((k) => outputs[k].entryPoint);

/** The entry chunk and every chunk reachable from it by static imports. */
function staticClosure(start) {
  const seen = new Set([start]);
  for (const file of seen) for (const imp of outputs[file].imports) if (imp.kind === "import-statement" && !imp.external) seen.add(imp.path);
  return [...seen];
}
const core = staticClosure(entryOut);
const lazy = Object.keys(outputs).filter((k) => !core.includes(k));

function report(label, chunks) {
  const bytes = chunks.reduce((n, c) => n + files.get(c).length, 0);
  // One gzip stream over the group approximates what a server sends (a little optimistic for several files).
  const gzip = gzipSync(Buffer.concat(chunks.map((c) => files.get(c))), { level: 9 }).length;
  console.log(`${label}: ${bytes} bytes minified, ${gzip} bytes gzipped`);
  const shares = chunks.flatMap((c) => Object.entries(outputs[c].inputs)).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput);
  for (const [file, { bytesInOutput }] of shares) console.log(`  ${String(bytesInOutput).padStart(6)}  ${file}`);
  return bytes;
}
const coreBytes = report("kiln/runtime core (target < 15000 minified, < 6000 gzipped)", core);
report("lazy chunks (weights I/O and initializers: fetched by loadModel while the module compiles; the training loop: on the first fit())", lazy);
if (budget !== undefined && coreBytes > budget) {
  console.error(`over budget by ${coreBytes - budget} bytes`);
  process.exitCode = 1;
}
