/**
 * Reduction kernels against float64 loops: both axes, every op, odd and runtime sizes, the
 * pre-expressions of layer-norm / batch-norm statistics, scale, accumulate, and the scalar
 * fallback for broadcasts that do not fit a vector run.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { EwExpr, EwInput } from "../../compiler/ir/expr.js";
import { emitReduce, storesOnce, type ReduceSpec } from "../../compiler/emit/reduce.js";
import { bcastIndex, buildModule, evalExpr, relErr, rng, type TestModule } from "./ew-harness.js";

const X = (i: number): EwExpr => ({ k: "in", i });
const FULL: EwInput = { div: 1 };
const sqdiff: EwExpr = { k: "un", op: "square", a: { k: "bin", op: "sub", a: X(0), b: X(1) } };

interface Case { name: string; spec: ReduceSpec; outer: number }
const cases: Case[] = [];
const add = (name: string, spec: ReduceSpec, outer?: number): void => {
  cases.push({ name, spec, outer: outer ?? (spec.outer as number) });
};

for (const op of ["sum", "max", "min", "mean"] as const) {
  for (const mid of [1, 3, 5, 7, 10, 33, 64]) {
    add(`${op} rows (axis mid, inner 1) 3x${mid}`, { outer: 3, mid, inner: 1, axis: "mid", op, inputs: [FULL] });
  }
  for (const [mid, inner] of [[5, 7], [4, 16], [3, 33], [2, 3], [6, 4]]) {
    add(`${op} axis mid, runtime outer x${mid}x${inner}`, { outer: "rows", mid, inner, axis: "mid", op, inputs: [FULL] }, 5);
  }
  for (const [mid, inner] of [[1, 10], [1, 33], [1, 64], [3, 5], [1, 1], [1, 3]]) {
    add(`${op} columns (axis outer), runtime rows 37 x ${mid}x${inner}`, { outer: "rows", mid, inner, axis: "outer", op, inputs: [FULL] }, 37);
  }
  add(`${op} axis outer, constant outer`, { outer: 9, mid: 2, inner: 6, axis: "outer", op, inputs: [FULL] });
}
add("layer-norm variance: mean over a row of (x − row mean)²", {
  outer: "rows", mid: 10, inner: 1, axis: "mid", op: "mean", inputs: [FULL, { div: 10 }], pre: sqdiff,
}, 6);
add("batch-norm variance: mean over rows of (x − channel mean)²", {
  outer: "rows", mid: 1, inner: 12, axis: "outer", op: "mean", inputs: [FULL, { div: 1, mod: 12 }], pre: sqdiff,
}, 21);
add("batch-norm over [N·H·W, C] with C = 7 (scalar columns)", {
  outer: "rows", mid: 1, inner: 7, axis: "outer", op: "mean", inputs: [FULL, { div: 1, mod: 7 }], pre: sqdiff,
}, 11);
add("global average pooling [N, H·W, C]", { outer: "rows", mid: 9, inner: 20, axis: "mid", op: "mean", inputs: [FULL] }, 4);
add("bias gradient with scale and accumulate", {
  outer: "rows", mid: 1, inner: 35, axis: "outer", op: "sum", inputs: [FULL], scale: 0.5, accumulate: true,
}, 19);
add("column sums in several row chunks (runtime rows, 1024 columns)", { outer: "rows", mid: 1, inner: 1024, axis: "outer", op: "sum", inputs: [FULL] }, 37);
add("column means in row chunks with scale and accumulate (constant rows)", {
  outer: 19, mid: 2, inner: 1024, axis: "outer", op: "mean", inputs: [FULL], scale: 3, accumulate: true,
});
add("row sum with accumulate", { outer: 4, mid: 17, inner: 1, axis: "mid", op: "sum", inputs: [FULL], accumulate: true });
add("scalar fallback: broadcast that fits no vector run", {
  outer: "rows", mid: 6, inner: 3, axis: "mid", op: "sum", inputs: [FULL, { div: 1, mod: 5 }],
  pre: { k: "bin", op: "mul", a: X(0), b: X(1) },
}, 4);
add("scalar fallback along columns", {
  outer: "rows", mid: 1, inner: 8, axis: "outer", op: "max", inputs: [FULL, { div: 3, mod: 7 }],
  pre: { k: "bin", op: "add", a: X(0), b: X(1) },
}, 5);
add("i32 input and a splat per row", {
  outer: 3, mid: 8, inner: 1, axis: "mid", op: "sum", inputs: [{ div: 1, dtype: "i32" }, { div: 8 }],
  pre: { k: "bin", op: "mul", a: X(0), b: X(1) },
});

let mod: TestModule;
beforeAll(async () => {
  mod = await buildModule(Object.fromEntries(cases.map((c, i) => [`k${i}`, emitReduce(c.spec)])));
});

function reference(c: Case, data: Float32Array[], prior: Float32Array): number[] {
  const { mid, inner, axis, op, inputs } = c.spec;
  const outer = c.outer;
  const pre = c.spec.pre ?? X(0);
  const val = (o: number, m: number, i: number) => {
    const e = (o * mid + m) * inner + i;
    return evalExpr(pre, (k) => data[k][bcastIndex(inputs[k], e)]);
  };
  const [P, R, Q] = axis === "mid" ? [outer, mid, inner] : [1, outer, mid * inner];
  const out: number[] = [];
  for (let p = 0; p < P; p++) {
    for (let q = 0; q < Q; q++) {
      let acc = op === "max" ? -Infinity : op === "min" ? Infinity : 0;
      for (let r = 0; r < R; r++) {
        const v = axis === "mid" ? val(p, r, q) : val(r, Math.floor(q / inner), q % inner);
        acc = op === "max" ? Math.max(acc, v) : op === "min" ? Math.min(acc, v) : acc + v;
      }
      if (op === "mean") acc /= R;
      acc *= c.spec.scale ?? 1;
      out.push(acc + (c.spec.accumulate ? prior[out.length] : 0));
    }
  }
  return out;
}

describe("emitReduce matches float64", () => {
  cases.forEach((c, ci) => {
    it(c.name, () => {
      mod.reset();
      const n = c.outer * c.spec.mid * c.spec.inner;
      const r = rng(7 + ci);
      const data = c.spec.inputs.map((m) => {
        let len = 0;
        for (let e = 0; e < n; e++) len = Math.max(len, bcastIndex(m, e) + 1);
        return Float32Array.from({ length: len }, () => (m.dtype === "i32" ? Math.round(r(-5, 5)) : r(-2, 2)));
      });
      const ptrs = c.spec.inputs.map((m, i) => mod.put(data[i], m.dtype ?? "f32"));
      const nOut = c.spec.axis === "mid" ? c.outer * c.spec.inner : c.spec.mid * c.spec.inner;
      const prior = Float32Array.from({ length: nOut }, () => r(-1, 1));
      const out = mod.put(prior);
      mod.fns[`k${ci}`](...ptrs, out, ...(typeof c.spec.outer === "string" ? [c.outer] : []));
      expect(relErr(mod.f32(out, nOut), reference(c, data, prior))).toBeLessThan(1e-5);
    });
  });
});

describe("emitReduce code shape", () => {
  it("column sums over runtime rows use 16-column f32x4 tiles", () => {
    const def = emitReduce({ outer: "rows", mid: 1, inner: 512, axis: "outer", op: "sum", inputs: [FULL] });
    expect(def.body).toContain("_qq + 16 <= 512");
    expect(def.body.match(/f32x4\.add\(_a\d/g)?.length).toBe(4);
    expect(def.params.map((p) => p.name)).toEqual(["in0", "out", "rows"]);
  });

  it("long column sums are taken in row chunks", () => {
    expect(emitReduce({ outer: "rows", mid: 1, inner: 512, axis: "outer", op: "sum", inputs: [FULL] }).body).toContain("_r0 += 32");
    expect(emitReduce({ outer: "rows", mid: 1, inner: 512, axis: "outer", op: "max", inputs: [FULL] }).body).not.toContain("_r0");
  });

  it("row reductions use four vector accumulators and a horizontal step", () => {
    const def = emitReduce({ outer: "rows", mid: 100, inner: 1, axis: "mid", op: "max", inputs: [FULL] });
    expect(def.body).toContain("hmax4(");
    expect(def.needs).toContain("hmax4");
    expect(def.body).toContain("_a3 = f32x4.max(");
  });

  it("says where every output is stored once with its final value (threads may then replicate the call)", () => {
    const sum = (outer: number, inner: number, more: Partial<Omit<ReduceSpec, "outer">> = {}) => ({ outer, mid: 1, inner, axis: "outer" as const, op: "sum" as const, inputs: [FULL], ...more });
    expect(storesOnce(sum(64, 64))).toBe(true); // 64 rows of 64 columns: one chunk of at most 256 rows
    expect(storesOnce(sum(64, 512))).toBe(false); // chunks of 32 rows: partial sums are stored first
    expect(emitReduce({ ...sum(64, 512), outer: "rows" }).body).toContain("_r0 > 0 ?");
    expect(storesOnce(sum(64, 64, { accumulate: true }))).toBe(false);
    expect(storesOnce(sum(4096, 512, { op: "max" }))).toBe(true);
  });

  it("rejects bad sizes and unknown ops", () => {
    expect(() => emitReduce({ outer: 2, mid: 0, inner: 1, axis: "mid", op: "sum", inputs: [FULL] })).toThrow(/mid/);
    expect(() => emitReduce({ outer: 2, mid: 2, inner: 1, axis: "mid", op: "prod" as never, inputs: [FULL] })).toThrow(/prod/);
  });
});

describe("emitReduce terms (schedule.ts: mergeAccumulatedSums)", () => {
  // Columns of 64 (16-column tiles), 5 (a 4-column tile and a scalar column) and 20; runtime rows.
  const widths = [64, 5, 20];
  let m: TestModule;
  beforeAll(async () => {
    const kernels: Record<string, ReturnType<typeof emitReduce>> = {};
    widths.forEach((q) => {
      kernels[`acc${q}`] = emitReduce({ outer: "rows", mid: 1, inner: q, axis: "outer", op: "sum", inputs: [FULL], accumulate: true });
      kernels[`merged${q}`] = emitReduce({ outer: "rows", mid: 1, inner: q, axis: "outer", op: "sum", inputs: [FULL, FULL, FULL], pre: X(0), terms: [X(1), X(2)] });
    });
    m = await buildModule(kernels);
  });

  it("stores ((0 + ΣA) + ΣB) + ΣC: the bits of a zero fill and one accumulating sum per input", () => {
    const next = rng(17);
    for (const q of widths) {
      const rows = 13;
      // Mixed magnitudes, so that another order of the additions would round differently; a column
      // of −0 (every sum starts from +0, so its total is +0 both ways).
      const data = [0, 1, 2].map(() => Float32Array.from({ length: rows * q }, (_, e) => (e % q === 1 ? -0 : (next() - 0.5) * 10 ** Math.floor(next() * 6 - 3))));
      m.reset();
      const ins = data.map((d) => m.put(d));
      const chain = m.alloc(q), merged = m.alloc(q);
      m.f32(chain, q).fill(0);
      ins.forEach((p) => m.fns[`acc${q}`]!(p, chain, rows));
      m.fns[`merged${q}`]!(ins[0]!, ins[1]!, ins[2]!, merged, rows);
      const a = m.f32(chain, q), b = m.f32(merged, q);
      expect(Array.from(b).every((v, i) => Object.is(v, a[i])), `width ${q}`).toBe(true);
      expect(Object.is(b[1], 0)).toBe(true);
    }
  });

  it("is refused where its order would differ or its path cannot carry it", () => {
    expect(() => emitReduce({ outer: "rows", mid: 1, inner: 8, axis: "outer", op: "sum", inputs: [FULL, FULL], terms: [X(1)], accumulate: true })).toThrow(/plain sum/);
    expect(() => emitReduce({ outer: "rows", mid: 1, inner: 8, axis: "outer", op: "max", inputs: [FULL, FULL], terms: [X(1)] })).toThrow(/plain sum/);
    expect(() => emitReduce({ outer: "rows", mid: 1, inner: 1, axis: "outer", op: "sum", inputs: [FULL, FULL], terms: [X(1)] })).toThrow(/column tiles/);
  });
});
