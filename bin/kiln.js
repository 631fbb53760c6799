#!/usr/bin/env node
// The `kiln` command: a thin launcher for the compiled command line (dist/ is built by `prepare` on
// `npm ci` in a clone, and by `prepack` into the npm package).
import { main } from "../dist/compiler/cli/main.js";
process.exitCode = await main(process.argv.slice(2));
