/**
 * Issue 19 item 5 in the browser, alone: navigation start → first prediction in Chromium for kiln
 * (compileStreaming and compile(arrayBuffer)), TF.js wasm and ORT-web on the seed CNN and
 * MobileNetV2 224, cold page loads, medians, and the wasm memory each page holds after its first
 * prediction (lib/browser-startup.js says how). `npm run bench` runs the same part. Build first
 * (`npm run build`). Fails, saying what to install, when Chromium cannot start.
 * Usage: node bench/browser-startup.mjs [--rounds 5] [--models cnn,mobilenetv2] [--mbps 100]
 * (--mbps: every download at that many megabits per second, emulated over CDP, instead of as fast
 * as 127.0.0.1 serves: where compiling while the bytes arrive can pay.)
 * Writes bench/results/browser-startup.{json,md} (BENCH_QUICK=1 or --models: *.tmp, git-ignored).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { ROOT } from "./lib/graphs.js";
import { BROWSER_MODELS, browserStartup } from "./lib/browser-startup.js";
import { browserStartupText } from "./lib/report.js";

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const quick = !!process.env.BENCH_QUICK;
const rounds = Number(arg("--rounds") ?? (quick ? 2 : 5));
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds expects a whole number ≥ 1, got ${arg("--rounds")}`);
const mbps = arg("--mbps") === undefined ? undefined : Number(arg("--mbps"));
if (mbps !== undefined && !(mbps > 0)) throw new Error(`--mbps expects a positive number, got ${arg("--mbps")}`);
const keys = arg("--models")?.split(",").filter(Boolean) ?? BROWSER_MODELS;
const log = (...a) => console.error("[browser-startup]", ...a);

const started = performance.now();
const result = await browserStartup({ rounds, quick, keys, mbps, log });
const results = { machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version, date: new Date().toISOString() }, quick, ...result, totalSeconds: (performance.now() - started) / 1000 };
const text = `## Browser start-up\n\n\`node bench/browser-startup.mjs\`${quick ? " (BENCH_QUICK=1: MobileNetV2 at 96×96, a smoke run)" : ""}, ${results.machine.date.slice(0, 10)}; ${results.machine.cpu}, ${results.machine.cores} cores.\n${browserStartupText(results)}\n\nTotal time ${results.totalSeconds.toFixed(0)} s.`;
console.log("\n" + text);
const partial = quick || arg("--models") || mbps;
const stem = partial ? `browser-startup.${mbps ? `${mbps}mbps` : "subset"}` : "browser-startup";
const tmp = partial ? ".tmp" : "";
mkdirSync(ROOT + "bench/results", { recursive: true });
writeFileSync(`${ROOT}bench/results/${stem}.json${tmp}`, JSON.stringify(results, (k, v) => (v instanceof Float32Array ? Array.from(v) : v), 2) + "\n");
writeFileSync(`${ROOT}bench/results/${stem}.md${tmp}`, text + "\n");
log(`wrote bench/results/${stem}.json${tmp} and .md${tmp}`);
