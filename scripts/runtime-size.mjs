/**
 * Size of the browser runtime: bundles dist/runtime/index.js (build first with
 * `npx tsc -p tsconfig.build.json`) with esbuild for the browser (ESM, minified) and prints the
 * minified and gzipped sizes. Node built-ins (the file-path branch's dynamic import) stay external.
 * Usage: node scripts/runtime-size.mjs [--budget 15000]
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
const budget = budgetAt > 0 ? Number(process.argv[budgetAt + 1]) : 15000;

const result = await build({
  entryPoints: [entry],
  bundle: true,
  platform: "browser",
  format: "esm",
  minify: true,
  target: "es2022",
  external: ["node:*"],
  write: false,
  logLevel: "warning",
});
const code = result.outputFiles[0].contents;
const gzip = gzipSync(code, { level: 9 }).length;
console.log(`kiln/runtime: ${code.length} bytes minified, ${gzip} bytes gzipped (budget ${budget} minified)`);
if (code.length > budget) {
  console.error(`over budget by ${code.length - budget} bytes`);
  process.exitCode = 1;
}
