/**
 * emitMatmul against a float64 reference: every transpose combination, runtime m and k, odd sizes,
 * strided leading dimensions, 1–2 batch levels, alpha, accumulate, bias + relu, multi-block K,
 * and the relaxed-SIMD build when this Node accepts it. All cases share one module per build.
 * The few-row path (gemv.ts, runtime m ≤ 4) gets its own grid, and must give the same bits as
 * the blocked path for the same rows (threads split a batch into such shares).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitMatmul, type MatmulSpec } from "../../compiler/emit/matmul.js";
import { buildKernels, relaxedSimdSupported, relErr, rng, type KernelModule } from "./harness.js";

interface Case { name: string; spec: MatmulSpec; m: number; k: number; counts?: number[] }

/** Sizes of the stored operands for a case (elements). */
function extents(c: Case) {
  const s = c.spec, ta = !!s.transA, tb = !!s.transB;
  const lda = s.lda ?? (ta ? c.m : c.k), ldb = s.ldb ?? (tb ? c.k : s.n), ldc = s.ldc ?? s.n;
  const rowsA = ta ? c.k : c.m, rowsB = tb ? s.n : c.k;
  const single = { a: (rowsA - 1) * lda + (ta ? c.m : c.k), b: (rowsB - 1) * ldb + (tb ? c.k : s.n), c: (c.m - 1) * ldc + s.n };
  const counts = c.counts ?? [];
  const levels = s.batch ?? [];
  const span = (key: "strideA" | "strideB" | "strideC", base: number) =>
    base + levels.reduce((acc, l, i) => acc + (counts[i] - 1) * l[key], 0);
  return { lda, ldb, ldc, a: span("strideA", single.a), b: span("strideB", single.b), c: span("strideC", single.c) };
}

/** Float64 reference with the kernel's semantics, including untouched gaps of strided C. */
function reference(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array, bias: Float32Array, scale?: Float32Array): Float64Array {
  const s = c.spec, e = extents(c), out = Float64Array.from(C0);
  const levels = s.batch ?? [], counts = c.counts ?? [];
  const combos: number[][] = levels.length === 0 ? [[]] : levels.length === 1
    ? Array.from({ length: counts[0] }, (_, i) => [i])
    : Array.from({ length: counts[0] * counts[1] }, (_, i) => [Math.floor(i / counts[1]), i % counts[1]]);
  for (const idx of combos) {
    const off = (key: "strideA" | "strideB" | "strideC") => idx.reduce((acc, v, i) => acc + v * levels[i][key], 0);
    const oa = off("strideA"), ob = off("strideB"), oc = off("strideC");
    for (let i = 0; i < c.m; i++) for (let j = 0; j < s.n; j++) {
      let acc = 0;
      for (let p = 0; p < c.k; p++) {
        const a = s.transA ? A[oa + p * e.lda + i] : A[oa + i * e.lda + p];
        const b = s.transB ? B[ob + j * e.ldb + p] : B[ob + p * e.ldb + j];
        acc += a * b;
      }
      let v = (s.alpha ?? 1) * acc * (s.scale ? scale![j] : 1) + (s.bias ? bias[j] : 0) + (s.accumulate ? C0[oc + i * e.ldc + j] : 0);
      if (s.activation === "relu") v = Math.max(v, 0);
      if (s.activation === "relu6") v = Math.min(Math.max(v, 0), 6);
      out[oc + i * e.ldc + j] = v;
    }
  }
  return out;
}

const cases: Case[] = [];
const add = (name: string, spec: MatmulSpec, m: number, k: number, counts?: number[]) => cases.push({ name, spec, m, k, counts });
for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
  const t = `${ta ? "T" : "N"}${tb ? "T" : "N"}`;
  add(`${t} 17x33x10 const`, { m: 17, n: 33, k: 10, transA: ta, transB: tb }, 17, 10);
  add(`${t} runtime m 33x10x17`, { m: "m", n: 10, k: 17, transA: ta, transB: tb, lda: ta ? 33 : undefined }, 33, 17);
  add(`${t} runtime k 9x12x290`, { m: 9, n: 12, k: "k", transA: ta, transB: tb, lda: ta ? 9 : 290, ldb: tb ? 290 : 12 }, 9, 290);
  add(`${t} 5x17x600 (two K blocks)`, { m: 5, n: 17, k: 600, transA: ta, transB: tb }, 5, 600);
  add(`${t} 5x17x500 (one K block deeper than KC_MAX)`, { m: 5, n: 17, k: 500, transA: ta, transB: tb }, 5, 500);
}
for (const [m, n, k] of [[1, 1, 1], [3, 5, 3], [5, 3, 1], [1, 10, 33], [10, 1, 5], [33, 17, 3], [64, 16, 64], [70, 24, 8]]) {
  add(`odd ${m}x${n}x${k}`, { m: "m", n, k }, m, k);
}
add("runtime k NN (dW-like, 600 rows)", { m: "m", n: 10, k: "k", lda: 7 }, 6, 600);
add("runtime k TN dW = Xᵀ·dY", { m: 13, n: 9, k: "rows", transA: true }, 13, 523);
add("runtime k TN small k", { m: 8, n: 16, k: "rows", transA: true }, 8, 3);
add("runtime m and k", { m: "m", n: 12, k: "k", lda: 40, ldb: 12 }, 9, 37);
add("runtime k = 0 gives bias only", { m: 3, n: 6, k: "k", lda: 4, bias: true }, 3, 0);
add("lda/ldb/ldc strided", { m: "m", n: 6, k: 5, lda: 9, ldb: 11, ldc: 13 }, 7, 5);
add("strided transposed", { m: 6, n: 7, k: 9, transA: true, transB: true, lda: 10, ldb: 12, ldc: 8 }, 6, 9);
add("alpha", { m: "m", n: 9, k: 8, alpha: 0.125 }, 11, 8);
add("accumulate", { m: "m", n: 13, k: 6, accumulate: true }, 5, 6);
add("accumulate multi-block", { m: 7, n: 9, k: "k", accumulate: true, lda: 800, alpha: 0.5 }, 7, 800);
add("bias + relu", { m: "m", n: 21, k: 7, bias: true, activation: "relu" }, 9, 7);
// a folded batch normalization's per-column scale: applied to B as it is packed (one K block, scaleInB), else in the epilogue
add("scale + bias + relu6, n = 21 (tail panel)", { m: "m", n: 21, k: 30, bias: true, scale: true, activation: "relu6" }, 70, 30);
add("scale + bias multi-block", { m: "m", n: 11, k: 520, bias: true, scale: true }, 6, 520);
add("scale + bias, B transposed", { m: 9, n: 13, k: 20, bias: true, scale: true, transB: true }, 9, 20);
add("bias + relu multi-block", { m: "m", n: 11, k: 520, bias: true, activation: "relu" }, 6, 520);
add("accumulate + alpha + bias + relu", { m: "m", n: 19, k: 9, accumulate: true, alpha: 2, bias: true, activation: "relu" }, 7, 9);
add("accumulate + bias + relu multi-block", { m: "m", n: 21, k: "k", lda: 700, accumulate: true, bias: true, activation: "relu" }, 5, 700);
add("1 batch level", { m: 5, n: 6, k: 7, batch: [{ count: "nb", strideA: 35, strideB: 42, strideC: 30 }] }, 5, 7, [3]);
add("2 batch levels, shared B, alpha (attention-like)", {
  m: "t", n: 5, k: 4, transB: true, alpha: 0.5, ldc: 5,
  batch: [{ count: "nb", strideA: 24, strideB: 0, strideC: 30 }, { count: 2, strideA: 12, strideB: 0, strideC: 15 }],
}, 3, 4, [2, 2]);
add("2 batch levels, transposed A, runtime k", {
  m: 4, n: 9, k: "s", transA: true, lda: 4,
  batch: [{ count: 2, strideA: 100, strideB: 300, strideC: 36 }, { count: "h", strideA: 50, strideB: 150, strideC: 72 }],
}, 4, 11, [2, 3]);

/** Runs every case on one module and returns the relative errors by case name. */
async function runAll(relaxed: boolean): Promise<Map<string, number>> {
  const defs = cases.map((c) => emitMatmul({ ...c.spec, relaxed }));
  const mod: KernelModule = await buildKernels(defs, { relaxed });
  const errs = new Map<string, number>();
  cases.forEach((c, i) => {
    const r = rng(1234 + i), e = extents(c);
    const A = r.uniform(e.a), B = r.uniform(e.b), C0 = r.uniform(e.c), bias = r.uniform(c.spec.n), scale = r.uniform(c.spec.n).map((v) => 4 * v);
    const pa = mod.alloc(e.a, A), pb = mod.alloc(e.b, B), pc = mod.alloc(e.c, C0), pbias = mod.alloc(c.spec.n, bias), pscale = mod.alloc(c.spec.n, scale);
    const args = [pa, pb, pc, ...(c.spec.bias ? [pbias] : []), ...(c.spec.scale ? [pscale] : []), mod.scratch];
    const dimValue: Record<string, number> = {};
    if (typeof c.spec.m === "string") dimValue[c.spec.m] = c.m;
    if (typeof c.spec.k === "string") dimValue[c.spec.k] = c.k;
    (c.spec.batch ?? []).forEach((l, j) => { if (typeof l.count === "string") dimValue[l.count] = c.counts![j]; });
    for (const p of defs[i].params.slice(args.length)) args.push(dimValue[p.name]);
    mod.call(i, ...args);
    errs.set(c.name, relErr(mod.f32(pc, e.c), reference(c, A, B, C0, bias, scale)));
    mod.reset();
  });
  return errs;
}

describe("emitMatmul", () => {
  let plain: Map<string, number>;
  beforeAll(async () => { plain = await runAll(false); });
  for (const c of cases) {
    it(`matches the float64 reference: ${c.name}`, () => {
      expect(plain.get(c.name)).toBeLessThan(1e-5);
    });
  }

  it("declares params a, b, c, [bias], scratch, then runtime dims in order of first appearance", () => {
    const def = emitMatmul({ m: "m", n: 4, k: "k", bias: true, batch: [{ count: "m", strideA: 1, strideB: 0, strideC: 1 }, { count: "h", strideA: 1, strideB: 0, strideC: 1 }], lda: 8 });
    expect(def.params).toEqual([
      { name: "a", type: "usize" }, { name: "b", type: "usize" }, { name: "c", type: "usize" },
      { name: "bias", type: "usize" }, { name: "scratch", type: "usize" },
      { name: "m", type: "i32" }, { name: "k", type: "i32" }, { name: "h", type: "i32" },
    ]);
    expect(def.scratchBytes).toBeGreaterThan(0);
  });

  it("rejects dims that are not generated identifiers and leading dims that are runtime", () => {
    expect(() => emitMatmul({ m: "m; abort()", n: 4, k: 4 })).toThrow(/identifier/);
    expect(() => emitMatmul({ m: "scratch", n: 4, k: 4 })).toThrow(/collides/);
    expect(() => emitMatmul({ m: 4, n: 4, k: "k" })).toThrow(/lda/);
    expect(() => emitMatmul({ m: 4, n: 4, k: 8, lda: 3 })).toThrow(/lda/);
    expect(() => emitMatmul({ m: 4, n: 4, k: 8, activation: "relu(x)); abort(" as "relu" })).toThrow(/activation/);
  });

  it("takes the K-blocked path for the multi-block cases (so they test what their names say)", () => {
    expect(emitMatmul({ m: 5, n: 17, k: 600 }).body).toContain("pc_ += ");
    expect(emitMatmul({ m: "m", n: 11, k: 520 }).body).toContain("pc_ += ");
    expect(emitMatmul({ m: "m", n: 11, k: 384 }).body).not.toContain("pc_ += ");
    // Up to KC_SINGLE a constant K is one block, deeper than KC_MAX (the 500-deep cases above).
    expect(emitMatmul({ m: 5, n: 17, k: 500 }).body).not.toContain("pc_ += ");
    expect(emitMatmul({ m: 5, n: 17, k: 513 }).body).toContain("pc_ += ");
  });

  it("reads a row-major A in place in one K block (only a last partial micro-tile is staged), packs it otherwise", () => {
    // The cases above run both paths: "17x33x10 const" and "lda/ldb/ldc strided" (7 rows: a staged
    // last micro-tile) in place, the transposed and multi-block ones packed.
    const single = emitMatmul({ m: "m", n: 16, k: 12, lda: 20 }).body;
    expect(single).toContain("ir_ + 4 <= mc_ ? ab_ + <usize>((ic_ + ir_) * 80) : sa_");
    expect(single).not.toContain("sa_ + <usize>(ir_ * ");
    for (const spec of [{ m: 8, n: 16, k: 12, transA: true }, { m: 8, n: 16, k: 600 }]) {
      const body = emitMatmul(spec).body;
      expect(body).toContain("sa_ + <usize>(ir_ * ");
      expect(body).not.toContain("ir_ + 4 <= mc_");
    }
  });

  it("bounds the micro-kernel's k loop by the B pointer, not a step counter", () => {
    const body = emitMatmul({ m: 8, n: 16, k: 12 }).body;
    expect(body).toContain("while (pb_ < pbe_)");
    expect(body).not.toContain("kk_");
  });

  it("uses relaxed_madd only in the relaxed variant", () => {
    expect(emitMatmul({ m: 8, n: 8, k: 8, relaxed: true }).body).toContain("relaxed_madd");
    expect(emitMatmul({ m: 8, n: 8, k: 8 }).body).not.toContain("relaxed");
  });

  it.runIf(relaxedSimdSupported())("relaxed-SIMD build matches the reference", async () => {
    const relaxed = await runAll(true);
    for (const c of cases) expect(relaxed.get(c.name), c.name).toBeLessThan(1e-5);
  });
});

/** Few-row grid: one kernel per case (runtime m), run at m = 1…4 (gemv path) and m = 9 (blocked). */
const FEW_ROWS = [1, 2, 3, 4], BLOCKED_ROWS = 9;
const fewCases: Case[] = [];
for (const n of [1, 3, 10, 64, 130, 512]) {
  for (const k of [1, 7, 512, 784]) {
    fewCases.push({ name: `${n}x${k}`, spec: { m: "m", n, k }, m: BLOCKED_ROWS, k });
    fewCases.push({ name: `${n}x${k} bias relu`, spec: { m: "m", n, k, bias: true, activation: "relu" }, m: BLOCKED_ROWS, k });
  }
}
const addFew = (name: string, spec: Omit<MatmulSpec, "m">) => fewCases.push({ name, spec: { m: "m", ...spec }, m: BLOCKED_ROWS, k: spec.k as number });
addFew("accumulate + alpha multi-block 130x784", { n: 130, k: 784, accumulate: true, alpha: 0.5 });
addFew("accumulate + bias + relu multi-block 3x784", { n: 3, k: 784, accumulate: true, bias: true, activation: "relu" });
addFew("accumulate single block 10x7", { n: 10, k: 7, accumulate: true });
addFew("alpha + bias 64x512", { n: 64, k: 512, alpha: -2, bias: true });
addFew("strided lda/ldb/ldc 10x7", { n: 10, k: 7, lda: 9, ldb: 13, ldc: 11 });
addFew("strided multi-block + relu 21x600", { n: 21, k: 600, lda: 601, ldb: 24, ldc: 22, activation: "relu" });
addFew("k = 0 gives bias only", { n: 6, k: 0, lda: 4, bias: true });

/** Runs every few-row case at each row count: relative errors and whether rows match the blocked path bit for bit. */
async function runFew(relaxed: boolean): Promise<Map<string, { err: number; sameBits: boolean }>> {
  const defs = fewCases.map((c) => emitMatmul({ ...c.spec, relaxed }));
  const mod = await buildKernels(defs, { relaxed });
  const results = new Map<string, { err: number; sameBits: boolean }>();
  fewCases.forEach((c, i) => {
    const r = rng(777 + i), e = extents(c);
    const A = r.uniform(e.a), B = r.uniform(e.b), C0 = r.uniform(e.c), bias = r.uniform(c.spec.n);
    const pa = mod.alloc(e.a, A), pb = mod.alloc(e.b, B), pbias = mod.alloc(c.spec.n, bias);
    const run = (rows: number) => {
      const pc = mod.alloc(e.c, C0);
      mod.call(i, pa, pb, pc, ...(c.spec.bias ? [pbias] : []), mod.scratch, rows);
      return mod.f32(pc, e.c).slice();
    };
    const blocked = run(BLOCKED_ROWS);
    let err = relErr(blocked, reference(c, A, B, C0, bias)), sameBits = true;
    for (const rows of FEW_ROWS) {
      const few = run(rows), len = (rows - 1) * e.ldc + c.spec.n;
      err = Math.max(err, relErr(few.subarray(0, len), reference({ ...c, m: rows }, A, B, C0, bias).subarray(0, len)));
      // rows past m keep C0: the kernel touched only its own rows
      err = Math.max(err, relErr(few.subarray(len), C0.subarray(len)));
      const a = new Uint32Array(few.buffer, 0, len), b = new Uint32Array(blocked.buffer, 0, len);
      if (a.some((v, j) => v !== b[j])) sameBits = false;
    }
    results.set(c.name, { err, sameBits });
    mod.reset();
  });
  return results;
}

describe("emitMatmul few-row path (m ≤ 4)", () => {
  let plain: Map<string, { err: number; sameBits: boolean }>;
  beforeAll(async () => { plain = await runFew(false); }, 120_000);
  for (const c of fewCases) {
    it(`m = 1…4 match the reference and the blocked path's bits: ${c.name}`, () => {
      expect(plain.get(c.name)!.err).toBeLessThan(1e-5);
      expect(plain.get(c.name)!.sameBits).toBe(true);
    });
  }

  it("is emitted for runtime m, constant k and row-major B only", () => {
    expect(emitMatmul({ m: "m", n: 10, k: 512 }).body).toContain("if (m <= 4)");
    expect(emitMatmul({ m: "m", n: 10, k: 512, relaxed: true }).body).toContain("if (m <= 4)");
    expect(emitMatmul({ m: "m", n: 10, k: 512, transB: true }).body).not.toContain("if (m <= 4)");
    expect(emitMatmul({ m: "m", n: 10, k: 512, transA: true, lda: 16 }).body).not.toContain("if (m <= 4)");
    expect(emitMatmul({ m: "m", n: 10, k: "k", lda: 512 }).body).not.toContain("if (m <= 4)");
    expect(emitMatmul({ m: 1, n: 10, k: 512 }).body).not.toContain("if (m <= 4)");
  });

  it.runIf(relaxedSimdSupported())("relaxed-SIMD build: reference and blocked-path bits", async () => {
    const relaxed = await runFew(true);
    for (const c of fewCases) {
      expect(relaxed.get(c.name)!.err, c.name).toBeLessThan(1e-5);
      expect(relaxed.get(c.name)!.sameBits, c.name).toBe(true);
    }
  }, 120_000);
});

/**
 * Partial micro-tiles: rows m not a multiple of the tile height (4 plain, 2 relaxed) and columns n
 * not a multiple of the panel width (8 / 16), every combination, one runtime-m kernel per n run at
 * each m. NT kernels never take the few-row path, so m ≤ 4 exercises the blocked path's partial
 * tiles too; NN at m ≤ 4 runs gemv.ts. Rows past m must keep C's old values.
 */
const TILE_ROWS = [1, 2, 3, 4, 5, 6, 7, 13, 97];
const tileCases: Case[] = [];
for (const n of [1, 5, 8, 12, 17]) {
  tileCases.push({ name: `NN bias relu n=${n} k=11`, spec: { m: "m", n, k: 11, bias: true, activation: "relu" }, m: 0, k: 11 });
  tileCases.push({ name: `NT n=${n} k=11`, spec: { m: "m", n, k: 11, transB: true }, m: 0, k: 11 });
}
tileCases.push({ name: "NT accumulate multi-block n=17 k=600", spec: { m: "m", n: 17, k: 600, transB: true, accumulate: true }, m: 0, k: 600 });

/** Worst relative error per case over TILE_ROWS (outputs, and C past row m against its old values). */
async function runTiles(relaxed: boolean): Promise<Map<string, number>> {
  const defs = tileCases.map((c) => emitMatmul({ ...c.spec, relaxed }));
  const mod = await buildKernels(defs, { relaxed });
  const errs = new Map<string, number>();
  tileCases.forEach((c, i) => {
    let worst = 0;
    for (const rows of TILE_ROWS) {
      const cr = { ...c, m: rows }, e = extents({ ...c, m: Math.max(...TILE_ROWS) });
      const r = rng(4321 + i * 100 + rows);
      const A = r.uniform(e.a), B = r.uniform(e.b), C0 = r.uniform(e.c), bias = r.uniform(c.spec.n);
      const pa = mod.alloc(e.a, A), pb = mod.alloc(e.b, B), pc = mod.alloc(e.c, C0), pbias = mod.alloc(c.spec.n, bias);
      mod.call(i, pa, pb, pc, ...(c.spec.bias ? [pbias] : []), mod.scratch, rows);
      const out = mod.f32(pc, e.c), len = rows * c.spec.n;
      worst = Math.max(worst, relErr(out.subarray(0, len), reference(cr, A, B, C0, bias).subarray(0, len)));
      if (out.subarray(len).some((v, j) => v !== C0[len + j])) worst = Infinity;
      mod.reset();
    }
    errs.set(c.name, worst);
  });
  return errs;
}

describe("emitMatmul partial micro-tiles (m, n not multiples of the tile)", () => {
  it("plain build matches the reference and leaves rows past m untouched", async () => {
    const errs = await runTiles(false);
    for (const c of tileCases) expect(errs.get(c.name), c.name).toBeLessThan(1e-5);
  });
  it.runIf(relaxedSimdSupported())("relaxed-SIMD build matches the reference and leaves rows past m untouched", async () => {
    const errs = await runTiles(true);
    for (const c of tileCases) expect(errs.get(c.name), c.name).toBeLessThan(1e-5);
  });
});
