#!/usr/bin/env node
// The `kiln` command: a thin launcher for the compiled command line (dist/ is built by `prepare` on
// `npm ci` in a clone, and by `prepack` into the npm package).
import { main } from "../dist/compiler/cli/main.js";
// A reader that stops early (`kiln compile g.json --emit ir | head`) is not an error of kiln's.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv.slice(2));
