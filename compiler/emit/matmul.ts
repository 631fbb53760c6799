/**
 * Emitter: dense matrix product kernel, C[m,n] (=|+=) act(alpha·op(A)·op(B) + bias), optionally
 * batched over up to two nested levels. Input: a MatmulSpec with constant strides; output: one
 * KernelDef (params a, b, c, [bias], scratch, then runtime dims in order of first appearance).
 * The product itself is the blocked GEMM of gemm-core.ts; this file packs A (plain or transposed).
 */
import type { ActivationName } from "../graph-types.js";
import { activationNeeds, activationScalar, activationSimd } from "./activation.js";
import { f32lit, ident, intlit } from "./code.js";
import { gemmBody, gemmPrologue, kcp, packB, packedBFloats, roundUp, singleBlockConsts, TRANSPOSE4, type GemmPlan } from "./gemm-core.js";
import type { KernelDef, KernelParam } from "./kernel.js";

export type Dim = number | string;

/**
 * C[m,n] = act(alpha·op(A)·op(B) + bias), or with `accumulate` act(C + alpha·op(A)·op(B) + bias).
 * op(A) = Aᵀ means A is stored [k, lda]; leading dims and batch strides are in elements.
 */
export interface MatmulSpec {
  m: Dim; n: number; k: Dim;
  transA?: boolean; transB?: boolean;
  lda?: number; ldb?: number; ldc?: number;
  batch?: { count: Dim; strideA: number; strideB: number; strideC: number }[];
  alpha?: number;
  accumulate?: boolean;
  bias?: boolean;
  activation?: ActivationName;
  relaxed?: boolean;
}

/**
 * Rows per packed A tile and the largest K block. perf-notes suggest KC ≈ 256; measured here, a
 * single 288-deep block beat two 144-deep ones by ~20% (B panel 384·32 B = 12 KB still fits L1).
 */
export const MC = 64;
export const KC_MAX = 384;
const RESERVED = new Set(["a", "b", "c", "bias", "scratch"]);

function bad(msg: string): never {
  throw new Error(`internal: emitMatmul: ${msg}`);
}

/** Source expression for a Dim; runtime names must be plain identifiers kiln made. */
export function dimExpr(d: Dim, what: string): string {
  if (typeof d === "number") {
    if (!Number.isInteger(d) || d < 0) bad(`${what} must be a non-negative integer, got ${d}`);
    return intlit(d);
  }
  if (RESERVED.has(d) || d.endsWith("_")) bad(`runtime dim name "${d}" collides with a kernel name`);
  return ident(d);
}

/** K blocking: one block when K is a constant ≤ KC_MAX, else balanced blocks of at most KC_MAX. */
export function kBlocking(k: Dim): { kc: number; single: boolean } {
  if (typeof k !== "number") return { kc: KC_MAX, single: false };
  const blocks = Math.max(1, Math.ceil(k / KC_MAX));
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
function leading(given: number | undefined, dflt: Dim, min: Dim, what: string): number {
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
  const m = dimExpr(spec.m, "m"), k = dimExpr(spec.k, "k");
  const lda = spec.transA ? leading(spec.lda, spec.m, spec.m, "lda") : leading(spec.lda, spec.k, spec.k, "lda");
  const ldb = spec.transB ? leading(spec.ldb, spec.k, spec.k, "ldb") : leading(spec.ldb, n, n, "ldb");
  const ldc = leading(spec.ldc, n, n, "ldc");
  const act = spec.activation ?? "linear";
  const { kc, single } = kBlocking(spec.k);
  const bShared = single && batch.length > 0 && batch.every((l) => l.strideB === 0);
  const rowStride = roundUp(kc, 4);
  const plan: GemmPlan = {
    m, k, n, kc, single, mc: MC,
    packA: spec.transA ? packATrans("ab_", lda, rowStride) : packAPlain("ab_", lda, rowStride),
    b: { ptr: batch.length ? "bb_" : "b", ld: ldb, trans: !!spec.transB },
    c: { ptr: batch.length ? "cb_" : "c", ld: ldc },
    alpha: spec.alpha ?? 1, accumulate: !!spec.accumulate, bias: spec.bias ? "bias" : undefined,
    activation: act, relaxed: !!spec.relaxed, bPacked: bShared,
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64);
  const lines = [gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch")];
  if (smallMApplies(spec)) lines.push(smallM(spec, m, lda, ldb, ldc, kc, single));
  if (bShared) lines.push(singleBlockConsts(plan), packB({ ...plan, b: { ...plan.b, ptr: "b" } }));
  lines.push(batchLoops(batch, gemmBody(plan)));

  const params: KernelParam[] = ["a", "b", "c", ...(spec.bias ? ["bias"] : []), "scratch"].map((name) => ({ name, type: "usize" as const }));
  for (const d of [spec.m, spec.k, ...batch.map((l) => l.count)]) {
    if (typeof d === "string" && !params.some((p) => p.name === d)) params.push({ name: d, type: "i32" });
  }
  const shape = `${spec.transA ? "t" : "n"}${spec.transB ? "t" : "n"} m${spec.m} n${n} k${spec.k}`;
  return {
    key: `matmul:${JSON.stringify({ ...spec, activation: act })}`,
    label: `matmul ${shape}${batch.length ? ` batch${batch.map((l) => l.count).join("x")}` : ""}${act !== "linear" ? " " + act : ""}`,
    params,
    body: lines.join("\n"),
    needs: activationNeeds(act),
    scratchBytes: bBytes + MC * kcp(plan) * 4,
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
    inner = `for (let bi${i}_ = 0; bi${i}_ < ${dimExpr(batch[i].count, "batch count")}; bi${i}_++) {\n${inner.replace(/^/gm, "  ")}\n}`;
  }
  return inner;
}

/** Rows below which packing B costs more than it saves (batch-1 inference, small thread shares). */
const SMALL_M = 4;

function smallMApplies(spec: MatmulSpec): boolean {
  return typeof spec.m === "string" && typeof spec.k === "number" && !spec.batch?.length && !spec.transA && !spec.transB && !spec.relaxed;
}

/**
 * Few rows (runtime m < 4): multiply straight from memory, no packing. Bit-identical to the
 * blocked path: the same K blocks, each summed from zero in the same order with mul then add,
 * the same epilogue (alpha, the old C masked in after the first block, bias and activation on
 * the last) — so a thread's small share of a batch gives exactly what one thread gives.
 */
function smallM(spec: MatmulSpec, m: string, lda: number, ldb: number, ldc: number, kc: number, single: boolean): string {
  const k = spec.k as number, n = spec.n, act = spec.activation ?? "linear", alpha = spec.alpha ?? 1;
  const acc = !!spec.accumulate, epiAny = !!spec.bias || act !== "linear";
  const groups = Math.floor(n / 4), tail = n % 4;
  const vecStore = (e: string, col: string): string[] => {
    let v = alpha !== 1 ? `f32x4.mul(${e}, al_)` : e;
    const old = `v128.load(cr_ + <usize>((${col}) * 4))`;
    if (single ? acc : true) v = single ? `f32x4.add(${v}, ${old})` : `f32x4.add(${v}, v128.and(${old}, om_))`;
    const withEpi = activationSimd(act, `(${spec.bias ? `f32x4.add(${v}, v128.load(bias + <usize>((${col}) * 4)))` : v})`);
    const store = (x: string) => `v128.store(cr_ + <usize>((${col}) * 4), ${x});`;
    if (single) return [store(epiAny ? withEpi : v)];
    return epiAny ? [`if (last_) ${store(withEpi)} else ${store(v)}`] : [store(v)];
  };
  const scalarStore = (e: string, col: string): string[] => {
    let v = alpha !== 1 ? `${e} * ${f32lit(alpha)}` : e;
    const old = `load<f32>(cr_ + <usize>((${col}) * 4))`;
    if (single ? acc : true) v = single ? `${v} + ${old}` : `${v} + (ao_ ? ${old} : 0)`;
    const withEpi = activationScalar(act, `(${spec.bias ? `${v} + load<f32>(bias + <usize>((${col}) * 4))` : v})`);
    const store = (x: string) => `store<f32>(cr_ + <usize>((${col}) * 4), ${x});`;
    if (single) return [store(epiAny ? withEpi : v)];
    return epiAny ? [`if (last_) ${store(withEpi)} else ${store(v)}`] : [store(v)];
  };
  const brow = (kk: string) => `b + <usize>(((pc_ + ${kk}) * ${intlit(ldb)}) * 4)`;
  const lines = [
    `if (${m} < ${intlit(SMALL_M)}) {`,
    `  for (let i_ = 0; i_ < ${m}; i_++) {`,
    `    const ar_ = a + <usize>(i_ * ${intlit(lda * 4)});`,
    `    const cr_ = c + <usize>(i_ * ${intlit(ldc * 4)});`,
    ...(single ? [`    {`, `      const pc_: i32 = 0;`, `      const kc_: i32 = ${intlit(k)};`] : [
      `    for (let pc_: i32 = 0; pc_ < ${intlit(k)}; pc_ += ${intlit(kc)}) {`,
      `      const kc_ = min<i32>(${intlit(kc)}, ${intlit(k)} - pc_);`,
      `      const last_ = pc_ + ${intlit(kc)} >= ${intlit(k)};`,
      `      const ao_ = ${acc ? "true" : "pc_ > 0"};`,
      `      const om_ = i32x4.splat(ao_ ? -1 : 0);`,
    ]),
  ];
  // Eight column groups at a time (independent add chains hide the add latency), then four,
  // then single groups, then lanes.
  const body = (cols: number, j: string) => {
    const out = [];
    for (let g = 0; g < cols; g++) out.push(`let s${g}_ = f32x4.splat(0);`);
    out.push(`for (let kk_ = 0; kk_ < kc_; kk_++) {`, `  const x_ = v128.load32_splat(ar_ + <usize>((pc_ + kk_) * 4));`, `  const br_ = ${brow("kk_")};`);
    for (let g = 0; g < cols; g++) out.push(`  s${g}_ = f32x4.add(s${g}_, f32x4.mul(x_, v128.load(br_ + <usize>((${j} + ${g * 4}) * 4))));`);
    out.push(`}`);
    for (let g = 0; g < cols; g++) out.push(...vecStore(`s${g}_`, `${j} + ${g * 4}`));
    return out;
  };
  const octs = Math.floor(groups / 8);
  if (octs) lines.push(`      for (let j_ = 0; j_ < ${intlit(octs * 32)}; j_ += 32) {`, ...body(8, "j_").map((l) => "        " + l), `      }`);
  let g0 = octs * 8;
  if (groups - g0 >= 4) {
    lines.push(`      {`, ...body(4, intlit(g0 * 4)).map((l) => "        " + l), `      }`);
    g0 += 4;
  }
  for (let g = g0; g < groups; g++) lines.push(`      {`, ...body(1, intlit(g * 4)).map((l) => "        " + l), `      }`);
  for (let t = 0; t < tail; t++) {
    const col = intlit(groups * 4 + t);
    lines.push(`      {`, `        let s_: f32 = 0;`,
      `        for (let kk_ = 0; kk_ < kc_; kk_++) s_ = s_ + load<f32>(ar_ + <usize>((pc_ + kk_) * 4)) * load<f32>(${brow("kk_")} + <usize>(${col} * 4));`,
      ...scalarStore("s_", col).map((l) => "        " + l), `      }`);
  }
  lines.push(`    }`, `  }`, `  return;`, `}`);
  return lines.join("\n");
}
