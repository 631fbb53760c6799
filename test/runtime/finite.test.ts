/**
 * firstNonFinite (runtime/feeds.ts), the check every predict input and every weight passes
 * through: it sums the elements in doubles and scans only when the sum is not finite, so it must
 * never take large finite float32 values for an overflow, and must find the first NaN or ±Inf
 * wherever it sits (in a block of eight or in the tail).
 */
import { describe, expect, test } from "vitest";
import { firstNonFinite } from "../../runtime/feeds.js";

const F32_MAX = 3.4028234663852886e38;
const scan = (a: Float32Array) => a.findIndex((x) => !Number.isFinite(x));

describe("firstNonFinite", () => {
  test("float32 max a million times, of both signs, is finite", () => {
    expect(firstNonFinite(new Float32Array(1 << 20).fill(F32_MAX))).toBe(-1);
    expect(firstNonFinite(new Float32Array(1 << 20).fill(-F32_MAX))).toBe(-1);
    expect(firstNonFinite(Float32Array.from({ length: 1001 }, (_, i) => (i % 2 ? F32_MAX : -F32_MAX)))).toBe(-1);
  });

  test("an Infinity and a -Infinity that would cancel are both found", () => {
    const a = new Float32Array(17).fill(1);
    a[3] = Infinity;
    a[12] = -Infinity;
    expect(firstNonFinite(a)).toBe(3);
  });

  test("the first NaN or ±Inf at every position of arrays of 0 to 40 elements", () => {
    for (let n = 0; n <= 40; n++) {
      expect(firstNonFinite(new Float32Array(n).fill(F32_MAX))).toBe(-1);
      for (let at = 0; at < n; at++) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const a = Float32Array.from({ length: n }, (_, i) => (i % 3 ? F32_MAX : -1.5));
          a[at] = bad;
          if (at + 5 < n) a[at + 5] = NaN; // a later one does not hide the first
          expect(firstNonFinite(a)).toBe(scan(a));
          expect(firstNonFinite(a)).toBe(at);
        }
      }
    }
  });
});
