/**
 * The planner's first-fit arena (O(log n) per call) against the straightforward placement it
 * replaced (sort the live blocks by offset, take the first gap that fits): identical offsets and
 * arena size on random workloads of allocations and frees.
 */
import { describe, expect, it } from "vitest";
import { FirstFitArena } from "../../compiler/passes/first-fit.js";
import { makeRng } from "../reference/prng.js";

/** The old planner's loop, kept here as the specification. */
class Reference {
  live: { off: number; size: number }[] = [];
  high = 0;
  allocate(size: number): number {
    this.live.sort((a, b) => a.off - b.off);
    let off = 0;
    for (const blk of this.live) {
      if (blk.off - off >= size) break;
      off = Math.max(off, blk.off + blk.size);
    }
    this.live.push({ off, size });
    this.high = Math.max(this.high, off + size);
    return off;
  }
  free(off: number): void {
    this.live.splice(this.live.findIndex((b) => b.off === off), 1);
  }
}

describe("FirstFitArena", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`places like the reference (seed ${seed})`, () => {
      const rng = makeRng(seed), rnd = () => rng.next();
      const fast = new FirstFitArena(), ref = new Reference();
      const live: { off: number; size: number }[] = [];
      for (let step = 0; step < 3000; step++) {
        if (live.length && rnd() < 0.45) {
          const [blk] = live.splice(Math.floor(rnd() * live.length), 1);
          fast.free(blk!.off, blk!.size);
          ref.free(blk!.off);
        } else {
          const size = 64 * (1 + Math.floor(rnd() * (rnd() < 0.1 ? 400 : 20)));
          const off = fast.allocate(size);
          expect(off).toBe(ref.allocate(size));
          live.push({ off, size });
        }
      }
      expect(fast.high).toBe(ref.high);
    });
  }

  it("gives back the top of the arena when the highest block is freed", () => {
    const a = new FirstFitArena();
    const x = a.allocate(64), y = a.allocate(128);
    a.free(y, 128);
    a.free(x, 64);
    expect(a.allocate(192)).toBe(0);
    expect(a.high).toBe(192);
  });
});
