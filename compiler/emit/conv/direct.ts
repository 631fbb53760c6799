/**
 * Direct convolution for few input channels.
 *
 * With c ≤ 4 the im2col GEMM has K = kh·kw·c ≤ 36: packing dominates and the product is short.
 * Here each block of P output pixels keeps P×V f32x4 accumulators (V output vectors of 4 filters)
 * and adds, tap by tap in (ky, kx, ci) order, splat(x)·w-row — the GEMM's k order, so the sums
 * (and with the same epilogue, the results) are bit-identical to emitConv2d. Filters are walked in
 * chunks of V vectors; padded filter counts use a zero-padded copy of w and bias in scratch.
 * Blocks whose windows lie in the image advance one x pointer per pixel by per-tap deltas; border
 * blocks test each tap and read 0 outside (as the im2col packer does).
 */
import type { ActivationName } from "../../frontend/graph-types.js";
import { directConvApplies } from "../../select/rules.js";
import { activationNeeds, activationSimd } from "../activation.js";
import { block, indent, intlit, kernelParams } from "../code.js";
import { roundUp } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { checkConv2dSpec, CONV_LOCALS, type Conv2dSpec } from "./spec.js";

/** Pooling fused after the convolution (fuse.ts; not in train_step): max over tiling ph×pw windows of act(conv). */
export interface FusedPool { ph: number; pw: number; poh: number; pow: number }

export interface DirectConvSpec extends Conv2dSpec {
  /** Pixels per block and vectors per chunk (tuning; defaults from directBlocking). */
  pixels?: number; vectors?: number;
  pool?: FusedPool;
}

/**
 * P pixels × V vectors per block: by default 2 × 4 for f ≥ 16 (8 accumulators + 4 w vectors + a
 * splat and a product in V8's 16 xmm registers; measured best of 1…6 × 2…8 on conv1), more pixels
 * when f is small. Fused pooling uses one window row (pw pixels) per block.
 */
export function directBlocking(s: Conv2dSpec, pixels?: number): { p: number; v: number } {
  const v = Math.min(Math.ceil(s.f / 4), 4);
  if (pixels !== undefined) return { p: pixels, v: Math.max(1, Math.min(v, Math.floor(8 / pixels))) };
  return { p: v >= 4 ? 2 : v === 3 ? 3 : 4, v };
}

/** Output rows/columns whose whole window lies inside the image: [lo, hi). */
function interior(n: number, k: number, d: number, st: number, pad: number, out: number): [number, number] {
  const lo = Math.min(out, Math.ceil(pad / st));
  const hi = Math.max(lo, Math.min(out, Math.floor((n - 1 - (k - 1) * d + pad) / st) + 1));
  return [lo, hi];
}

interface DirectCtx {
  s: DirectConvSpec; fp: number; taps: { ky: number; kx: number; ci: number }[];
  act: ActivationName; relaxed: boolean;
  /** Vectors per chunk for this block size. */
  v: number;
}

/** Pixel i of a block: its output row/column (oy{i}_, ox{i}_) from the image-relative pixel index expression. */
function blockPixel(c: DirectCtx, i: number, q: string): string[] {
  const s = c.s;
  return [
    `const q${i}_: i32 = ${q};`,
    `const oy${i}_: i32 = q${i}_ / ${intlit(s.ow)};`,
    `const ox${i}_: i32 = q${i}_ - oy${i}_ * ${intlit(s.ow)};`,
    `const iy${i}_: i32 = oy${i}_ * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const ix${i}_: i32 = ox${i}_ * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
  ];
}

/**
 * Splat of x at the loop's current tap for pixel i: interior pixels read at xq{i}_ (already moved
 * by the tap's delta); border pixels test the tap's position (row dy_, column dx_, channel byte co_) and read 0 outside.
 */
function tapSplat(c: DirectCtx, i: number, border: boolean): string {
  const s = c.s;
  if (!border) return `v128.load32_splat(xq${i}_)`;
  const iy = `iy${i}_ + dy_`, ix = `ix${i}_ + dx_`;
  return `f32x4.splat(<u32>(${iy}) < ${intlit(s.h)} && <u32>(${ix}) < ${intlit(s.w)} ? load<f32>(xb_ + (<usize>((${iy}) * ${intlit(s.w)} + ${ix}) * ${intlit(s.c * 4)}) + co_) : <f32>0)`;
}

/**
 * One chunk: V vectors of filters starting at byte `fo` of a packed w row (`fo` is an immediate
 * or the loop's fc_), for the block's P pixels; then `store` turns accumulators into outputs.
 * NOTE: one tap per loop iteration on purpose (as in the GEMM micro-kernel): with the taps
 * unrolled, V8 hoisted every tap's loads to the top and spilled most accumulators (~2× slower).
 * The tap table (x byte delta, row, column, channel byte) sits at tab_ in scratch.
 */
function directChunk(c: DirectCtx, P: number, V: number, fo: string, immBase: number, border: boolean, store: string): string {
  const lines: string[] = [`let wk_: usize = wp_ + <usize>(${fo});`];
  for (let i = 0; i < P; i++) for (let v = 0; v < V; v++) lines.push(`let a${i}${v}_ = f32x4.splat(0);`);
  // Interior pixels walk x by the table's per-tap deltas: loop-carried pointers stay in registers
  // (with absolute offsets V8 recomputed each pixel's base, divisions included, in every iteration).
  if (!border) for (let i = 0; i < P; i++) lines.push(`let xq${i}_ = xp${i}_;`);
  lines.push(`for (let t_: usize = tab_; t_ < tab_ + ${intlit(c.taps.length * 16)}; t_ += 16) {`);
  if (border) lines.push(`  const dy_: i32 = load<i32>(t_, 4);`, `  const dx_: i32 = load<i32>(t_, 8);`, `  const co_: usize = <usize>load<i32>(t_, 12);`);
  else lines.push(`  const d_: usize = <usize>load<i32>(t_);`, ...Array.from({ length: P }, (_, i) => `  xq${i}_ += d_;`));
  for (let v = 0; v < V; v++) lines.push(`  const w${v}_ = v128.load(wk_, ${intlit(immBase + v * 16)});`);
  for (let i = 0; i < P; i++) {
    lines.push(`  const s${i}_ = ${tapSplat(c, i, border)};`);
    for (let v = 0; v < V; v++) {
      const acc = `a${i}${v}_`;
      lines.push(c.relaxed ? `  ${acc} = f32x4.relaxed_madd(s${i}_, w${v}_, ${acc});` : `  ${acc} = f32x4.add(${acc}, f32x4.mul(s${i}_, w${v}_));`);
    }
  }
  lines.push(`  wk_ += ${intlit(c.fp * 4)};`, `}`);
  lines.push(store);
  return lines.join("\n");
}

/**
 * act(acc + bias) for accumulator a{i}{v}; the bias vector is at bq_ + `bo`. relu is written as
 * pmax(x + 0, 0): the same values as max(x, 0) (x + 0 turns −0 into +0, pmax keeps a NaN x) in 2
 * instructions instead of the ~8 that V8 emits for f32x4.max's NaN and ±0 rules.
 */
function epilogue(c: DirectCtx, i: number, v: number, bo: number, lanes = 4): string {
  let e = `a${i}${v}_`;
  if (c.s.scale) e = `f32x4.mul(${e}, v128.load(sq_, ${intlit(bo)}))`;
  if (c.s.bias) e = `f32x4.add(${e}, v128.load(bq_, ${intlit(bo)}))`;
  if (c.s.residual) e = `f32x4.add(${e}, ${loadLanes("rq_", bo, lanes)})`;
  if (c.act === "relu") return `f32x4.pmax(f32x4.add(${e}, f32x4.splat(0)), f32x4.splat(0))`;
  return activationSimd(c.act, `(${e})`);
}

/**
 * The pool fold max(m, e). After relu every value is +0…+Inf or NaN, and for those unsigned
 * integer order is float order with every NaN above (1 instruction); otherwise f32x4.max.
 */
function poolMax(c: DirectCtx, m: string, e: string): string {
  return c.act === "relu" ? `i32x4.max_u(${m}, ${e})` : `f32x4.max(${m}, ${e})`;
}

/** Stores lanes [0, lanes) of v128 expression `e` at ptr + imm (whole vector when lanes = 4). */
function storeLanes(ptr: string, imm: number, e: string, lanes: number): string {
  if (lanes === 4) return `v128.store(${ptr}, ${e}, ${intlit(imm)});`;
  const out = [`{`, `  const e_ = ${e};`];
  for (let l = 0; l < lanes; l++) out.push(`  store<f32>(${ptr}, f32x4.extract_lane(e_, ${l}), ${intlit(imm + l * 4)});`);
  out.push(`}`);
  return out.join("\n");
}

/** Plain store: each pixel's V vectors to its y row (yp{i}_) at the chunk's byte offset. */
function storePixels(c: DirectCtx, P: number, V: number, fo: string, immBase: number, lanes: number[]): string {
  const lines = [`const bq_: usize = bp_ + <usize>(${fo});`, ...(c.s.scale ? [`const sq_: usize = sp_ + <usize>(${fo});`] : [])];
  for (let i = 0; i < P; i++) {
    lines.push(`{`, `  const yq_: usize = yp${i}_ + <usize>(${fo});`, ...(c.s.residual ? [`  const rq_: usize = residual + (yq_ - y);`] : []));
    for (let v = 0; v < V; v++) {
      lines.push(storeLanes("yq_", immBase + v * 16, epilogue(c, i, v, immBase + v * 16, lanes[v]!), lanes[v]!).replace(/^/gm, "  "));
    }
    lines.push(`}`);
  }
  return lines.join("\n");
}

/** Loads lanes [0, lanes) at ptr + imm as a v128 (other lanes 0), without reading past them. */
function loadLanes(ptr: string, imm: number, lanes: number): string {
  if (lanes === 4) return `v128.load(${ptr}, ${intlit(imm)})`;
  let e = "f32x4.splat(0)";
  for (let l = 0; l < lanes; l++) e = `f32x4.replace_lane(${e}, ${l}, load<f32>(${ptr}, ${intlit(imm + l * 4)}))`;
  return e;
}

/**
 * Pooled store for one window row (the block's pixels, left to right): folds max(m, act(p_i)) —
 * the pool kernel's order, so the fused result equals conv then pool bit for bit. Row r_ = 0
 * starts the fold; later rows continue from the partial max stored at yp_ (the pooled pixel).
 */
function storePooled(c: DirectCtx, P: number, V: number, fo: string, immBase: number, lanes: number[]): string {
  const lines = [`const bq_: usize = bp_ + <usize>(${fo});`, ...(c.s.scale ? [`const sq_: usize = sp_ + <usize>(${fo});`] : []), `const yq_: usize = yp_ + <usize>(${fo});`];
  for (let v = 0; v < V; v++) {
    const bo = immBase + v * 16;
    lines.push(`{`, `  let m_ = ${epilogue(c, 0, v, bo)};`, `  if (r_ > 0) m_ = ${poolMax(c, loadLanes("yq_", bo, lanes[v]!), "m_")};`);
    for (let i = 1; i < P; i++) lines.push(`  m_ = ${poolMax(c, "m_", epilogue(c, i, v, bo))};`);
    lines.push(storeLanes("yq_", bo, "m_", lanes[v]!).replace(/^/gm, "  "), `}`);
  }
  return lines.join("\n");
}

/**
 * All filter chunks of one block: a loop over the full V-vector chunks (whole vectors only), then
 * one tail chunk holding the remaining vectors (including a partial last vector when f % 4 ≠ 0).
 */
function blockChunks(c: DirectCtx, P: number, V: number, border: boolean, pooled: boolean): string {
  const f = c.s.f, full = Math.floor(Math.floor(f / 4) / V), tailVecs = Math.ceil(f / 4) - full * V;
  const store = pooled ? storePooled : storePixels;
  const out: string[] = [];
  if (full > 0) {
    const lanes = new Array<number>(V).fill(4);
    const body = directChunk(c, P, V, "fc_", 0, border, store(c, P, V, "fc_", 0, lanes));
    out.push(full === 1 ? `{\nconst fc_: i32 = 0;\n${body}\n}` : `for (let fc_: i32 = 0; fc_ < ${intlit(full * V * 16)}; fc_ += ${intlit(V * 16)}) {\n${body.replace(/^/gm, "  ")}\n}`);
  }
  if (tailVecs > 0) {
    const base = full * V * 16;
    const lanes = Array.from({ length: tailVecs }, (_, v) => Math.min(4, f - (full * V + v) * 4));
    out.push(`{\n${directChunk(c, P, tailVecs, "0", base, border, store(c, P, tailVecs, "0", base, lanes))}\n}`);
  }
  return out.join("\n");
}

/** Pointers of the block's pixels: xp{i}_ (window origin in x, interior blocks) and, unpooled, yp{i}_. */
function pixelPointers(c: DirectCtx, P: number, border: boolean, pooled: boolean): string[] {
  const s = c.s, lines: string[] = [];
  for (let i = 0; i < P; i++) {
    if (!border) lines.push(`const xp${i}_: usize = xb_ + (<usize>((iy${i}_ * ${intlit(s.w)} + ix${i}_) * ${intlit(s.c)}) << 2);`);
    if (!pooled) lines.push(`const yp${i}_: usize = yb_ + (<usize>(q${i}_ * ${intlit(s.f)}) << 2);`);
  }
  return lines;
}

/** `if (all pixels interior) {fast} else {border}`, or just the fast code when no window touches padding. */
function interiorSplit(c: DirectCtx, P: number, pooled: boolean): string {
  const s = c.s;
  const [y0, y1] = interior(s.h, s.kh, s.dh, s.sh, s.padTop, s.oh);
  const [x0, x1] = interior(s.w, s.kw, s.dw, s.sw, s.padLeft, s.ow);
  const fast = [...pixelPointers(c, P, false, pooled), blockChunks(c, P, c.v, false, pooled)].join("\n");
  if (y0 === 0 && y1 === s.oh && x0 === 0 && x1 === s.ow) return fast;
  const conds = Array.from({ length: P }, (_, i) =>
    `oy${i}_ >= ${intlit(y0)} && oy${i}_ < ${intlit(y1)} && ox${i}_ >= ${intlit(x0)} && ox${i}_ < ${intlit(x1)}`);
  const border = [...pixelPointers(c, P, true, pooled), blockChunks(c, P, c.v, true, pooled)].join("\n");
  return block(`if (${conds.join(" && ")}) {`, fast, block("} else {", border));
}

/** Byte offset of a tap's x element from the window origin. */
const xOffset = (s: Conv2dSpec, t: DirectCtx["taps"][number]): number => ((t.ky * s.dh * s.w + t.kx * s.dw) * s.c + t.ci) * 4;

/**
 * Scratch: the tap table at tab_ (per tap, (ky, kx, ci) order: x byte offset from the previous
 * tap's, row offset, column offset, channel byte), then — when f % 4 ≠ 0 — w and bias rows
 * padded to fp floats (so every vector load stays in bounds).
 */
function directScratch(s: DirectConvSpec, taps: DirectCtx["taps"], fp: number): { code: string; bytes: number } {
  const K = taps.length, tabBytes = roundUp(K * 16, 64);
  const table = taps.flatMap((t, k) => {
    const dy = t.ky * s.dh, dx = t.kx * s.dw;
    const prev = k === 0 ? 0 : xOffset(s, taps[k - 1]!);
    return [xOffset(s, t) - prev, dy, dx, t.ci * 4].map((v, j) => `store<i32>(tab_, ${intlit(v)}, ${intlit(k * 16 + j * 4)});`);
  });
  const lines = [`const tab_: usize = scratch;`, ...table];
  if (fp === s.f) {
    lines.push(`const wp_: usize = w;`, `const bp_: usize = ${s.bias ? "bias" : "0"};`, ...(s.scale ? [`const sp_: usize = scale;`] : []));
    return { code: lines.join("\n"), bytes: tabBytes };
  }
  const wBytes = roundUp(K * fp * 4, 64);
  // A loop, not a line per filter: the source stays the same size whatever `filters` is.
  const row = (dst: string, src: string) => [
    `memory.copy(${dst}, ${src}, ${intlit(s.f * 4)});`,
    `memory.fill(${dst} + ${intlit(s.f * 4)}, 0, ${intlit((fp - s.f) * 4)});`,
  ].join("\n");
  lines.push(
    `const wp_: usize = scratch + ${intlit(tabBytes)};`,
    `const bp_: usize = scratch + ${intlit(tabBytes + wBytes)};`,
    `for (let k_: i32 = 0; k_ < ${intlit(K)}; k_++) {`,
    `  const d_: usize = wp_ + <usize>(k_ * ${intlit(fp * 4)});`,
    `  const s_: usize = w + <usize>(k_ * ${intlit(s.f * 4)});`,
    row("d_", "s_").replace(/^/gm, "  "),
    `}`,
    ...(s.bias ? [row("bp_", "bias")] : []),
    ...(s.scale ? [`const sp_: usize = bp_ + ${intlit(roundUp(fp * 4, 64))};`, row("sp_", "scale")] : []),
  );
  return { code: lines.join("\n"), bytes: tabBytes + wBytes + roundUp(fp * 4, 64) * (s.scale ? 2 : 1) };
}

/**
 * Direct forward convolution for c ≤ 4 (see the section comment): y[n,oh,ow,f] = act(conv + bias),
 * or with `pool` the max-pooled y[n,poh,pow,f]. Params x, w, y, [bias], scratch, n.
 */
export function emitConv2dDirect(spec: DirectConvSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dDirect");
  if (!directConvApplies(spec) || spec.accumulate) throw new Error("internal: emitConv2dDirect: needs c ≤ 4, kh·kw·c ≤ 36 and no accumulate");
  const act = spec.activation ?? "linear", pool = spec.pool;
  const fp = roundUp(spec.f, 4);
  const taps: DirectCtx["taps"] = [];
  for (let ky = 0; ky < spec.kh; ky++) for (let kx = 0; kx < spec.kw; kx++) for (let ci = 0; ci < spec.c; ci++) taps.push({ ky, kx, ci });
  const ctx = (v: number): DirectCtx => ({ s: spec, fp, taps, act, relaxed: !!spec.relaxed, v });
  const weights = directScratch(spec, taps, fp);
  const xImg = spec.h * spec.w * spec.c * 4;
  let loops: string;
  if (pool) {
    if (spec.residual) throw new Error("internal: emitConv2dDirect: a residual with a fused pool");
    if (pool.poh * pool.ph > spec.oh || pool.pow * pool.pw > spec.ow) throw new Error("internal: emitConv2dDirect: pooling windows past the conv output");
    const P = pool.pw, c = ctx(spec.vectors ?? directBlocking(spec, P).v);
    loops = [
      `for (let py_: i32 = 0; py_ < ${intlit(pool.poh)}; py_++) {`,
      `  for (let px_: i32 = 0; px_ < ${intlit(pool.pow)}; px_++) {`,
      `    const yp_: usize = yb_ + (<usize>((py_ * ${intlit(pool.pow)} + px_) * ${intlit(spec.f)}) << 2);`,
      ...Array.from({ length: pool.ph }, (_, r) => [
        `    {`,
        `      const r_: i32 = ${intlit(r)};`,
        ...Array.from({ length: P }, (_, i) => blockPixel(c, i, `(py_ * ${intlit(pool.ph)} + r_) * ${intlit(spec.ow)} + px_ * ${intlit(pool.pw)} + ${intlit(i)}`)).flat().map((l) => "      " + l),
        indent(interiorSplit(c, P, true), 3),
        `    }`]).flat(),
      `  }`,
      `}`,
    ].join("\n");
  } else {
    const { p: P0, v } = directBlocking(spec, spec.pixels);
    const ohw = spec.oh * spec.ow, P = Math.min(P0, ohw), R = ohw % P, c = ctx(spec.vectors ?? v);
    // The last R pixels (fewer than a block) form one smaller block with the same chunks.
    const block = (Pb: number, from: string) =>
      [...Array.from({ length: Pb }, (_, i) => blockPixel(c, i, `${from} + ${intlit(i)}`)).flat(), interiorSplit(c, Pb, false)].join("\n");
    loops = [
      `for (let p_: i32 = 0; p_ < ${intlit(ohw - R)}; p_ += ${intlit(P)}) {`,
      indent(block(P, "p_")),
      `}`,
      ...(R > 0 ? [`{`, indent(block(R, intlit(ohw - R))), `}`] : []),
    ].join("\n");
  }
  const yImg = (pool ? pool.poh * pool.pow : spec.oh * spec.ow) * spec.f * 4;
  const body = [
    weights.code,
    `for (let b_: i32 = 0; b_ < n; b_++) {`,
    `  const xb_: usize = x + <usize>b_ * ${intlit(xImg)};`,
    `  const yb_: usize = y + <usize>b_ * ${intlit(yImg)};`,
    indent(loops),
    `}`,
  ].join("\n");
  const { pixels, vectors, ...keySpec } = spec;
  const tag = pool ? ` maxpool ${pool.ph}x${pool.pw}` : "";
  return {
    key: `conv2d_direct:${JSON.stringify({ ...keySpec, activation: act, pixels, vectors })}`,
    label: `conv2d direct ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}${spec.scale ? " scaled" : ""}${spec.residual ? " +residual" : ""}${act !== "linear" ? " " + act : ""}${tag}`,
    params: kernelParams(CONV_LOCALS, ["x", "w", "y", ...(spec.bias ? ["bias"] : []), ...(spec.scale ? ["scale"] : []), ...(spec.residual ? ["residual"] : []), "scratch"], "n"),
    body,
    needs: activationNeeds(act),
    scratchBytes: weights.bytes,
  };
}
