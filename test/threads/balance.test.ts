/**
 * The thread pool's batch shares (runtime/threads.ts): split points cover the batch exactly, and
 * rebalancing settles where threads of different speeds work equally long.
 */
import { describe, expect, it } from "vitest";
import { busyTimes, rebalance, splitPoints } from "../../runtime/threads.js";

describe("splitPoints", () => {
  it("cuts the batch where the shares say, ending exactly at the batch", () => {
    expect(splitPoints([0.5, 0.5], 13)).toEqual([0, 7, 13]);
    expect(splitPoints([0.25, 0.25, 0.5], 64)).toEqual([0, 16, 32, 64]);
    expect(splitPoints([1, 0], 5)).toEqual([0, 5, 5]);
    expect(splitPoints([0, 1], 5)).toEqual([0, 0, 5]);
    expect(splitPoints([1 / 3, 1 / 3, 1 / 3], 1)).toEqual([0, 0, 1, 1]);
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
