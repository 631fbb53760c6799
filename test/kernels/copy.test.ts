/**
 * Strided copy, fill, gather and scatter-add kernels against plain JavaScript loops: attention
 * head transposes with a runtime batch, slices, concatenation into a slice, 2-D transposes,
 * 5 and 7 axes, accumulate, out-of-range ids.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitCopy, emitFill, simplifyAxes, type CopySpec } from "../../compiler/emit/copy.js";
import { emitGather, emitScatterAdd } from "../../compiler/emit/gather.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { buildModule, randomArray, type TestModule } from "./ew-harness.js";

interface CopyCase { name: string; spec: CopySpec; dim0: number; srcLen: number; dstLen: number; srcOff?: number; dstOff?: number }
const B = 3, T = 5, H = 2, D = 6;
const copies: CopyCase[] = [
  { name: "heads [B,T,H,D] → [B,H,T,D], runtime B", spec: { shape: ["b", T, H, D], srcStrides: [T * H * D, H * D, D, 1], dstStrides: [H * T * D, D, T * D, 1] }, dim0: B, srcLen: B * T * H * D, dstLen: B * T * H * D },
  { name: "heads back [B,H,T,D] → [B,T,H,D], accumulate", spec: { shape: ["b", H, T, D], srcStrides: [H * T * D, T * D, D, 1], dstStrides: [T * H * D, D, H * D, 1], accumulate: true }, dim0: B, srcLen: B * T * H * D, dstLen: B * T * H * D },
  { name: "slice columns 2..5 of [R,10]", spec: { shape: ["rows", 3], srcStrides: [10, 1], dstStrides: [3, 1] }, dim0: 7, srcLen: 70, dstLen: 21, srcOff: 2 },
  { name: "concatenate [R,4] into columns 3..7 of [R,10]", spec: { shape: ["rows", 4], srcStrides: [4, 1], dstStrides: [10, 1] }, dim0: 5, srcLen: 20, dstLen: 50, dstOff: 3 },
  { name: "transpose [5,7] → [7,5]", spec: { shape: [5, 7], srcStrides: [7, 1], dstStrides: [1, 5] }, dim0: 5, srcLen: 35, dstLen: 35 },
  { name: "contiguous [R,8,16] (one memory.copy)", spec: { shape: ["rows", 8, 16], srcStrides: [128, 16, 1], dstStrides: [128, 16, 1] }, dim0: 3, srcLen: 384, dstLen: 384 },
  { name: "contiguous accumulate [R,33]", spec: { shape: ["rows", 33], srcStrides: [33, 1], dstStrides: [33, 1], accumulate: true }, dim0: 4, srcLen: 132, dstLen: 132 },
  { name: "single element", spec: { shape: [1, 1], srcStrides: [1, 1], dstStrides: [1, 1] }, dim0: 1, srcLen: 1, dstLen: 1 },
  { name: "5 axes with size-1 axes", spec: { shape: [2, 1, 3, 1, 5], srcStrides: [15, 15, 5, 5, 1], dstStrides: [1, 2, 2, 6, 6] }, dim0: 2, srcLen: 30, dstLen: 30 },
  // Seven axes that no two merge (the reversal of [B,3,2,3,2,3,2]): one loop each, no limit on their number.
  { name: "7 axes: reverse the axes of [B,3,2,3,2,3,2] after the batch", spec: { shape: ["b", 2, 3, 2, 3, 2, 3], srcStrides: [216, 1, 2, 6, 12, 36, 72], dstStrides: [216, 108, 36, 18, 6, 3, 1] }, dim0: 3, srcLen: 648, dstLen: 648 },
  { name: "split: column 1 of [R,3] (strided single-element runs)", spec: { shape: ["rows", 1], srcStrides: [3, 1], dstStrides: [1, 1] }, dim0: 6, srcLen: 18, dstLen: 6, srcOff: 1 },
];

/** Reference: every multi-index of the shape, dst[Σ i·dstStride] (+)= src[Σ i·srcStride]. */
function refCopy(c: CopyCase, src: Float32Array, dst: Float32Array): Float32Array {
  const out = Float32Array.from(dst);
  const shape = c.spec.shape.map((d) => (typeof d === "number" ? d : c.dim0));
  const idx = shape.map(() => 0);
  const total = shape.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    let s = c.srcOff ?? 0, d = c.dstOff ?? 0;
    idx.forEach((v, k) => { s += v * c.spec.srcStrides[k]; d += v * c.spec.dstStrides[k]; });
    out[d] = Math.fround((c.spec.accumulate ? out[d] : 0) + src[s]);
    for (let k = shape.length - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
  }
  return out;
}

const fills = [{ n: "n" as const, value: 0, count: 13 }, { n: 7, value: 1.5, count: 7 }, { n: "n" as const, value: -2.25, count: 34 }];
const gathers = [{ rows: "rows" as const, dim: 5, vocab: 11 }, { rows: 6, dim: 16, vocab: 4 }, { rows: "rows" as const, dim: 100, vocab: 3 }];

let mod: TestModule;
beforeAll(async () => {
  const k: Record<string, KernelDef> = {};
  copies.forEach((c, i) => (k[`c${i}`] = emitCopy(c.spec)));
  fills.forEach((f, i) => (k[`f${i}`] = emitFill(f)));
  gathers.forEach((g, i) => { k[`g${i}`] = emitGather(g); k[`s${i}`] = emitScatterAdd(g); });
  mod = await buildModule(k);
});

describe("emitCopy", () => {
  copies.forEach((c, ci) => {
    it(c.name, () => {
      mod.reset();
      const src = randomArray(c.srcLen, 50 + ci), dst = randomArray(c.dstLen, 80 + ci);
      const sp = mod.put(src), dp = mod.put(dst);
      mod.fns[`c${ci}`](sp + 4 * (c.srcOff ?? 0), dp + 4 * (c.dstOff ?? 0), ...(typeof c.spec.shape[0] === "string" ? [c.dim0] : []));
      expect(Array.from(mod.f32(dp, c.dstLen))).toEqual(Array.from(refCopy(c, src, dst)));
    });
  });

  it("merges contiguous axes and drops size-1 axes", () => {
    expect(simplifyAxes({ shape: ["b", 8, 16], srcStrides: [128, 16, 1], dstStrides: [128, 16, 1] })).toEqual([{ size: "b*8*16", src: 1, dst: 1 }]);
    expect(simplifyAxes({ shape: [2, 1, 3], srcStrides: [3, 3, 1], dstStrides: [1, 9, 2] })).toEqual([{ size: 2, src: 3, dst: 1 }, { size: 3, src: 1, dst: 2 }]);
    const def = emitCopy({ shape: ["b", 8, 16], srcStrides: [128, 16, 1], dstStrides: [128, 16, 1] });
    expect(def.body).toBe("memory.copy(dst + (<usize>(0) << 2), src + (<usize>(0) << 2), <usize>(b * 8 * 16) << 2);");
  });

  it("rejects malformed specs", () => {
    expect(() => emitCopy({ shape: [2, "b"], srcStrides: [1, 2], dstStrides: [1, 2] })).toThrow(/axis 1/);
    expect(() => emitCopy({ shape: [2, 3], srcStrides: [1], dstStrides: [1, 2] })).toThrow(/stride/);
    expect(() => emitCopy({ shape: [], srcStrides: [], dstStrides: [] })).toThrow(/at least one axis/);
  });
});

describe("emitFill", () => {
  fills.forEach((f, i) => {
    it(`fills ${f.count} elements with ${f.value} and nothing past them`, () => {
      mod.reset();
      const p = mod.put(new Float32Array(f.count + 1).fill(9));
      mod.fns[`f${i}`](p, ...(typeof f.n === "string" ? [f.count] : []));
      expect(Array.from(mod.f32(p, f.count + 1))).toEqual([...new Array(f.count).fill(f.value), 9]);
    });
  });
});

describe("emitGather / emitScatterAdd", () => {
  gathers.forEach((g, gi) => {
    const rows = typeof g.rows === "number" ? g.rows : 7;
    const ids = Int32Array.from({ length: rows }, (_, r) => (r === 2 ? -1 : r === 4 ? g.vocab : (r * 7) % g.vocab));
    const dims = typeof g.rows === "string" ? [rows] : [];

    it(`gather rows=${rows} dim=${g.dim} vocab=${g.vocab} (out-of-range ids give zero rows)`, () => {
      mod.reset();
      const table = randomArray(g.vocab * g.dim, 3 + gi);
      const ip = mod.put(ids, "i32"), tp = mod.put(table), op = mod.put(new Float32Array(rows * g.dim).fill(5));
      mod.fns[`g${gi}`](ip, tp, op, ...dims);
      const ref = Array.from(ids).flatMap((id) => (id < 0 || id >= g.vocab ? new Array(g.dim).fill(0) : Array.from(table.subarray(id * g.dim, (id + 1) * g.dim))));
      expect(Array.from(mod.f32(op, rows * g.dim))).toEqual(ref);
    });

    it(`scatter-add rows=${rows} dim=${g.dim} (repeated ids sum, out-of-range ids skipped)`, () => {
      mod.reset();
      const dy = randomArray(rows * g.dim, 13 + gi);
      const start = randomArray(g.vocab * g.dim, 23 + gi);
      const ip = mod.put(ids, "i32"), dyp = mod.put(dy), tp = mod.put(start);
      const guard = mod.put(new Float32Array(16).fill(3));
      mod.fns[`s${gi}`](ip, dyp, tp, ...dims);
      const ref = Float32Array.from(start);
      ids.forEach((id, r) => {
        if (id < 0 || id >= g.vocab) return;
        for (let j = 0; j < g.dim; j++) ref[id * g.dim + j] = Math.fround(ref[id * g.dim + j] + dy[r * g.dim + j]);
      });
      expect(Array.from(mod.f32(tp, g.vocab * g.dim))).toEqual(Array.from(ref));
      expect(Array.from(mod.f32(guard, 16))).toEqual(new Array(16).fill(3));
    });
  });
});
