/**
 * Issue 19's inference rewrites for MobileNetV2/ResNet-style graphs, where they apply: batch
 * normalization folded into a depthwise convolution (fold-batch-norm.ts), relu6 (the activation,
 * the ReLU layer with max_value 6) fused into the conv/dense/depthwise epilogue and zero padding
 * folded into the next convolution's padding (fuse.ts: fuseEpilogues, foldZeroPadding). Values
 * (forward against the float64 reference at batch 1, 3, 5; gradients against finite differences)
 * are checked by forward.test.ts, gradients.test.ts and finite-differences.test.ts through the
 * same cases in cases.ts; this file checks which kernels run.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { CASES } from "./cases.js";
import { caseKernelCalls } from "./kernel-calls.js";
import { randomFeeds, randomizeWeights } from "./harness.js";



/** Kernels that pass over activations (not the O(C) batch-normalization fold over the channels). */
const overActivations = (labels: string[]) => labels.filter((l) => !/^elementwise 1x\d+\b/.test(l));

describe("MobileNetV2/ResNet inference rewrites", () => {
  it("an inverted-residual block predicts with three kernels over activations (unfused): no padding copy, no normalization or relu6 pass", async () => {
    const c = await caseKernelCalls("MobileNetV2 block: 1x1, pad+depthwise s2+BN+relu6, 1x1+BN (folded, fused)", undefined, { fuseInvertedResidual: false });
    const k = overActivations(c.predict!);
    expect(k, c.predict!.join(" | ")).toHaveLength(3);
    expect(k[0]).toMatch(/^conv2d 1x1 .*\d$/);
    // the depthwise conv reads the 8×8 image itself (padding folded), its BN folded and relu6 fused
    expect(k[1]).toMatch(/^depthwise_conv2d 3x3 8x8x22-.4x4x22 scaled \+bias relu6$/);
    expect(k[2]).toMatch(/^conv2d 1x1 .* scaled$/);
  });

  it("fused (the default), the block is one kernel over activations: the inverted-residual kernel, stride 2, on the unpadded image", async () => {
    const c = await caseKernelCalls("MobileNetV2 block: 1x1, pad+depthwise s2+BN+relu6, 1x1+BN (folded, fused)");
    const k = overActivations(c.predict!);
    expect(k, c.predict!.join(" | ")).toHaveLength(1);
    expect(k[0]).toMatch(/^inverted_residual 8x8x6-.22-.4x4x6 stride 2 rows \d+$/);
  });

  it("train_step keeps the padded image (its filter gradient reads it) and folds no batch normalization", async () => {
    const c = await caseKernelCalls("MobileNetV2 block: 1x1, pad+depthwise s2+BN+relu6, 1x1+BN (folded, fused)", [4, 4, 6]);
    expect(c.train_step!.some((l) => l.startsWith("copy")), c.train_step!.join(" | ")).toBe(true);
    expect(c.train_step!.some((l) => / scaled/.test(l))).toBe(false);
  });

  it("zero padding folds into im2col and Winograd convs; relu6 (a ReLU layer with max_value 6, an activation) fuses into conv and dense epilogues", async () => {
    const a = await caseKernelCalls("zero_padding2d 3 -> conv2d 7x7 stride 2 (im2col, padding folded)");
    expect(a.predict, a.predict!.join(" | ")).toEqual([expect.stringMatching(/^conv2d 7x7 9x10x3-..* relu6$/)]);
    const b = await caseKernelCalls("zero_padding2d 1 -> conv2d 3x3 valid (Winograd, padding folded) -> dense relu6");
    expect(b.predict, b.predict!.join(" | ")).toHaveLength(2);
    expect(b.predict![0]).toMatch(/^conv2d winograd/);
    expect(b.predict![0]).toMatch(/6x6x5/);
    expect(b.predict![1]).toMatch(/^matmul.* relu6$/);
  });

  it("a threaded build (2 workers) predicts the block bit for bit as the single-threaded build", async () => {
    const g = CASES.find((k) => k.name.startsWith("MobileNetV2 block"))!.graph;
    const one = await loadModel((await compile(JSON.stringify(g), { optimizeLevel: 0, maxBatch: 6 })).wasm);
    const two = await loadModel((await compile(JSON.stringify(g), { optimizeLevel: 0, maxBatch: 6, threads: 2 })).wasm, { threads: 2 });
    try {
      two.setWeights(randomizeWeights(one, 3));
      const feeds = randomFeeds(one.inputs as any, 6, 4);
      const out = g.layers.at(-1).name;
      expect(Array.from(two.predict(feeds)[out]!)).toEqual(Array.from(one.predict(feeds)[out]!));
    } finally {
      two.dispose();
    }
  });

  it("a depthwise conv with a depth multiplier reads the padded image in place; a padding wider than the kernel's reach is kept", async () => {
    const c = await caseKernelCalls("zero_padding2d [[2,0],[1,3]] -> depthwise m=3 stride 2 relu6; pad 3 -> 3x3 (not folded)");
    expect(c.predict![0], c.predict!.join(" | ")).toMatch(/^depthwise_conv2d 3x3 7x6x5-.4x4x15 \+bias relu6$/);
    expect(c.predict!.filter((l) => l.startsWith("copy"))).toHaveLength(1);
    expect(c.predict!.at(-1)).toMatch(/^depthwise_conv2d 3x3 10x10x15-.8x8x30 \+bias$/);
  });
});
