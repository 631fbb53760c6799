// Lists every module a start-up child loads (an untimed extra run: node --import this-file child.js),
// so the bench can show which packages each system's start-up needs and fail one that loads more
// than it should (lib/startup.js). ES modules through a resolve hook, CommonJS from require's cache
// at exit; one file path or URL per line appended to $KILN_BENCH_TRACE.
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const file = process.env.KILN_BENCH_TRACE;
if (!file) throw new Error("trace-imports.mjs: set KILN_BENCH_TRACE to the file to append to");
register("./trace-hooks.mjs", import.meta.url, { data: { file } });
const cache = createRequire(import.meta.url).cache;
process.on("exit", () => appendFileSync(file, Object.keys(cache).join("\n") + "\n"));
