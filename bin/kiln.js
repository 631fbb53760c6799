#!/usr/bin/env node
// The `kiln` command: a thin launcher for the compiled command line (built by `npm ci` via `prepare`).
import { main } from "../dist/compiler/cli/main.js";
// A reader that stops early (`kiln compile g.json --emit ir | head`) is not an error of kiln's.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv.slice(2));
