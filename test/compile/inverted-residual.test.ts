/**
 * The fused inverted-residual kernel (passes/fuse-inverted-residual.ts, emit/inverted-residual.ts):
 * MobileNetV2 blocks (expand 1×1 + BN + relu6 → depthwise 3×3 + BN + relu6 → project 1×1 + BN
 * (+ the residual add)) at every stride/padding/residual combination the rewrite takes, odd
 * heights and widths, channel counts off the vector width, batch > 1: the fused predict against
 * the float64 reference and against the unfused build (`fuseInvertedResidual: false`).
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { readFileSync } from "node:fs";
import { comparePredict, randomFeeds, randomizeWeights, relErr } from "./harness.js";

interface BlockCase {
  h: number; w: number; cin: number; expand: number; cout: number; stride: 1 | 2; pad: "same" | "zero_padding"; residual: boolean;
  /** Bands of output rows per image the kernel takes (select/rules.ts: invertedResidualBandRows), where the case is about them. */
  bands?: number;
}

function blockGraph(k: BlockCase): any {
  const layers: any[] = [
    { name: "e", op: "conv2d", filters: k.cin * k.expand, kernel_size: 1, use_bias: false },
    { name: "ebn", op: "batch_normalization" },
    { name: "er", op: "relu", max_value: 6 },
  ];
  // Keras's MobileNetV2 pads (0, 1) before a stride-2 depthwise with `valid` padding (even sizes); `same` elsewhere.
  if (k.pad === "zero_padding") layers.push({ name: "zp", op: "zero_padding2d", padding: [[0, 1], [1, 1]] });
  layers.push(
    { name: "d", op: "depthwise_conv2d", kernel_size: 3, strides: k.stride, padding: k.pad === "same" ? "same" : "valid", use_bias: false },
    { name: "dbn", op: "batch_normalization" },
    { name: "dr", op: "relu", max_value: 6 },
    { name: "p", op: "conv2d", filters: k.cout, kernel_size: 1, use_bias: false },
    { name: "pbn", op: "batch_normalization" },
  );
  if (k.residual) layers.push({ name: "add", op: "add", inputs: ["x", "pbn"] });
  return { format: "kiln.graph/v2", name: "block", seed: 5, inputs: [{ name: "x", shape: [k.h, k.w, k.cin] }], layers };
}

const CASES: BlockCase[] = [
  { h: 9, w: 7, cin: 8, expand: 6, cout: 8, stride: 1, pad: "same", residual: true },
  { h: 13, w: 11, cin: 6, expand: 6, cout: 6, stride: 1, pad: "same", residual: true },
  { h: 8, w: 8, cin: 5, expand: 6, cout: 7, stride: 1, pad: "same", residual: false },
  { h: 12, w: 9, cin: 8, expand: 6, cout: 12, stride: 2, pad: "same", residual: false },
  { h: 11, w: 7, cin: 4, expand: 5, cout: 9, stride: 2, pad: "same", residual: false },
  { h: 10, w: 8, cin: 8, expand: 6, cout: 16, stride: 2, pad: "zero_padding", residual: false },
  { h: 3, w: 3, cin: 4, expand: 6, cout: 4, stride: 1, pad: "same", residual: true },
  // 56 wide, 48 expanded channels: bands of several rows and a shorter last band
  { h: 23, w: 56, cin: 8, expand: 6, cout: 8, stride: 1, pad: "same", residual: true, bands: 3 },
  { h: 21, w: 40, cin: 16, expand: 6, cout: 24, stride: 2, pad: "same", residual: false },
  // bands of 2 rows (a 64-wide 192-channel row is 48 KB of the 96 KB band) and a last band of 1
  { h: 9, w: 64, cin: 32, expand: 6, cout: 32, stride: 1, pad: "same", residual: true, bands: 5 },
  // stride 2 over several bands: 4, 4, 1 output rows (the carried halo is one expanded row)
  { h: 17, w: 128, cin: 16, expand: 6, cout: 24, stride: 2, pad: "same", residual: false, bands: 3 },
  { h: 41, w: 56, cin: 16, expand: 6, cout: 24, stride: 2, pad: "same", residual: false, bands: 3 },
  { h: 40, w: 56, cin: 8, expand: 6, cout: 16, stride: 2, pad: "zero_padding", residual: false, bands: 2 },
];

const name = (k: BlockCase) => `${k.h}x${k.w}x${k.cin} ×${k.expand} → ${k.cout}, stride ${k.stride}, ${k.pad}${k.residual ? ", residual" : ""}`;

describe("fused inverted-residual block", () => {
  for (const k of CASES) {
    it(`${name(k)}: one kernel; predict = the float64 reference and the unfused build within 1e-5 (batch 3)`, async () => {
      const graph = blockGraph(k);
      const fused = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 3, debug: true });
      const plain = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 3, fuseInvertedResidual: false });
      expect(fused.ir).toMatch(/= inverted_residual\(/);
      expect(plain.ir).not.toMatch(/inverted_residual/);
      if (k.bands) {
        const [, oh, rows] = /inverted_residual \d+x\d+x\d+-.\d+-.(\d+)x\d+x\d+.* rows (\d+)/.exec(fused.source) ?? [];
        expect(Math.ceil(Number(oh) / Number(rows)), `${oh} output rows by ${rows}`).toBe(k.bands);
      }
      const a = await loadModel(fused.wasm), b = await loadModel(plain.wasm);
      const w = randomizeWeights(a, 7);
      a.setWeights(w);
      b.setWeights(w);
      for (const [out, err] of Object.entries(comparePredict(graph, a, w, 3, 11))) expect(err, out).toBeLessThan(1e-5);
      const feeds = randomFeeds(a.inputs as any, 3, 12), out = graph.layers.at(-1).name;
      const ya = a.predict(feeds)[out]!, yb = b.predict(feeds)[out]!;
      expect(relErr(ya, yb)).toBeLessThan(1e-6);
      // batch 1 too: a different count of images through the same bands
      const one = randomFeeds(a.inputs as any, 1, 13);
      expect(relErr(a.predict(one)[out]!, b.predict(one)[out]!)).toBeLessThan(1e-6);
    });
  }
});

describe("fused inverted-residual block: where it applies", () => {
  it("an expanded width over 384 (408) stays three kernels", async () => {
    const graph = blockGraph({ h: 7, w: 7, cin: 68, expand: 6, cout: 68, stride: 1, pad: "same", residual: true });
    const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 2 });
    expect(r.ir).not.toMatch(/inverted_residual/);
    expect(r.ir).toMatch(/depthwise_conv2d\(/);
  });

  it("a depthwise output read twice (a graph output too) stays unfused", async () => {
    const graph = blockGraph({ h: 6, w: 6, cin: 4, expand: 6, cout: 4, stride: 1, pad: "same", residual: true });
    graph.outputs = ["dr", "add"];
    const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 2 });
    expect(r.ir).not.toMatch(/inverted_residual/);
  });

  it("a threaded build (2 workers, the batch split) predicts bit for bit what the single-threaded build does", async () => {
    const graph = blockGraph({ h: 15, w: 13, cin: 8, expand: 6, cout: 8, stride: 1, pad: "same", residual: true });
    const one = await loadModel((await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 5 })).wasm);
    const two = await loadModel((await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 5, threads: 2 })).wasm, { threads: 2 });
    try {
      two.setWeights(randomizeWeights(one, 3));
      const feeds = randomFeeds(one.inputs as any, 5, 4);
      expect(Array.from(two.predict(feeds).add!)).toEqual(Array.from(one.predict(feeds).add!));
    } finally {
      two.dispose();
    }
  });

  it("the zoo's MobileNetV2 (96×96, α 0.35: every expanded width ≤ 384): all 16 blocks with an expand fused, predict = the unfused build within 1e-5 (batch 3)", async () => {
    const text = readFileSync(new URL("../../examples/zoo/graphs/mobilenetv2.json", import.meta.url), "utf8");
    const fused = await compile(text, { optimizeLevel: 0, maxBatch: 3 });
    const plain = await compile(text, { optimizeLevel: 0, maxBatch: 3, fuseInvertedResidual: false });
    const count = (ir: string, what: RegExp) => (ir.match(what) ?? []).length;
    const predictIR = (ir: string) => ir.slice(ir.indexOf("program predict {"), ir.indexOf("\n}", ir.indexOf("program predict {")));
    expect(count(predictIR(fused.ir), /= inverted_residual\(/g)).toBe(16);
    expect(count(predictIR(plain.ir), /= inverted_residual\(/g)).toBe(0);
    const a = await loadModel(fused.wasm), b = await loadModel(plain.wasm);
    const w = randomizeWeights(a, 21, 0.3);
    a.setWeights(w);
    b.setWeights(w);
    const feeds = randomFeeds(a.inputs as any, 3, 22), out = a.outputs[0]!.name;
    const ya = a.predict(feeds)[out]!, yb = b.predict(feeds)[out]!;
    expect(ya.length).toBe(yb.length);
    expect(Math.max(...yb) - Math.min(...yb)).toBeGreaterThan(0); // not a constant output
    expect(relErr(ya, yb)).toBeLessThan(1e-5);
  });
});
