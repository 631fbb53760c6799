/**
 * Residual adds fused into the conv/matmul epilogue (compiler/passes/fuse.ts, residualOf): the
 * add's other operand is read as the product stores, before the activation, in every program
 * where it is complete before the product runs. Values (forward against the float64 reference,
 * gradients against finite differences) are checked by forward.test.ts and gradients.test.ts
 * through the cases in cases.ts; this file checks where the fusion applies.
 */
import { describe, expect, it } from "vitest";
import { caseKernelCalls } from "./kernel-calls.js";



describe("residual add fused into the product's epilogue", () => {
  it("conv → add(shortcut) → relu: one conv kernel adds the shortcut and applies the relu; no elementwise pass left in predict", async () => {
    const c = await caseKernelCalls("conv2d residual add -> relu (direct, Winograd; fused)");
    console.log(c.predict!.join(" | "));
    expect(c.predict!.filter((l) => /^conv2d .*\+residual relu$/.test(l))).toHaveLength(1);
    expect(c.predict!.filter((l) => /^conv2d .*\+residual$/.test(l)), "the 1x1 conv with the add after it").toHaveLength(1);
    expect(c.predict!.some((l) => l.startsWith("elementwise"))).toBe(false);
  });

  it("a shortcut written after the main conv: the add fuses into the later (shortcut) conv", async () => {
    const c = await caseKernelCalls("conv2d stride 2 residual, shortcut after the conv (im2col)");
    console.log(c.predict!.join(" | "));
    expect(c.predict).toHaveLength(2);
    expect(c.predict![0]).not.toMatch(/residual/);
    expect(c.predict![1]).toMatch(/^conv2d 1x1 .*\+residual$/);
  });

  it("the direct kernel (c ≤ 4) with a residual over a partial vector of filters", async () => {
    const c = await caseKernelCalls("conv2d c=3 + its input (direct, 3 of 4 lanes, residual)");
    expect(c.predict).toEqual([expect.stringMatching(/^conv2d direct 3x3 .*\+residual$/)]);
  });

  it("dense + residual in predict and in train_step's forward", async () => {
    const c = await caseKernelCalls("dense residual add -> tanh", [2, 5]);
    expect(c.predict!.filter((l) => /^matmul .*\+residual tanh$/.test(l))).toHaveLength(1);
    expect(c.train_step!.filter((l) => /^matmul .*\+residual tanh$/.test(l))).toHaveLength(1);
  });
});
