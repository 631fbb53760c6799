// Why do instances of one wasm module run at different speeds in one process? (issue 19, bench
// method). Loads the bench's MLP (predict b256, -O0, maxBatch 256) `--instances` times from the
// same bytes (one compiled module, so the same machine code: V8 shares a module's code between its
// instances), times every instance in every round (CPU time, alternating), and prints per instance
// its median, its rank in each round (a persistent rank means placement, not noise) and, from
// /proc/self/smaps, the wasm memory mapping it got: its AnonHugePages (transparent huge pages) and
// its virtual address. Not a test. Usage: npx tsc -p tsconfig.build.json && node
// bench/instance-spread.mjs [--instances 6] [--rounds 7] [--batch 256] [--churn MB] [--dist <other dist/>]
import os from "node:os";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { mlpGraph, inferenceOnly } from "./lib/graphs.js";
import { cpuMs, median } from "./lib/ab.js";
import { uniformF32 } from "./lib/measure.js";

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const n = arg("--instances", 6), rounds = arg("--rounds", 7), batch = arg("--batch", 256), churnMb = arg("--churn", 0);
// --churn MB: first touch MB of wasm memories in 64 MB pieces and drop every other one, as the bench
// process does before its rows (many models loaded, some released), so new memories get scattered pages.
const kept = [];
for (let i = 0; i < churnMb / 64; i++) {
  const m = new WebAssembly.Memory({ initial: 1024 });
  new Uint8Array(m.buffer).fill(1);
  if (i % 2) kept.push(m);
}
globalThis.gc?.();

/** Every anonymous mapping of /proc/self/smaps: start address, size and AnonHugePages (kB). */
function mappings() {
  const out = new Map();
  let cur;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m) { cur = { start: m[1], kb: (parseInt(m[2], 16) - parseInt(m[1], 16)) / 1024, rss: 0, huge: 0 }; out.set(m[1], cur); continue; }
    const f = /^(Rss|AnonHugePages):\s+(\d+) kB/.exec(line);
    if (f && cur) cur[f[1] === "Rss" ? "rss" : "huge"] = Number(f[2]);
  }
  return out;
}

// --dist <dir>: another build's dist/ (default this tree's).
const distArg = process.argv.includes("--dist") ? process.argv[process.argv.indexOf("--dist") + 1] : undefined;
const dist = distArg ? pathToFileURL(distArg.replace(/\/?$/, "/")).href : new URL("../dist/", import.meta.url).href;
const { compile } = await import(dist + "compiler/index.js");
const { loadModel } = await import(dist + "runtime/index.js");
const built = await compile(JSON.stringify(inferenceOnly(mlpGraph)), { maxBatch: batch, optimizeLevel: 0 });
const x = uniformF32(batch * 784, 15);
const instances = [];
for (let i = 0; i < n; i++) {
  const before = mappings();
  const model = await loadModel(built.wasm);
  if (instances.length) model.loadWeights(instances[0].model.saveWeights({ optimizer: false }));
  model.predict({ x });
  // The new mapping with resident pages is this instance's memory (its reservation is GBs, mostly untouched).
  const fresh = [...mappings().values()].filter((m) => !before.has(m.start) && m.rss > 0).sort((a, b) => b.rss - a.rss)[0];
  instances.push({ model, map: fresh, cpu: [], ranks: [] });
}
for (const s of instances) cpuMs(() => s.model.predict({ x }), 300);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? instances.slice().reverse() : instances;
  for (const s of order) s.cpu.push(cpuMs(() => s.model.predict({ x }), 300));
  instances.map((s, i) => [s.cpu[r], i]).sort((a, b) => a[0] - b[0]).forEach(([, i], rank) => instances[i].ranks.push(rank + 1));
}
const thp = readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8").trim();
console.log(`MLP predict b${batch}, ${n} instances of one module, ${rounds} rounds, CPU ms per predict; THP: ${thp}; node ${process.version} ${process.execArgv.join(" ")}; load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (const [i, s] of instances.entries()) {
  console.log(`  instance ${i}: median ${median(s.cpu).toFixed(2)} ms (${s.cpu.map((t) => t.toFixed(2)).join(" ")}), ranks ${s.ranks.join(" ")}; memory at 0x${s.map?.start}, rss ${s.map?.rss} kB, AnonHugePages ${s.map?.huge} kB`);
}
const meds = instances.map((s) => median(s.cpu));
console.log(`spread (slowest ÷ fastest instance median): ${(Math.max(...meds) / Math.min(...meds)).toFixed(3)}`);
