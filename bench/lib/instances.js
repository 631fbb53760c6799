/**
 * Several instances per system (issue 19, bench method). Two instances of one wasm module in one
 * process ran up to 45% apart here (bench/README.md, "Instances"), so a row timed on one instance
 * per system measured that instance as much as the code. Every system that can cheaply make
 * another instance gets `count` of them; the rounds rotate through them (round r times instance
 * r mod n of every system: each round stays one block per system, so a row costs only the extra
 * rounds), and the row's figure is the median over every instance's blocks. Pure helpers here;
 * roundRobin (measure.js) and run.js use them.
 */
import { median } from "./measure.js";

/** Instances per system when BENCH_INSTANCES is not set. */
export const DEFAULT_INSTANCES = 3;

/** BENCH_INSTANCES (a whole number ≥ 1) or the default; anything else is an error naming the variable. */
export function instanceCount(value = process.env.BENCH_INSTANCES) {
  if (value === undefined || value === "") return DEFAULT_INSTANCES;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_INSTANCES=${value}: expected a whole number of instances per system, at least 1`);
  return n;
}

/**
 * Rounds for `instances` instances per system: at least `baseRounds`, at least two blocks per
 * instance (so each instance has a median of more than one block), and a multiple of `instances`
 * (so rotation gives every instance as many blocks). 5 rounds and 3 instances → 6; 1 instance → 5.
 */
export function roundsFor(baseRounds, instances) {
  const least = Math.max(baseRounds, instances > 1 ? 2 * instances : baseRounds);
  return Math.ceil(least / instances) * instances;
}

/** Which of a system's `count` instances round `round` (0-based) times: they take turns. */
export function instanceForRound(round, count) {
  return round % count;
}

/**
 * One system's blocks ({ instance, wall, cpu } per timed block, per-iteration ms) summarized: the
 * figure is the median over every block of every instance; `perInstance` each instance's median
 * and block count; `spread` the slowest instance's median over the fastest's (1 with one instance).
 */
export function summarizeBlocks(blocks, count) {
  const perInstance = [];
  for (let i = 0; i < count; i++) {
    const own = blocks.filter((b) => b.instance === i);
    if (own.length) perInstance.push({ instance: i, blocks: own.length, wallMs: median(own.map((b) => b.wall)), cpuMs: median(own.map((b) => b.cpu)) });
  }
  return {
    wallMs: median(blocks.map((b) => b.wall)),
    cpuMs: median(blocks.map((b) => b.cpu)),
    rounds: blocks.length,
    instances: count,
    perInstance,
    spread: { wallMs: spread(perInstance.map((p) => p.wallMs)), cpuMs: spread(perInstance.map((p) => p.cpuMs)) },
  };
}

/** The largest of positive figures over the smallest (1 for fewer than two). */
export function spread(figures) {
  return figures.length < 2 ? 1 : Math.max(...figures) / Math.min(...figures);
}
