/**
 * Emit stage: 2-D max / average pooling, forward and backward, NHWC (spec §2 padding rules).
 * x[n,h,w,c] → y[n,oh,ow,c]; every size, stride and pad is a compile-time constant, only the batch
 * `n` arrives at run time. SIMD runs across channels (the innermost axis), a scalar tail handles
 * c % 4. Windows are clamped to the real image, so padding never takes part: max pooling behaves
 * as if padded with −∞, average pooling divides by the count of real elements in each window.
 */
import { block, f32lit, indent, intlit, kernelParams, locals } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { bare, SCALAR, SIMD, type Ops } from "./ops.js";

export interface Pool2dSpec {
  kind: "max" | "avg";
  h: number; w: number; c: number;
  /** Pool size. */
  ph: number; pw: number;
  /** Strides. */
  sh: number; sw: number;
  /** Padding before (top/left); the rest is implied by oh/ow. */
  padTop: number; padLeft: number;
  oh: number; ow: number;
  /**
   * Gradient of max pooling with tiling windows only: multiply dx by the relu derivative of x
   * (x > 0 ? 1 : 0), the elementwise kernel fuse.ts folds in after a relu'd pool input.
   */
  reluGrad?: boolean;
}

/** Every name the bodies declare (plain names); v{i} and m{i} count window taps (≤ 16 when unrolled). */
export const POOL_LOCALS = locals("emitPool2d", "listed", [
  "acc", "b", "bi", "bv", "ch", "cnt", "dxb", "dxw", "dxwc", "dyp", "dypc", "e", "g", "ix", "ix0", "ix1", "iy", "iy0", "iy1",
  "m", "ob", "ox", "oy", "p", "v", "xb", "xw", "xwc", "yp", "ypc",
  ...Array.from({ length: 16 }, (_, i) => [`v${i}`, `m${i}`]).flat(),
]);

/** y = pool(x). Params: x, y (usize), n (i32 batch). */
export function emitPool2d(s: Pool2dSpec): KernelDef {
  check(s);
  const max = s.kind === "max";
  /** One channel group over the clamped window. */
  const group = (o: Ops): string => {
    const init = max ? o.k(-Infinity) : o === SIMD ? o.splat("0") : o.k(0);
    const v = o.load(`xb + (<usize>((iy * ${intlit(s.w)} + ix) * ${intlit(s.c)} + ch) << 2)`);
    return `let acc${typed(o)} = ${init};
${windowLoop(`const v = ${v};\nacc = ${bare(max ? o.max("acc", "v") : o.add("acc", "v"))};`)}
${o.store("yp + (<usize>ch << 2)", max ? "acc" : bare(o.div("acc", o.splat("cnt"))))}`;
  };
  const general = channelLoops(s.c, group(SIMD), group(SCALAR));
  const inner = unrollable(s) ? block(`if (${FULL_WINDOW(s)}) {`, fullWindowForward(s), block("} else {", general)) : general;
  return kernel(s, "fwd", ["x", "y"], outerLoops(s, "y", inner));
}

/**
 * dx = ∂y/∂x · dy. Params: x, dy, dx (usize), n (i32). Max pooling recomputes the argmax from x;
 * the FIRST maximal element in row-major window order gets the gradient (strict `>`, so a NaN
 * wins only as a window's first element). Average pooling spreads dy / count over the real
 * elements (x is not read). Every written value is `0 + share`, as if dx were zeroed first.
 *
 * Overlapping windows (stride < pool) or gaps (stride > pool): dx is zeroed, then every window adds
 * its share. Tiling windows (pool = stride, the common case) write each dx element exactly once:
 * full windows store their cells directly, clamped border windows zero their cells and add, and the
 * rows/columns no window covers (valid padding's remainder) are zeroed.
 */
export function emitPool2dGrad(s: Pool2dSpec): KernelDef {
  check(s);
  const scatter = s.kind === "max" ? maxGradChannels(s) : avgGradChannels(s);
  if (!tiling(s)) {
    if (s.reluGrad) throw new Error("internal: reluGrad needs max pooling with tiling windows");
    const body = `memory.fill(dx, 0, <usize>n * ${intlit(s.h * s.w * s.c * 4)});
${outerLoops(s, "dy", scatter)}`;
    return kernel(s, "grad", ["x", "dy", "dx"], body);
  }
  if (s.reluGrad && s.kind !== "max") throw new Error("internal: reluGrad needs max pooling with tiling windows");
  const clamped = `${windowLoop(`memory.fill(dxb + (<usize>((iy * ${intlit(s.w)} + ix) * ${intlit(s.c)}) << 2), 0, ${intlit(s.c * 4)});`)}\n${scatter}${s.reluGrad ? "\n" + reluMaskWindow(s) : ""}`;
  const inner = unrollable(s) ? block(`if (${FULL_WINDOW(s)}) {`, fullWindowGrad(s), block("} else {", clamped)) : clamped;
  return kernel(s, "grad", ["x", "dy", "dx"], outerLoops(s, "dy", inner, uncoveredZero(s)));
}

/** Windows tile the image: no overlap and no gaps (pool = stride on both axes). */
const tiling = (s: Pool2dSpec): boolean => s.ph === s.sh && s.pw === s.sw;

/** Full windows get straight-line code with immediate offsets (up to 16 taps). */
const unrollable = (s: Pool2dSpec): boolean => s.ph * s.pw <= 16;

/** Is the current window entirely inside the image (not clamped by padding)? */
const FULL_WINDOW = (s: Pool2dSpec): string => `iy1 - iy0 == ${intlit(s.ph)} && ix1 - ix0 == ${intlit(s.pw)}`;

/** Byte offsets of the window taps from the window's first element, row-major (the tie order). */
function tapOffsets(s: Pool2dSpec): number[] {
  const out: number[] = [];
  for (let ky = 0; ky < s.ph; ky++) for (let kx = 0; kx < s.pw; kx++) out.push((ky * s.w + kx) * s.c * 4);
  return out;
}

/** Window base pointer(s) of a full window: `name` = base + (iy0, ix0) element. */
function windowBase(s: Pool2dSpec, name: string, base: string): string {
  return `const ${name}: usize = ${base} + (<usize>((iy0 * ${intlit(s.w)} + ix0) * ${intlit(s.c)}) << 2);`;
}

/**
 * Per channel group (4 lanes at byte `o`, or 1 lane): `vec(o)` / `sca(o)` with immediate offsets.
 * Channel groups are unrolled up to 64 channels, else a loop advances the bases `ptrs` by 16 bytes.
 */
function unrolledChannels(s: Pool2dSpec, ptrs: string[], vec: Group, sca: Group): string {
  const c4 = Math.floor(s.c / 4) * 4, parts: string[] = [];
  if (s.c <= 64) {
    for (let ch = 0; ch < c4; ch += 4) parts.push(block("{", vec(ch * 4, "")));
  } else {
    const at = ptrs.map((p) => `const ${p}c: usize = ${p} + <usize>(ch << 2);`).join("\n");
    parts.push(block(`for (let ch: i32 = 0; ch < ${intlit(c4)}; ch += 4) {`, [at, vec(0, "c")]));
  }
  for (let ch = c4; ch < s.c; ch++) parts.push(block("{", sca(ch * 4, "")));
  return parts.join("\n");
}

/** Code for one channel group at byte offset `o`; pointer names carry the suffix `p`. */
type Group = (o: number, p: string) => string;

/** The type annotation of a declared value: vector locals are declared untyped, scalar ones as f32. */
const typed = (o: Ops): string => (o === SIMD ? "" : ": f32");

/** Forward over a full window: every tap a load at an immediate offset; max starts from the first tap. */
function fullWindowForward(s: Pool2dSpec): string {
  const taps = tapOffsets(s), max = s.kind === "max";
  const cnt = f32lit(s.ph * s.pw);
  const group = (o: Ops): Group => (off, p) => {
    const tap = (t: number) => o.load(`xw${p}`, off + t);
    const lines = max
      ? [`let acc = ${tap(taps[0]!)};`, ...taps.slice(1).map((t) => `acc = ${o.max("acc", tap(t))};`)]
      : [`let acc${typed(o)} = ${o === SIMD ? o.splat("0") : "0"};`, ...taps.map((t) => `acc = ${bare(o.add("acc", tap(t)))};`)];
    return [...lines, o.store(`yp${p}`, max ? "acc" : bare(o.div("acc", o.splat(cnt))), off)].join("\n");
  };
  return [windowBase(s, "xw", "xb"), unrolledChannels(s, ["xw", "yp"], group(SIMD), group(SCALAR))].join("\n");
}

/**
 * Gradient over a full tiling window: each cell stored once. Max: the running best is tracked as
 * in the scatter path (v > best, earlier wins ties); the cell that gets dy is then the first cell
 * equal to that best — the same cell, since a later cell equal to the running best is never taken
 * — or the first cell when it is NaN (then best is that NaN).
 */
function fullWindowGrad(s: Pool2dSpec): string {
  const taps = tapOffsets(s), T = taps.length;
  let vec: Group, sca: Group;
  if (s.kind === "max") {
    vec = (o, p) => [
      ...taps.map((t, i) => `const v${i} = v128.load(xw${p}, ${intlit(o + t)});`),
      `let bv = v0;`,
      ...taps.slice(1).map((_, j) => `bv = v128.bitselect(v${j + 1}, bv, f32x4.gt(v${j + 1}, bv));`),
      `const g = f32x4.add(f32x4.splat(0), v128.load(dyp${p}, ${intlit(o)}));`,
      `let m = v128.or(f32x4.eq(v0, bv), f32x4.ne(v0, v0));`,
      `v128.store(dxw${p}, ${relu4(s, "v0", "v128.and(g, m)")}, ${intlit(o + taps[0]!)});`,
      ...taps.slice(1).flatMap((t, j) => {
        const i = j + 1;
        const lines = [`const m${i} = v128.andnot(f32x4.eq(v${i}, bv), m);`, `v128.store(dxw${p}, ${relu4(s, `v${i}`, `v128.and(g, m${i})`)}, ${intlit(o + t)});`];
        if (i < T - 1) lines.push(`m = v128.or(m, m${i});`);
        return lines;
      }),
    ].join("\n");
    sca = (o, p) => [
      ...taps.map((t, i) => `const v${i} = load<f32>(xw${p}, ${intlit(o + t)});`),
      `let bv = v0;`,
      `let bi: i32 = 0;`,
      ...taps.slice(1).map((_, j) => `if (v${j + 1} > bv) { bv = v${j + 1}; bi = ${intlit(j + 1)}; }`),
      `const g: f32 = <f32>0 + load<f32>(dyp${p}, ${intlit(o)});`,
      ...taps.map((t, i) => `store<f32>(dxw${p}, ${relu1(s, `v${i}`, `select<f32>(g, 0, bi == ${intlit(i)})`)}, ${intlit(o + t)});`),
    ].join("\n");
  } else {
    const cnt = f32lit(s.ph * s.pw);
    vec = (o, p) => [
      `const g = f32x4.add(f32x4.splat(0), f32x4.div(v128.load(dyp${p}, ${intlit(o)}), f32x4.splat(${cnt})));`,
      ...taps.map((t) => `v128.store(dxw${p}, g, ${intlit(o + t)});`),
    ].join("\n");
    sca = (o, p) => [
      `const g: f32 = <f32>0 + load<f32>(dyp${p}, ${intlit(o)}) / ${cnt};`,
      ...taps.map((t) => `store<f32>(dxw${p}, g, ${intlit(o + t)});`),
    ].join("\n");
  }
  return [windowBase(s, "xw", "xb"), windowBase(s, "dxw", "dxb"), unrolledChannels(s, ["xw", "dxw", "dyp"], vec, sca)].join("\n");
}

/** reluGrad: (x > 0 ? 1 : 0) · g, as the elementwise kernel computes it (so the same bits). */
function relu4(s: Pool2dSpec, x: string, g: string): string {
  return s.reluGrad ? `f32x4.mul(v128.bitselect(f32x4.splat(1), f32x4.splat(0), f32x4.gt(${x}, f32x4.splat(0))), ${g})` : g;
}
function relu1(s: Pool2dSpec, x: string, g: string): string {
  return s.reluGrad ? `select<f32>(1, 0, ${x} > 0) * ${g}` : g;
}
const relu = (o: Ops, s: Pool2dSpec, x: string, g: string): string => (o === SIMD ? relu4 : relu1)(s, x, g);

/** reluGrad after a clamped window's scatter: dx = (x > 0 ? 1 : 0) · dx over its cells. */
function reluMaskWindow(s: Pool2dSpec): string {
  const at = `(<usize>((iy * ${intlit(s.w)} + ix) * ${intlit(s.c)} + ch) << 2)`;
  const group = (o: Ops): string => `const p = dxb + ${at};\n${o.store("p", relu(o, s, o.load(`xb + ${at}`), o.load("p")))}`;
  return windowLoop(channelLoops(s.c, group(SIMD), group(SCALAR)));
}

/** Zeroes the bottom rows and right columns of one image that no tiling window covers. */
function uncoveredZero(s: Pool2dSpec): string {
  const rowEnd = Math.min(s.h, s.oh * s.sh - s.padTop), colEnd = Math.min(s.w, s.ow * s.sw - s.padLeft);
  const lines: string[] = [];
  if (rowEnd < s.h) {
    lines.push(`memory.fill(dxb + ${intlit(rowEnd * s.w * s.c * 4)}, 0, ${intlit((s.h - rowEnd) * s.w * s.c * 4)});`);
  }
  if (colEnd < s.w) {
    lines.push(`for (let iy: i32 = 0; iy < ${intlit(rowEnd)}; iy++) {`,
      `  memory.fill(dxb + (<usize>((iy * ${intlit(s.w)} + ${intlit(colEnd)}) * ${intlit(s.c)}) << 2), 0, ${intlit((s.w - colEnd) * s.c * 4)});`,
      `}`);
  }
  return lines.join("\n");
}

function maxGradChannels(s: Pool2dSpec): string {
  const at = (e: string): string => `(iy * ${intlit(s.w)} + ix) * ${intlit(s.c)} + ${e}`;
  const first = `(iy0 * ${intlit(s.w)} + ix0) * ${intlit(s.c)} + ch`;
  // Vector: track the best value and its element index per lane; bitselect keeps the earlier one on ties.
  const lanes = [0, 1, 2, 3].map((k) =>
    `{ const p = dxb + (<usize>(i32x4.extract_lane(bi, ${k}) + ${k}) << 2); store<f32>(p, load<f32>(p) + f32x4.extract_lane(g, ${k})); }`);
  const vec = `let bv = v128.load(xb + (<usize>(${first}) << 2));
let bi = i32x4.splat(${first});
${windowLoop(`const e: i32 = ${at("ch")};
const v = v128.load(xb + (<usize>e << 2));
const m = f32x4.gt(v, bv);
bv = v128.bitselect(v, bv, m);
bi = v128.bitselect(i32x4.splat(e), bi, m);`)}
const g = v128.load(dyp + (<usize>ch << 2));
${lanes.join("\n")}`;
  const sca = `let bv = load<f32>(xb + (<usize>(${first}) << 2));
let bi: i32 = ${first};
${windowLoop(`const e: i32 = ${at("ch")};
const v = load<f32>(xb + (<usize>e << 2));
if (v > bv) { bv = v; bi = e; }`)}
const p = dxb + (<usize>bi << 2);
store<f32>(p, load<f32>(p) + load<f32>(dyp + (<usize>ch << 2)));`;
  return channelLoops(s.c, vec, sca);
}

function avgGradChannels(s: Pool2dSpec): string {
  const addr = `dxb + (<usize>((iy * ${intlit(s.w)} + ix) * ${intlit(s.c)} + ch) << 2)`;
  const group = (o: Ops): string => `const g${typed(o)} = ${bare(o.div(o.load("dyp + (<usize>ch << 2)"), o.splat("cnt")))};
${windowLoop(`const p = ${addr};\n${o.store("p", bare(o.add(o.load("p"), "g")))}`)}`;
  return channelLoops(s.c, group(SIMD), group(SCALAR));
}

/** Batch and output-pixel loops; inside: xb/dxb (image bases), yp (or dyp) and the clamped window. */
function outerLoops(s: Pool2dSpec, out: "y" | "dy", inner: string, perImage = ""): string {
  const xImg = intlit(s.h * s.w * s.c * 4), yImg = intlit(s.oh * s.ow * s.c * 4);
  const bases = out === "y"
    ? `const xb: usize = x + <usize>b * ${xImg};\nconst ob: usize = y + <usize>b * ${yImg};`
    : `const xb: usize = x + <usize>b * ${xImg};\nconst dxb: usize = dx + <usize>b * ${xImg};\nconst ob: usize = dy + <usize>b * ${yImg};`;
  const px = out === "y" ? "yp" : "dyp";
  return `for (let b: i32 = 0; b < n; b++) {
${indent(bases)}
  for (let oy: i32 = 0; oy < ${intlit(s.oh)}; oy++) {
    const iy0: i32 = max<i32>(oy * ${intlit(s.sh)} - ${intlit(s.padTop)}, 0);
    const iy1: i32 = min<i32>(oy * ${intlit(s.sh)} - ${intlit(s.padTop)} + ${intlit(s.ph)}, ${intlit(s.h)});
    for (let ox: i32 = 0; ox < ${intlit(s.ow)}; ox++) {
      const ix0: i32 = max<i32>(ox * ${intlit(s.sw)} - ${intlit(s.padLeft)}, 0);
      const ix1: i32 = min<i32>(ox * ${intlit(s.sw)} - ${intlit(s.padLeft)} + ${intlit(s.pw)}, ${intlit(s.w)});
      const cnt: f32 = <f32>((iy1 - iy0) * (ix1 - ix0));
      const ${px}: usize = ob + (<usize>((oy * ${intlit(s.ow)} + ox) * ${intlit(s.c)}) << 2);
${indent(inner, 3)}
    }
  }${perImage ? "\n" + indent(perImage) : ""}
}`;
}

/** Channel loop: `vec` per 4 channels while 4 remain, `sca` for the rest (both see `ch`). */
function channelLoops(c: number, vec: string, sca: string): string {
  const parts = ["let ch: i32 = 0;"];
  if (c >= 4) parts.push(block(`for (; ch + 4 <= ${intlit(c)}; ch += 4) {`, vec));
  if (c % 4 !== 0) parts.push(block(`for (; ch < ${intlit(c)}; ch++) {`, sca));
  return parts.join("\n");
}

/** Row-major walk over the clamped window (this order defines "first" for ties). */
function windowLoop(inner: string): string {
  return block("for (let iy: i32 = iy0; iy < iy1; iy++) {", block("for (let ix: i32 = ix0; ix < ix1; ix++) {", inner));
}

function kernel(s: Pool2dSpec, dir: "fwd" | "grad", tensors: string[], body: string): KernelDef {
  const dims = [s.h, s.w, s.c, s.ph, s.pw, s.sh, s.sw, s.padTop, s.padLeft, s.oh, s.ow].join(",");
  const relu = s.reluGrad ? ":relu" : "";
  return {
    key: `pool2d:${s.kind}:${dir}${relu}:${dims}`,
    label: `${s.kind}pool2d${dir === "grad" ? " grad" : ""} ${s.h}x${s.w}x${s.c} pool ${s.ph}x${s.pw} stride ${s.sh}x${s.sw}${s.reluGrad ? " x relu grad" : ""}`,
    params: kernelParams(POOL_LOCALS, tensors, "n"),
    body,
  };
}

/** Sizes must be positive integers and every window must hold at least one real element. */
function check(s: Pool2dSpec): void {
  const all = [s.h, s.w, s.c, s.ph, s.pw, s.sh, s.sw, s.oh, s.ow];
  if (!all.every((v) => Number.isInteger(v) && v >= 1) || !(s.padTop >= 0 && s.padLeft >= 0)) {
    throw new Error(`internal: bad pooling spec ${JSON.stringify(s)}`);
  }
  const lastRow = (s.oh - 1) * s.sh - s.padTop, lastCol = (s.ow - 1) * s.sw - s.padLeft;
  if (s.padTop >= s.ph || s.padLeft >= s.pw || lastRow >= s.h || lastCol >= s.w) {
    throw new Error(`internal: a pooling window lies entirely in the padding ${JSON.stringify(s)}`);
  }
}
