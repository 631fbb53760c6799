/**
 * Emitter: dense matrix product kernel, C[m,n] (=|+=) act(alpha·op(A)·op(B) + bias), optionally
 * batched over up to two nested levels. Input: a MatmulSpec with constant strides; output: one
 * KernelDef (params a, b, c, [bias], scratch, then runtime dims in order of first appearance).
 * The product itself is the blocked GEMM of gemm-core.ts; this file packs A (plain or transposed),
 * or reads a row-major A in place in one K block.
 */
import type { ActivationName } from "../frontend/graph-types.js";
import { activationNeeds } from "./activation.js";
import { block, intlit, kernelParams, locals, sizeSrc, type SizeArg } from "./code.js";
import { gemmBody, gemmPrologue, inPlaceA, packB, packedABytes, packedBFloats, roundUp, singleBlockConsts, tileShape, TRANSPOSE4, type GemmPlan } from "./gemm-core.js";
import { gemvScratchBytes, gemvSmallM } from "./gemv.js";
import type { KernelDef } from "./kernel.js";
import { smallMApplies } from "../select/rules.js";

export { smallMApplies };

/**
 * C[m,n] = act(alpha·op(A)·op(B) + bias), or with `accumulate` act(C + alpha·op(A)·op(B) + bias).
 * op(A) = Aᵀ means A is stored [k, lda]; leading dims and batch strides are in elements.
 */
export interface MatmulSpec {
  m: SizeArg; n: number; k: SizeArg;
  transA?: boolean; transB?: boolean;
  lda?: number; ldb?: number; ldc?: number;
  batch?: { count: SizeArg; strideA: number; strideB: number; strideC: number }[];
  alpha?: number;
  accumulate?: boolean;
  bias?: boolean;
  /** act(sum·scale + bias) with a per-column scale (a folded batch normalization); needs `bias`. */
  scale?: boolean;
  /** act(… + bias + residual): a tensor laid out as C (ldc) added before the activation. */
  residual?: boolean;
  activation?: ActivationName;
  relaxed?: boolean;
}

/**
 * Rows per packed A tile and the largest K block. perf-notes suggest KC ≈ 256; measured here, a
 * single 288-deep block beat two 144-deep ones by ~20% (B panel 384·32 B = 12 KB still fits L1).
 */
export const MC = 64;
export const KC_MAX = 384;
/**
 * A constant K up to this long is one K block (C written once, no partial sums read back and
 * masked in); longer K is split into balanced blocks of at most KC_MAX. Measured (issue 19):
 * matmul 512³ as one 512-deep block against two 256-deep ones 1.04× (bench/README.md, "GEMM
 * blocking"). Longer blocks for longer K were not taken: K = 784 in 2 blocks of 392 instead of 3
 * of 264 left a 1×784 product's error against the float64 reference above the tests' 1e-5.
 */
export const KC_SINGLE = 512;
/** Locals of the GEMM family's bodies (gemm-core, gemv and the packers here) end with "_". */
export const MATMUL_LOCALS = locals("emitMatmul", "suffixed");

function bad(msg: string): never {
  throw new Error(`internal: emitMatmul: ${msg}`);
}

/** K blocking: one block when K is a constant ≤ KC_SINGLE, else balanced blocks of at most KC_MAX. */
export function kBlocking(k: SizeArg): { kc: number; single: boolean } {
  if (typeof k !== "number") return { kc: KC_MAX, single: false };
  const blocks = k <= KC_SINGLE ? 1 : Math.ceil(k / KC_MAX);
  return { kc: Math.max(4, roundUp(Math.ceil(k / blocks), 4)), single: blocks === 1 };
}

/** Packs rows of a row-major A ([m, lda]) into sa_: contiguous copies. */
export function packAPlain(a: string, lda: number, rowStride: number): string {
  return [
    `for (let r_ = 0; r_ < mc_; r_++) {`,
    `  const src_ = ${a} + <usize>(((ic_ + r_) * ${intlit(lda)} + pc_) * 4);`,
    `  const dst_ = sa_ + <usize>(r_ * ${intlit(rowStride * 4)});`,
    `  let q_ = 0;`,
    `  for (; q_ + 4 <= kc_; q_ += 4) v128.store(dst_ + <usize>(q_ * 4), v128.load(src_ + <usize>(q_ * 4)));`,
    `  for (; q_ < kc_; q_++) store<f32>(dst_ + <usize>(q_ * 4), load<f32>(src_ + <usize>(q_ * 4)));`,
    `}`,
  ].join("\n");
}

/** Packs op(A) = Aᵀ (A stored [k, lda]) into sa_ with 4×4 SIMD transposes, scalar edges. */
export function packATrans(a: string, lda: number, rowStride: number): string {
  const L = lda * 4, R = rowStride * 4;
  return [
    `let r_ = 0;`,
    `for (; r_ + 4 <= mc_; r_ += 4) {`,
    `  const src_ = ${a} + <usize>((pc_ * ${intlit(lda)} + ic_ + r_) * 4);`,
    `  const dst_ = sa_ + <usize>(r_ * ${intlit(R)});`,
    `  let q_ = 0;`,
    `  for (; q_ + 4 <= kc_; q_ += 4) {`,
    `    const s_ = src_ + <usize>(q_ * ${intlit(L)});`,
    ...[0, 1, 2, 3].map((i) => `    const x${i}_ = v128.load(s_, ${intlit(i * L)});`),
    ...TRANSPOSE4.map((l) => "    " + l),
    `    const d_ = dst_ + <usize>(q_ * 4);`,
    ...[0, 1, 2, 3].map((i) => `    v128.store(d_, y${i}_, ${intlit(i * R)});`),
    `  }`,
    `  for (; q_ < kc_; q_++) {`,
    `    const s_ = src_ + <usize>(q_ * ${intlit(L)});`,
    `    const d_ = dst_ + <usize>(q_ * 4);`,
    ...[0, 1, 2, 3].map((i) => `    store<f32>(d_, load<f32>(s_, ${intlit(i * 4)}), ${intlit(i * R)});`),
    `  }`,
    `}`,
    `for (; r_ < mc_; r_++) {`,
    `  const src_ = ${a} + <usize>((pc_ * ${intlit(lda)} + ic_ + r_) * 4);`,
    `  const dst_ = sa_ + <usize>(r_ * ${intlit(R)});`,
    `  for (let q_ = 0; q_ < kc_; q_++) store<f32>(dst_ + <usize>(q_ * 4), load<f32>(src_ + <usize>(q_ * ${intlit(L)})));`,
    `}`,
  ].join("\n");
}

/** A constant leading dimension: given, or the dense default (which must itself be constant). */
function leading(given: number | undefined, dflt: SizeArg, min: SizeArg, what: string): number {
  const ld = given ?? dflt;
  if (typeof ld !== "number") bad(`${what} defaults to the runtime dim "${ld}"; pass it explicitly as a constant`);
  if (!Number.isInteger(ld) || ld < 1) bad(`${what} must be a positive integer, got ${ld}`);
  if (typeof min === "number" && ld < min) bad(`${what} = ${ld} is smaller than the row length ${min}`);
  return ld;
}

export function emitMatmul(spec: MatmulSpec): KernelDef {
  const { n } = spec;
  if (!Number.isInteger(n) || n < 1) bad(`n must be a positive integer, got ${n}`);
  const batch = spec.batch ?? [];
  if (batch.length > 2) bad(`at most 2 batch levels, got ${batch.length}`);
  const m = sizeSrc(MATMUL_LOCALS, spec.m, "m"), k = sizeSrc(MATMUL_LOCALS, spec.k, "k");
  const lda = spec.transA ? leading(spec.lda, spec.m, spec.m, "lda") : leading(spec.lda, spec.k, spec.k, "lda");
  const ldb = spec.transB ? leading(spec.ldb, spec.k, spec.k, "ldb") : leading(spec.ldb, n, n, "ldb");
  const ldc = leading(spec.ldc, n, n, "ldc");
  const act = spec.activation ?? "linear";
  const { kc, single } = kBlocking(spec.k);
  const bShared = single && batch.length > 0 && batch.every((l) => l.strideB === 0);
  const rowStride = roundUp(kc, 4);
  const { mr } = tileShape(!!spec.relaxed);
  // A row-major A in one K block is read in place (gemm-core.ts: inPlaceA); kc_ columns per staged row.
  const copyRow = [`let q_ = 0;`, `for (; q_ + 4 <= kc_; q_ += 4) v128.store(dst_ + <usize>(q_ * 4), v128.load(src_ + <usize>(q_ * 4)));`,
    `for (; q_ < kc_; q_++) store<f32>(dst_ + <usize>(q_ * 4), load<f32>(src_ + <usize>(q_ * 4)));`].join("\n");
  const inPlace = single && !spec.transA ? inPlaceA("ab_", lda, mr, copyRow) : undefined;
  const plan: GemmPlan = {
    m, k, n, kc, single, mc: MC,
    packA: inPlace?.packA ?? (spec.transA ? packATrans("ab_", lda, rowStride) : packAPlain("ab_", lda, rowStride)),
    aInPlace: inPlace?.aInPlace,
    b: { ptr: batch.length ? "bb_" : "b", ld: ldb, trans: !!spec.transB },
    c: { ptr: batch.length ? "cb_" : "c", ld: ldc },
    alpha: spec.alpha ?? 1, accumulate: !!spec.accumulate, bias: spec.bias ? "bias" : undefined,
    scale: spec.scale ? "scale" : undefined, residual: spec.residual ? "residual" : undefined, activation: act, relaxed: !!spec.relaxed, bPacked: bShared,
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64);
  const lines = [gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch")];
  if (smallMApplies(spec)) {
    lines.push(gemvSmallM({
      m, n, k: spec.k as number, lda, ldb, ldc, kc, alpha: plan.alpha, accumulate: plan.accumulate,
      bias: !!spec.bias, scale: !!spec.scale, residual: !!spec.residual, activation: act, relaxed: plan.relaxed,
    }));
  }
  if (bShared) lines.push(singleBlockConsts(plan), packB({ ...plan, b: { ...plan.b, ptr: "b" } }));
  lines.push(batchLoops(batch, gemmBody(plan)));

  const params = kernelParams(MATMUL_LOCALS, ["a", "b", "c", ...(spec.bias ? ["bias"] : []), ...(spec.scale ? ["scale"] : []), ...(spec.residual ? ["residual"] : []), "scratch"], spec.m, spec.k, ...batch.map((l) => l.count));
  const shape = `${spec.transA ? "t" : "n"}${spec.transB ? "t" : "n"} m${spec.m} n${n} k${spec.k}`;
  return {
    key: `matmul:${JSON.stringify({ ...spec, activation: act })}`,
    label: `matmul ${shape}${batch.length ? ` batch${batch.map((l) => l.count).join("x")}` : ""}${spec.scale ? " scaled" : ""}${spec.residual ? " +residual" : ""}${act !== "linear" ? " " + act : ""}`,
    params,
    body: lines.join("\n"),
    needs: activationNeeds(act),
    scratchBytes: Math.max(bBytes + (inPlace ? mr * lda * 4 : packedABytes(MC, plan)), smallMApplies(spec) ? gemvScratchBytes(n, kc) : 0),
  };
}

/** Wraps the product in the batch loops, deriving the per-batch base pointers ab_, bb_, cb_. */
function batchLoops(batch: NonNullable<MatmulSpec["batch"]>, body: string): string {
  if (batch.length === 0) return `const ab_ = a;\n${body}`;
  const off = (key: "strideA" | "strideB" | "strideC") =>
    batch.map((l, i) => `bi${i}_ * ${intlit(l[key])}`).join(" + ");
  let inner = [
    `const ab_ = a + <usize>((${off("strideA")}) * 4);`,
    `const bb_ = b + <usize>((${off("strideB")}) * 4);`,
    `const cb_ = c + <usize>((${off("strideC")}) * 4);`,
    body,
  ].join("\n");
  for (let i = batch.length - 1; i >= 0; i--) {
    inner = block(`for (let bi${i}_ = 0; bi${i}_ < ${sizeSrc(MATMUL_LOCALS, batch[i].count, "batch count")}; bi${i}_++) {`, inner);
  }
  return inner;
}
