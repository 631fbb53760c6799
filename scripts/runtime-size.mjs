/**
 * Size of the browser runtime: bundles dist/runtime/index.js (build first with
 * `npx tsc -p tsconfig.build.json`) with esbuild for the browser (ESM, minified) and prints the
 * minified and gzipped sizes. Node built-ins (the file-path branch's dynamic import) stay external.
 * Usage: node scripts/runtime-size.mjs [--budget 15000]   (with --budget: exit 1 when the
 * minified size exceeds it; the project's target is 15 KB).
 */
import { existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const entry = fileURLToPath(new URL("../dist/runtime/index.js", import.meta.url));
if (!existsSync(entry)) {
  console.error(`${entry} does not exist; run \`npx tsc -p tsconfig.build.json\` first`);
  process.exit(1);
}
const budgetAt = process.argv.indexOf("--budget");
const budget = budgetAt > 0 ? Number(process.argv[budgetAt + 1]) : undefined;

const result = await build({
  entryPoints: [entry],
  bundle: true,
  platform: "browser",
  format: "esm",
  minify: true,
  target: "es2022",
  external: ["node:*"],
  write: false,
  metafile: true,
  outfile: "runtime.min.js",
  logLevel: "warning",
});
const code = result.outputFiles[0].contents;
const gzip = gzipSync(code, { level: 9 }).length;
console.log(`kiln/runtime: ${code.length} bytes minified, ${gzip} bytes gzipped (target < 15000 minified)`);
// Per-file share of the minified bundle, largest first.
const [{ inputs }] = Object.values(result.metafile.outputs);
const shares = Object.entries(inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput);
for (const [file, { bytesInOutput }] of shares) console.log(`  ${String(bytesInOutput).padStart(6)}  ${file}`);
if (budget !== undefined && code.length > budget) {
  console.error(`over budget by ${code.length - budget} bytes`);
  process.exitCode = 1;
}
