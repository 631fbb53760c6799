/**
 * The Winograd 2-D transforms with their column and row passes as loops (transforms.ts: Staging)
 * against the same transforms unrolled: the same expressions in the same order, so the same bits,
 * for every F(4×4) matrix (input Bᵀ, output Aᵀ, and the filter gradient's A and Gᵀ), over 4-lane
 * vectors and single floats.
 */
import { describe, expect, it } from "vitest";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { GF_TRANSFORMS } from "../../compiler/emit/winograd/grad-filter.js";
import { at, SCALAR, TRANSFORMS, transform2d, VEC, type Lanes, type Staging, type Transform } from "../../compiler/emit/winograd/transforms.js";
import { buildKernels, rng } from "./harness.js";

const MATRICES: [string, Transform][] = [
  ["Bᵀ", TRANSFORMS[4].BT], ["Aᵀ", TRANSFORMS[4].AT], ["filter-gradient A", GF_TRANSFORMS[4].A], ["filter-gradient Gᵀ", GF_TRANSFORMS[4].GT],
];
const LOOPS: [string, Omit<Staging, "at">][] = [
  ["unrolled", { loopCols: false, loopRows: false }],
  ["column loop", { loopCols: true, loopRows: false }],
  ["column and row loops", { loopCols: true, loopRows: true }],
];

/** out = T·X·Tᵀ over an n×n grid of 16-byte cells at src into an m×m grid at dst (a single float reads lane 0). */
function kernel(t: Transform, L: Lanes, loops: Omit<Staging, "at">, name: string): KernelDef {
  const n = t.coef[0].length, m = t.coef.length;
  const body = [
    "const st_: usize = scratch;",
    ...transform2d(t, n, (i, j) => L.load(...at("src", i * n * 16, j, 16)), L, "e",
      (k, l, e) => [L.store(...at("dst", l * 16, k, m * 16), e)], { at: "st_", ...loops }),
  ].join("\n");
  return {
    key: name, label: name, body, scratchBytes: 64 * 16,
    params: [{ name: "src", type: "usize" }, { name: "dst", type: "usize" }, { name: "scratch", type: "usize" }],
  };
}

describe("Winograd F(4x4) transforms as loops", () => {
  for (const [name, t] of MATRICES) {
    it(`${name}: looped passes give the unrolled transform's bits (vectors and single floats)`, async () => {
      const defs = [VEC, SCALAR].flatMap((L) => LOOPS.map(([how, loops]) => kernel(t, L, loops, `${name} ${L.width} ${how}`)));
      const mod = await buildKernels(defs);
      const n = t.coef[0].length, m = t.coef.length;
      // magnitudes spread over 2^±12, so that a changed order of the sums would change rounding
      const r = rng(n * 31 + m), x = r.uniform(n * n * 4).map((v) => v * 2 ** Math.round(r.next() * 24 - 12));
      const src = mod.alloc(n * n * 4, x);
      const outs = defs.map((_, i) => {
        const dst = mod.alloc(m * m * 4);
        mod.call(i, src, dst, mod.scratch);
        return new Uint32Array(mod.f32(dst, m * m * 4).slice().buffer);
      });
      const lanesOf = (w: number) => (w === 4 ? [0, 1, 2, 3] : [0]);
      [VEC, SCALAR].forEach((L, li) => {
        const cells = Array.from({ length: m * m }, (_, c) => c).flatMap((c) => lanesOf(L.width).map((lane) => c * 4 + lane));
        const bits = (o: Uint32Array) => cells.map((i) => o[i]);
        const unrolled = bits(outs[li * LOOPS.length]);
        expect(unrolled.every((b) => b !== 0x7fc00000)).toBe(true); // every output written (alloc fills NaN)
        // and it is T·X·Tᵀ: float64 reference, within float32 rounding of the terms' magnitudes (lane 0)
        const got = new Float32Array(outs[li * LOOPS.length].slice().buffer);
        for (let c = 0; c < m * m; c++) {
          const k = Math.floor(c / m), l = c % m;
          let sum = 0, mag = 0;
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
            const term = t.coef[k][i] * x[(i * n + j) * 4] * t.coef[l][j];
            sum += term; mag += Math.abs(term);
          }
          expect(Math.abs(got[c * 4] - sum)).toBeLessThanOrEqual(1e-5 * mag);
        }
        for (let loop = 1; loop < LOOPS.length; loop++) expect(bits(outs[li * LOOPS.length + loop]), LOOPS[loop][0]).toEqual(unrolled);
      });
    });
  }
});
