/**
 * Timing for the benchmark: round-robin rounds over the systems of one workload (so every
 * system sees the same machine load), warm-up first, medians of per-iteration wall and CPU time.
 * CPU time (process.cpuUsage) leaves out time the process was descheduled, which matters on a
 * shared, oversubscribed machine; both are recorded.
 */

import { start as startTaskCpu, label, describe, taskCpuEnabled } from "./task-cpu.js";
import { instanceForRound, summarizeBlocks } from "./instances.js";

/** Median of a non-empty list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `step` `iters` times; per-iteration wall and CPU milliseconds. */
async function timeBlock(step, iters) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await step();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall: wall / iters, cpu: (cpu.user + cpu.system) / 1000 / iters };
}

/**
 * Measures every ready system of a workload. `systems[i].step` is one iteration (sync or async);
 * `systems[i].before`, if any, runs untimed before each block; `systems[i].instances`, if any, are
 * the system's instances ({ step }, the first the system itself: lib/instances.js), which the
 * rounds take in turn (round r times instance r mod n), so the figure is a median over instances.
 * Warm-up calibrates how many iterations fill `blockMs` (on the first instance; every other one is
 * warmed up too, briefly: same code, its own memory); then `rounds` rounds run one block per
 * system in turn. A system whose iteration exceeds `budgetMs / rounds` runs single-iteration blocks
 * and stops taking rounds once it has spent `budgetMs` (the capped tfjs cpu backend).
 * Every block of more than one iteration is preceded by untimed iterations filling
 * ~`BLOCK_WARMUP_MS` (at least one): the other systems' blocks leave a threaded system's worker threads
 * idle for seconds, and on this VM an idle vCPU is slow to come back (a futex wake took 13 µs
 * after a busy spell, 220 µs after 5 ms idle), which the first iterations of a block would pay.
 */
/** Untimed lead-in before each timed block (see roundRobin). */
const BLOCK_WARMUP_MS = 50;
/**
 * Warm-up of each instance after the first, as a share of `warmupMs` (at least one iteration): the
 * code is warm already and its check ran it, so only its memory may be new.
 */
const EXTRA_INSTANCE_WARMUP = 0.2;

export async function roundRobin(systems, { rounds, blockMs, warmupMs, budgetMs, onProgress }) {
  const state = [];
  for (const s of systems) {
    const instances = s.instances ?? [s];
    await s.before?.();
    // A system already run (its correctness check) and slower than the warm-up needs no more of it.
    const slow = s.stepMs > warmupMs;
    const w = slow ? s.stepMs : await warmUp(instances[0].step, warmupMs);
    for (const inst of instances.slice(1)) if (!slow) await warmUp(inst.step, warmupMs * EXTRA_INSTANCE_WARMUP, 1);
    state.push({ instances, iters: Math.max(1, Math.min(s.maxIters ?? Infinity, Math.round(blockMs / w))), spent: 0, blocks: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < systems.length; i++) {
      const st = state[i];
      if (st.spent > budgetMs && st.blocks.length > 0) continue;
      const k = instanceForRound(r, st.instances.length);
      const step = st.instances[k].step;
      await systems[i].before?.(); // e.g. switch the tfjs backend, outside the timed block
      if (st.iters > 1) await timeBlock(step, Math.max(1, Math.round((st.iters * BLOCK_WARMUP_MS) / blockMs)));
      label(`${systems[i].name ?? i} block`);
      const acc = startTaskCpu();
      const t = await timeBlock(step, st.iters);
      if (taskCpuEnabled) console.error(`[task-cpu] round ${r + 1} instance ${k + 1} ${describe(systems[i].name ?? String(i), acc.end())}`);
      st.blocks.push({ instance: k, wall: t.wall, cpu: t.cpu });
      st.spent += t.wall * st.iters;
    }
    onProgress?.(r + 1, rounds);
  }
  return state.map((st) => ({ ...summarizeBlocks(st.blocks, st.instances.length), itersPerRound: st.iters }));
}

/** Runs `step` at least `minIters` times and for at least `ms`; returns the last iteration's wall time. */
async function warmUp(step, ms, minIters = 2) {
  const until = performance.now() + ms;
  let last = 0;
  for (let n = 0; n < minIters || performance.now() < until; n++) {
    const t = performance.now();
    await step();
    last = performance.now() - t;
    if (last > Math.max(ms, 2000) || (n >= 1 && last > ms)) break; // a very slow step: one warm-up iteration
  }
  return last;
}

/** Deterministic pseudo-random floats in [0, 1) (mulberry32), so every system sees the same data. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniformF32(n, seed, lo = 0, hi = 1) {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export function randomInts(n, max, seed) {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * max));
}

/** Largest absolute difference between two equally long arrays (Infinity if lengths differ). */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
