/**
 * The bench's instances per system (issue 19, bench method): BENCH_INSTANCES, the rounds that
 * rotate through the instances, the figure as a median over every instance's blocks, the spread
 * (slowest instance's median over the fastest's), the report's table, and kiln's other instance
 * (same module again, a memory of its own). No timing is asserted: the fake systems' "times" are
 * counted calls and given block lists.
 */
import { describe, expect, test } from "vitest";
// @ts-expect-error -- plain JavaScript module of the bench
import { instanceCount, roundsFor, instanceForRound, summarizeBlocks, spread, DEFAULT_INSTANCES } from "../../bench/lib/instances.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { roundRobin } from "../../bench/lib/measure.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { instanceSpreadTable } from "../../bench/lib/report.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { compileGraph, loadModel, anotherInstance } from "../../bench/lib/kiln.js";
import { loadModel as runtimeLoadModel } from "../../runtime/index.js";

type Block = { instance: number; wall: number; cpu: number };

describe("bench instances: BENCH_INSTANCES and rounds", () => {
  test("BENCH_INSTANCES defaults to 3 and takes a whole number of at least 1", () => {
    expect(DEFAULT_INSTANCES).toBe(3);
    expect(instanceCount(undefined)).toBe(3);
    expect(instanceCount("")).toBe(3);
    expect(instanceCount("1")).toBe(1);
    expect(instanceCount("5")).toBe(5);
    for (const bad of ["0", "-2", "2.5", "three"]) expect(() => instanceCount(bad)).toThrow(/BENCH_INSTANCES=.*whole number/);
  });

  test("rounds grow to a multiple of the instances with at least two blocks each", () => {
    expect(roundsFor(5, 1)).toBe(5); // one instance: the rounds as before
    expect(roundsFor(5, 3)).toBe(6); // the full run's default
    expect(roundsFor(2, 3)).toBe(6); // BENCH_QUICK's 2 rounds: two blocks per instance
    expect(roundsFor(5, 4)).toBe(8);
    expect(roundsFor(7, 3)).toBe(9);
    expect(roundsFor(10, 2)).toBe(10);
  });

  test("the rounds take the instances in turn, every instance as often", () => {
    for (const n of [1, 2, 3, 5]) {
      const rounds = roundsFor(5, n);
      const counts = new Array(n).fill(0);
      for (let r = 0; r < rounds; r++) counts[instanceForRound(r, n)]++;
      expect(counts.every((c) => c === rounds / n && c >= (n > 1 ? 2 : 5))).toBe(true);
      // Consecutive rounds never time the same instance twice in a row (n > 1).
      if (n > 1) for (let r = 1; r < rounds; r++) expect(instanceForRound(r, n)).not.toBe(instanceForRound(r - 1, n));
    }
  });
});

describe("bench instances: the figure and the spread", () => {
  test("the figure is the median over every instance's blocks; the spread the slowest instance's median over the fastest's", () => {
    const blocks: Block[] = [
      { instance: 0, wall: 10, cpu: 9 }, { instance: 1, wall: 14, cpu: 13 }, { instance: 2, wall: 11, cpu: 10 },
      { instance: 0, wall: 12, cpu: 11 }, { instance: 1, wall: 16, cpu: 15 }, { instance: 2, wall: 13, cpu: 12 },
    ];
    const s = summarizeBlocks(blocks, 3);
    expect(s.wallMs).toBe(12.5); // sorted 10 11 12 13 14 16
    expect(s.cpuMs).toBe(11.5);
    expect(s.rounds).toBe(6);
    expect(s.instances).toBe(3);
    expect(s.perInstance).toEqual([
      { instance: 0, blocks: 2, wallMs: 11, cpuMs: 10 },
      { instance: 1, blocks: 2, wallMs: 15, cpuMs: 14 },
      { instance: 2, blocks: 2, wallMs: 12, cpuMs: 11 },
    ]);
    expect(s.spread.wallMs).toBeCloseTo(15 / 11, 12);
    expect(s.spread.cpuMs).toBeCloseTo(14 / 10, 12);
  });

  test("one instance has spread 1; an instance that got no block (a capped system) is left out", () => {
    expect(summarizeBlocks([{ instance: 0, wall: 3, cpu: 2 }, { instance: 0, wall: 5, cpu: 4 }], 1).spread).toEqual({ wallMs: 1, cpuMs: 1 });
    const capped = summarizeBlocks([{ instance: 0, wall: 900, cpu: 800 }, { instance: 1, wall: 1000, cpu: 1000 }], 3);
    expect(capped.perInstance.map((p: { instance: number }) => p.instance)).toEqual([0, 1]);
    expect(capped.spread.cpuMs).toBe(1.25);
    expect(spread([])).toBe(1);
    expect(spread([2, 8, 4])).toBe(4);
  });
});

describe("bench instances: roundRobin times every instance", () => {
  test("a system's instances take the rounds in turn; a system without instances is one", async () => {
    const calls = [0, 0, 0];
    const busy = (i: number) => () => { calls[i]++; let x = 0; for (let k = 0; k < 2000; k++) x += Math.sqrt(k); return x; };
    let single = 0;
    const systems = [
      { name: "three", step: busy(0), instances: [{ step: busy(0) }, { step: busy(1) }, { step: busy(2) }] },
      { name: "one", step: () => { single++; } },
    ];
    const rounds = roundsFor(2, 3);
    const [three, one] = await roundRobin(systems, { rounds, blockMs: 2, warmupMs: 2, budgetMs: 1e9 });
    expect(three.instances).toBe(3);
    expect(three.rounds).toBe(6);
    expect(three.perInstance.map((p: { blocks: number }) => p.blocks)).toEqual([2, 2, 2]);
    expect(calls.every((c) => c > 0)).toBe(true); // every instance ran (warm-up and its blocks)
    expect(three.spread.cpuMs).toBeCloseTo(spread(three.perInstance.map((p: { cpuMs: number }) => p.cpuMs)), 12);
    expect(one.instances).toBe(1);
    expect(one.perInstance).toHaveLength(1);
    expect(one.spread).toEqual({ wallMs: 1, cpuMs: 1 });
    expect(single).toBeGreaterThan(0);
  });
});

describe("bench instances: the report's table", () => {
  const system = (name: string, instances: number, cpu: number, wall: number) => ({ name, instances, perInstance: new Array(instances).fill({}), instanceSpread: { cpuMs: cpu, wallMs: wall } });
  test("per workload and system: CPU / wall spread and the instances timed; one-instance systems blank", () => {
    const table = instanceSpreadTable({ settings: { instances: 3 }, workloads: [
      { title: "row A", systems: [system("kiln", 3, 1.456, 1.2), system("ort-node", 1, 1, 1)] },
      { title: "row B", systems: [system("kiln", 3, 1.01, 1.02), system("tfjs-wasm", 3, 1.1, 1.3)] },
      // A budget-capped system that made 3 instances but timed one: no spread.
      { title: "row C", systems: [{ ...system("tfjs-wasm", 3, 1, 1), perInstance: [{}] }] },
      { title: "startup", systems: [{ name: "kiln" }] },
    ] });
    const lines = table.split("\n");
    expect(lines[0]).toBe("| workload | kiln: CPU / wall (instances) | tfjs-wasm: CPU / wall (instances) |");
    expect(lines[2]).toBe("| row A | 1.46× / 1.20× (3) |  |");
    expect(lines[3]).toBe("| row B | 1.01× / 1.02× (3) | 1.10× / 1.30× (3) |");
    expect(lines[4]).toBe("| row C |  | — (1) |");
    expect(lines).toHaveLength(5); // the row without instances is left out
  });

  test("results from before instances render no table", () => {
    expect(instanceSpreadTable({ workloads: [{ title: "row", systems: [{ name: "kiln", wallMs: 1 }] }] })).toBe("");
  });
});

describe("bench instances: kiln's other instance", () => {
  const graph = {
    format: "kiln.graph/v2", name: "tiny", seed: 7,
    inputs: [{ name: "x", shape: [4] }],
    targets: [{ name: "y", shape: [], dtype: "int32" }],
    layers: [{ name: "d", op: "dense", units: 3, activation: "softmax" }],
    training: { loss: { type: "sparse_categorical_crossentropy", output: "d", target: "y" }, optimizer: { type: "adam", learning_rate: 0.01 } },
  };

  test("the same module again, with the weights and optimizer state, in a memory of its own", async () => {
    const { wasm } = await compileGraph(graph, { maxBatch: 2, optimizeLevel: 0 });
    const first = await loadModel(wasm);
    const feeds = { x: Float32Array.of(1, 2, 3, 4, 0.5, -1, 0, 2), y: Int32Array.of(2, 0) };
    first.trainStep(feeds); // the optimizer state is no longer the initial one
    const copy = await anotherInstance(first);
    try {
      expect(copy).not.toBe(first);
      expect(copy.predict({ x: feeds.x }).d).toEqual(first.predict({ x: feeds.x }).d);
      // Same weights and Adam state: the next step's loss is the same bits.
      expect(copy.trainStep(feeds).loss).toBe(first.trainStep(feeds).loss);
      // Its own memory: training the copy leaves the first's weights alone.
      const before = first.getWeights()["d/kernel"].slice();
      copy.trainStep(feeds);
      expect(first.getWeights()["d/kernel"]).toEqual(before);
      expect(copy.getWeights()["d/kernel"]).not.toEqual(before);
    } finally {
      copy.dispose();
      first.dispose();
    }
  });

  test("a model the bench did not load is refused with what to do", async () => {
    const { wasm } = await compileGraph(graph, { maxBatch: 1, optimizeLevel: 0 });
    const elsewhere = await runtimeLoadModel(wasm);
    await expect(anotherInstance(elsewhere)).rejects.toThrow(/not loaded through bench\/lib\/kiln\.js/);
    elsewhere.dispose();
  });
});
