/**
 * Per-thread CPU accounting of the bench process (Linux only; `BENCH_TASK_CPU=1`): which threads
 * ran, and how long each waited for a core, during each timed block. A two-thread kiln block
 * should show two busy threads (the main thread, kiln's worker) and nothing else; CPU that other
 * threads of the process (V8's GC and compiler helpers, a peer's worker or thread pool) or other
 * processes take during it is time kiln's threads cannot have. Read from
 * /proc/self/task/<tid>/schedstat (ns on a core, ns runnable but waiting for one) and /proc/stat
 * (the whole machine's busy time), so the figures do not depend on the machine's load.
 * Every thread is labelled with the bench phase in which it first appeared (`label`).
 */
import { readdirSync, readFileSync } from "node:fs";

const enabled = !!process.env.BENCH_TASK_CPU && process.platform === "linux";
const born = new Map(); // tid → the phase in which it was first seen
let phase = "start";

/** { tid: [run ns, wait ns] } of every live thread of this process. */
function threads() {
  const out = new Map();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
      out.set(tid, [run, wait]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The machine's busy and total CPU time (ns, all cores) from /proc/stat's first line. */
function machine() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0), idle = f[3] + (f[4] ?? 0);
  return { busy: ((total - idle) * 1e9) / 100, total: (total * 1e9) / 100 };
}

/** Names the bench phase: threads first seen from now on are labelled with it. */
export function label(name) {
  if (!enabled) return;
  for (const tid of threads().keys()) if (!born.has(tid)) born.set(tid, phase);
  phase = name;
}

/** Starts accounting one block; `end()` returns per-thread ms on a core and waiting, and the rest of the machine's busy ms. */
export function start() {
  if (!enabled) return undefined;
  label(phase);
  const t0 = threads(), m0 = machine(), w0 = performance.now();
  return {
    end() {
      const t1 = threads(), m1 = machine(), wall = performance.now() - w0;
      const rows = [];
      let ours = 0;
      for (const [tid, [run, wait]] of t1) {
        const [run0, wait0] = t0.get(tid) ?? [0, 0];
        const r = (run - run0) / 1e6, w = (wait - wait0) / 1e6;
        ours += r;
        if (r >= 0.5 || w >= 0.5) rows.push({ tid, born: tid === String(process.pid) ? "main" : born.get(tid) ?? phase, runMs: r, waitMs: w });
      }
      rows.sort((a, b) => b.runMs - a.runMs);
      return { wallMs: wall, threads: rows, othersMs: Math.max(0, (m1.busy - m0.busy) / 1e6 - ours) };
    },
  };
}

/** One line per block: wall, then each thread's run/wait ms (labelled), then other processes' busy ms (10 ms resolution). */
export function describe(name, acc) {
  const t = acc.threads.map((r) => `${r.tid}(${r.born}) ${r.runMs.toFixed(0)}/${r.waitMs.toFixed(0)}`).join(", ");
  return `${name}: wall ${acc.wallMs.toFixed(0)} ms; threads run/wait ms: ${t}; other processes ${acc.othersMs.toFixed(0)} ms`;
}

export const taskCpuEnabled = enabled;
