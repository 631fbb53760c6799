#!/usr/bin/env node
// The `kiln` command: a thin launcher for the compiled command line (built by `npm ci` via `prepare`).
import { main } from "../dist/compiler/cli/main.js";
process.exitCode = await main(process.argv.slice(2));
