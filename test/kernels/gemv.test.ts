/**
 * The few-row path's zero skipping (gemv.ts): rows of B whose x is zero in every row of A are not
 * read. For x with 0%, 50%, 90% and 100% zeros (half of them −0), at m = 1…4, the outputs must match
 * the float64 reference and be bit-identical to the blocked path (the same kernel at m = 9, whose
 * first rows are the same A). "all rows": a zero k is zero in every row of A (skipped); "some rows":
 * one row of A keeps a nonzero x at each zero k (nothing skipped there). n ≥ 64 takes the skip
 * (n = 64…512 here, with every column remainder of the listed sweep), smaller n the dense sweeps.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitMatmul, type MatmulSpec } from "../../compiler/emit/matmul.js";
import { buildKernels, relaxedSimdSupported, relErr, rng } from "./harness.js";

interface Spec { name: string; spec: MatmulSpec & { m: "m"; k: number } }

const BLOCKED_ROWS = 9;
const ZERO_FRACTIONS = [0, 0.5, 0.9, 1];
type Mode = "all rows" | "some rows";

const specs: Spec[] = [];
const addSpec = (name: string, spec: Omit<MatmulSpec, "m"> & { k: number }) => specs.push({ name, spec: { m: "m", ...spec } });
for (const n of [1, 3, 10, 64, 130, 512]) {
  for (const k of [1, 7, 512, 784]) {
    addSpec(`${n}x${k}`, { n, k });
    addSpec(`${n}x${k} bias relu`, { n, k, bias: true, activation: "relu" });
  }
}
// Listed sweep column remainders: 2-vector steps only (136), + one vector (132), + tails 1, 3 (129, 135).
for (const n of [129, 132, 135, 136]) addSpec(`${n}x300 bias relu`, { n, k: 300, bias: true, activation: "relu" });
addSpec("accumulate + alpha multi-block 130x784", { n: 130, k: 784, accumulate: true, alpha: 0.5 });
addSpec("accumulate + bias + relu multi-block 256x520", { n: 256, k: 520, accumulate: true, bias: true, activation: "relu" });
addSpec("strided lda/ldb/ldc multi-block 131x400", { n: 131, k: 400, lda: 403, ldb: 140, ldc: 133, activation: "relu" });

const lds = (s: Spec) => ({ lda: s.spec.lda ?? s.spec.k, ldb: s.spec.ldb ?? s.spec.n, ldc: s.spec.ldc ?? s.spec.n });

/**
 * A [rows, lda] uniform in [−1, 1) with a fraction `zeros` of the k set to ±0: in all of the first
 * `m` rows, or ("some rows") in all of them but row k mod m. Rows from m on stay uniform.
 */
function inputWithZeros(s: Spec, rows: number, m: number, zeros: number, mode: Mode, seed: number): Float32Array {
  const r = rng(seed), { lda } = lds(s);
  const A = r.uniform(rows * lda);
  for (let k = 0; k < s.spec.k; k++) {
    if (r.next() >= zeros) continue;
    const zero = r.next() < 0.5 ? 0 : -0;
    for (let i = 0; i < m; i++) if (mode === "all rows" || i !== k % m) A[i * lda + k] = zero;
  }
  return A;
}

/** Float64 reference of the first m rows (the kernel's semantics: alpha, old C, bias, relu). */
function reference(s: Spec, m: number, A: Float32Array, B: Float32Array, C0: Float32Array, bias: Float32Array): Float64Array {
  const { lda, ldb, ldc } = lds(s), { n, k } = s.spec;
  const out = new Float64Array((m - 1) * ldc + n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += A[i * lda + p] * B[p * ldb + j];
      let v = (s.spec.alpha ?? 1) * acc + (s.spec.bias ? bias[j] : 0) + (s.spec.accumulate ? C0[i * ldc + j] : 0);
      if (s.spec.activation === "relu") v = Math.max(v, 0);
      out[i * ldc + j] = v;
    }
  }
  // Columns between rows (ldc > n) keep C0.
  for (let i = 0; i + 1 < m; i++) for (let j = n; j < ldc; j++) out[i * ldc + j] = C0[i * ldc + j];
  return out;
}

interface Outcome { err: number; sameBits: boolean; runs: number }

/** Every spec × zero fraction × m = 1…4 × mode: worst relative error and whether all runs matched the blocked bits. */
async function runGrid(relaxed: boolean): Promise<Map<string, Outcome>> {
  const defs = specs.map((s) => emitMatmul({ ...s.spec, relaxed }));
  const mod = await buildKernels(defs, { relaxed });
  const results = new Map<string, Outcome>();
  specs.forEach((s, idx) => {
    const { ldb, ldc } = lds(s), { n, k } = s.spec;
    const r = rng(31 + idx);
    const B = r.uniform(Math.max(1, (k - 1) * ldb + n)), bias = r.uniform(n);
    const C0 = r.uniform((BLOCKED_ROWS - 1) * ldc + n);
    const pb = mod.alloc(B.length, B), pbias = mod.alloc(n, bias);
    const run = (A: Float32Array, rows: number) => {
      const pa = mod.alloc(A.length, A), pc = mod.alloc(C0.length, C0);
      mod.call(idx, pa, pb, pc, ...(s.spec.bias ? [pbias] : []), mod.scratch, rows);
      return mod.f32(pc, C0.length).slice();
    };
    const outcome: Outcome = { err: 0, sameBits: true, runs: 0 };
    ZERO_FRACTIONS.forEach((zeros, zi) => {
      for (const mode of ["all rows", "some rows"] as Mode[]) {
        for (let m = mode === "all rows" ? 1 : 2; m <= 4; m++) {
          const A = inputWithZeros(s, BLOCKED_ROWS, m, zeros, mode, 1000 * idx + 10 * zi + m);
          const blocked = run(A, BLOCKED_ROWS), few = run(A, m);
          const len = (m - 1) * ldc + n;
          outcome.err = Math.max(outcome.err, relErr(few.subarray(0, len), reference(s, m, A, B, C0, bias)));
          // Rows past m keep C0: the kernel touched only its own rows.
          if (few.subarray(len).some((v, j) => !Object.is(v, C0[len + j]))) outcome.err = Infinity;
          const a = new Uint32Array(few.buffer, 0, len), b = new Uint32Array(blocked.buffer, 0, len);
          if (a.some((v, j) => v !== b[j])) outcome.sameBits = false;
          outcome.runs++;
        }
      }
    });
    results.set(s.name, outcome);
    mod.reset();
  });
  return results;
}

describe("few-row path: skipping zero x", () => {
  let plain: Map<string, Outcome>;
  beforeAll(async () => { plain = await runGrid(false); }, 180_000);
  for (const s of specs) {
    it(`0/50/90/100% zeros, m = 1…4: reference and blocked-path bits: ${s.name}`, () => {
      const o = plain.get(s.name)!;
      expect(o.runs).toBe(ZERO_FRACTIONS.length * 7);
      expect(o.err).toBeLessThan(1e-5);
      expect(o.sameBits).toBe(true);
    });
  }

  it("emits the skip for n ≥ 64 only", () => {
    expect(emitMatmul({ m: "m", n: 64, k: 512 }).body).toContain("ks_ + <usize>(e_ * 4)");
    expect(emitMatmul({ m: "m", n: 63, k: 512 }).body).not.toContain("ks_ + <usize>(e_ * 4)");
  });

  it("asks for scratch to hold the row list (one i32 per row of a K block)", () => {
    // n = 512, k = 784 → K blocks of 264: 4 rows of 512 sums + 264 list entries.
    expect(emitMatmul({ m: "m", n: 512, k: 784 }).scratchBytes).toBeGreaterThanOrEqual((4 * 512 + 264) * 4);
  });

  it.runIf(relaxedSimdSupported())("relaxed-SIMD build: reference and blocked-path bits", async () => {
    const relaxed = await runGrid(true);
    for (const s of specs) {
      expect(relaxed.get(s.name)!.err, s.name).toBeLessThan(1e-5);
      expect(relaxed.get(s.name)!.sameBits, s.name).toBe(true);
    }
  }, 180_000);
});

describe("few-row path: NaN and infinities with zero skipping", () => {
  const n = 130, k = 64;
  const spec: MatmulSpec = { m: "m", n, k };
  /** Runs m = 1 with 90% of x zero (the listed path) after `edit` changes A or B; returns C. */
  async function runWith(edit: (A: Float32Array, B: Float32Array, nonzeroK: number, zeroK: number) => void): Promise<Float32Array> {
    const mod = await buildKernels([emitMatmul(spec)]);
    const r = rng(99);
    const A = r.uniform(k), B = r.uniform(k * n);
    for (let p = 0; p < k; p++) if (p % 10 !== 3) A[p] = 0;
    edit(A, B, 13, 14);
    const pa = mod.alloc(k, A), pb = mod.alloc(k * n, B), pc = mod.alloc(n);
    mod.call(0, pa, pb, pc, mod.scratch, 1);
    return mod.f32(pc, n).slice();
  }

  it("a NaN weight in a row that is read gives NaN in its column (and only there)", async () => {
    const C = await runWith((_A, B, nonzeroK) => { B[nonzeroK * n + 5] = NaN; });
    expect(Number.isNaN(C[5])).toBe(true);
    expect(C.filter((v) => Number.isNaN(v)).length).toBe(1);
  });

  it("a NaN x is not skipped: every column is NaN", async () => {
    const C = await runWith((A, _B, _nz, zeroK) => { A[zeroK] = NaN; });
    expect(C.every((v) => Number.isNaN(v))).toBe(true);
  });

  it("the documented exception: an Inf weight in a skipped row (x = 0) is not read, so no 0·Inf = NaN", async () => {
    const C = await runWith((_A, B, _nz, zeroK) => { B[zeroK * n + 7] = Infinity; });
    expect(C.every((v) => Number.isFinite(v))).toBe(true);
  });
});

describe("few-row path: the dense sweep's touches of the next chunk stay inside B", () => {
  // B ends exactly at the end of memory: a touch past B's last row would trap.
  for (const [n, k] of [[512, 784], [130, 300], [10, 23]] as const) {
    it(`B flush against the end of memory, m = 1…4, dense x: ${n}x${k}`, async () => {
      const mod = await buildKernels([emitMatmul({ m: "m", n, k, bias: true, activation: "relu" })], { pages: 128 });
      const r = rng(7 + n);
      const B = r.uniform(k * n), bias = r.uniform(n);
      const pb = mod.memory.buffer.byteLength - B.length * 4;
      mod.f32(pb, B.length).set(B);
      for (let m = 1; m <= 4; m++) {
        const A = r.uniform(m * k).map((v) => v + 2); // all nonzero: the dense sweep
        const pa = mod.alloc(A.length, A), pc = mod.alloc(m * n), pbias = mod.alloc(n, bias);
        mod.call(0, pa, pb, pc, pbias, mod.scratch, m);
        const C = mod.f32(pc, m * n);
        let worst = 0;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let acc = bias[j], scale = Math.abs(bias[j]);
            for (let p = 0; p < k; p++) { acc += A[i * k + p] * B[p * n + j]; scale += Math.abs(A[i * k + p] * B[p * n + j]); }
            // Error relative to the sum of the terms' magnitudes (float32 rounding of each step).
            worst = Math.max(worst, Math.abs(C[i * n + j] - Math.max(acc, 0)) / scale);
          }
        }
        expect(worst, `m = ${m}`).toBeLessThan(1e-5);
      }
    });
  }
});
