/**
 * Selection reuses the kernel of an equal spec (emit/kernel.ts: memoized). Equal means equal in
 * every number: a key that JSON wrote as null for ±Infinity and NaN, or 0 for -0, would hand a
 * fill of +Infinity the kernel of a fill of -Infinity.
 */
import { expect, test } from "vitest";
import { memoized, type KernelDef } from "../../compiler/emit/kernel.js";

test("specs that differ only in a non-finite number or the sign of zero get their own kernels", () => {
  let built = 0;
  const emit = memoized((spec: { value: number }): KernelDef => ({ key: `fill ${Object.is(spec.value, -0) ? "-0" : spec.value}`, label: "fill", params: [], body: String(built++) }));
  const keys = [-Infinity, Infinity, NaN, 0, -0, 1].map((value) => emit({ value }).key);
  expect(keys).toEqual(["fill -Infinity", "fill Infinity", "fill NaN", "fill 0", "fill -0", "fill 1"]);
  expect(emit({ value: -Infinity }).body).toBe("0"); // an equal spec: the kernel built first
  expect(built).toBe(6);
});
