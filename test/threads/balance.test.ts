/**
 * The thread pool's batch shares (runtime/threads.ts): split points cover the batch exactly (on
 * chunk boundaries where the module asks), and
 * rebalancing settles where threads of different speeds work equally long; a manifest whose
 * split table lies outside the memory is refused.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { FILTER_GRAD_CHUNK } from "../../compiler/passes/schedule.js";
import { loadModel } from "../../runtime/index.js";
import { busyTimes, rebalance, splitPoints } from "../../runtime/threads.js";

describe("splitPoints", () => {
  it("cuts the batch where the shares say, ending exactly at the batch", () => {
    expect(splitPoints([0.5, 0.5], 13)).toEqual([0, 7, 13]);
    expect(splitPoints([0.25, 0.25, 0.5], 64)).toEqual([0, 16, 32, 64]);
    expect(splitPoints([1, 0], 5)).toEqual([0, 5, 5]);
    expect(splitPoints([0, 1], 5)).toEqual([0, 0, 5]);
    expect(splitPoints([1 / 3, 1 / 3, 1 / 3], 1)).toEqual([0, 0, 1, 1]);
  });
  it("starts every share on a multiple of the alignment (filter-gradient chunks) but the batch's end", () => {
    expect(splitPoints([0.55, 0.45], 64, 4)).toEqual([0, 36, 64]);
    expect(splitPoints([0.5, 0.5], 13, 4)).toEqual([0, 8, 13]);
    expect(splitPoints([0.3, 0.2, 0.5], 30, 4)).toEqual([0, 8, 16, 30]);
    expect(splitPoints([0.9, 0.1], 6, 4)).toEqual([0, 4, 6]);
    expect(splitPoints([0.5, 0.5], 2, 4)).toEqual([0, 0, 2]);
  });
});

describe("rebalance", () => {
  it("moves examples to the faster thread until both work equally long", () => {
    // thread 1 is 1.4× as fast per example; both also do 2 ms of work not split by examples
    const busy = (s: number[]) => [2 + 10 * s[0]!, 2 + (10 * s[1]!) / 1.4];
    let shares = [0.5, 0.5];
    for (let i = 0; i < 40; i++) shares = rebalance(shares, busy(shares));
    const [a, b] = busy(shares);
    expect(Math.abs(a! - b!) / a!).toBeLessThan(0.01);
    expect(shares[1]).toBeGreaterThan(0.55);
    expect(shares[0]! + shares[1]!).toBeCloseTo(1, 12);
  });
  it("judges speed by the examples a thread really had when the split was rounded", () => {
    // shares asked 0.55 / 0.45, the aligned split gave 0.5 / 0.5, and both took equally long:
    // equal speeds, so the shares move towards 0.5 / 0.5, not further apart
    const next = rebalance([0.55, 0.45], [5, 5], [0.5, 0.5]);
    expect(next[0]).toBeLessThan(0.55);
    expect(next[0]).toBeGreaterThan(0.5);
    // a thread given no examples says nothing about its speed: the shares stay
    expect(rebalance([0.55, 0.45], [5, 0], [1, 0])).toEqual([0.55, 0.45]);
  });
  it("keeps equal threads where they are and never starves a thread", () => {
    expect(rebalance([0.5, 0.5], [3, 3])).toEqual([0.5, 0.5]);
    const s = rebalance([0.5, 0.5], [100, 0.001]);
    expect(Math.min(...s)).toBeGreaterThan(0);
  });
});

describe("busyTimes", () => {
  it("times each thread over the batch-split segments only, minus its sleep at their barriers", () => {
    // three barriers; thread 0 left them at 10, 25 and 40 ms after a start at 0; segments 0 and 2 are batch-split
    const passedAt = [10, 25, 40];
    const slept = [[0, 7, 1], [4, 0, 0]];
    expect(busyTimes({ barriers: 3, batch: [0, 2] }, 0, passedAt, slept)).toEqual([10 + 14, 6 + 15]);
    // no batch-split segment: every segment counts
    expect(busyTimes({ barriers: 3, batch: [] }, 0, passedAt, slept)).toEqual([40 - 8, 40 - 4]);
  });
});

/** The module with its `name` custom section's payload replaced (wasm: id 0, LEB size, LEB name length, name, payload). */
function replaceCustomSection(wasm: Uint8Array, name: string, payload: Uint8Array): Uint8Array {
  const leb = (n: number) => { const out: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
  const read = (at: number) => { let n = 0, shift = 0, b: number; do { b = wasm[at++]!; n |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80); return { n, at }; };
  const parts: number[] = [...wasm.subarray(0, 8)];
  for (let at = 8; at < wasm.length;) {
    const id = wasm[at]!, size = read(at + 1), end = size.at + size.n;
    const label = id === 0 ? read(size.at) : undefined;
    const own = label && new TextDecoder().decode(wasm.subarray(label.at, label.at + label.n)) === name;
    if (own) {
      const body = [...leb(name.length), ...new TextEncoder().encode(name), ...payload];
      parts.push(0, ...leb(body.length), ...body);
    } else parts.push(...wasm.subarray(at, end));
    at = end;
  }
  return Uint8Array.from(parts);
}

describe("a threaded module's manifest", () => {
  it("is refused when its thread control words lie outside the memory", async () => {
    const graph = { format: "kiln.graph/v1", name: "tiny", inputs: [{ name: "x", shape: [3] }], layers: [{ name: "d", op: "dense", units: 2 }] };
    const { wasm, manifest } = await compile(JSON.stringify(graph), { maxBatch: 4, threads: 2 });
    const broken = { ...manifest, threadSplits: manifest.memory.pages * 65536 };
    const bytes = replaceCustomSection(wasm, "kiln.manifest", new TextEncoder().encode(JSON.stringify(broken)));
    await expect(loadModel(bytes, { threads: 2 })).rejects.toThrow("the manifest's thread control words lie outside the module's memory");
    // the same module with its own manifest loads
    const model = await loadModel(replaceCustomSection(wasm, "kiln.manifest", new TextEncoder().encode(JSON.stringify(manifest))), { threads: 2 });
    model.dispose();
  });
  it("is refused when a program's split alignment is not a positive integer", async () => {
    const graph = { format: "kiln.graph/v1", name: "tiny", inputs: [{ name: "x", shape: [3] }], layers: [{ name: "d", op: "dense", units: 2 }] };
    const { wasm, manifest } = await compile(JSON.stringify(graph), { maxBatch: 4, threads: 2 });
    for (const align of [0, 2.5, "4"]) {
      const broken = { ...manifest, threadSegments: { ...manifest.threadSegments, predict: { ...manifest.threadSegments!.predict!, align } } };
      const bytes = replaceCustomSection(wasm, "kiln.manifest", new TextEncoder().encode(JSON.stringify(broken)));
      await expect(loadModel(bytes, { threads: 2 })).rejects.toThrow(`the manifest's thread split alignment must be a positive integer, got ${align}`);
    }
  });
  it("aligns the seed CNN's training split to its filter-gradient chunk, and inference to single examples", async () => {
    const cnn = readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8");
    const { manifest } = await compile(cnn, { maxBatch: 8, threads: 2 });
    expect(manifest.threadSegments!.train_step!.align).toBe(FILTER_GRAD_CHUNK);
    expect(manifest.threadSegments!.predict!.align).toBe(1);
    expect(manifest.threadSegments!.evaluate!.align).toBe(1);
  });
});
