/**
 * Winograd forward kernel: per block of tiles, the input transform, the α² GEMMs M_ξ = V_ξ·U_ξ and
 * the output transform y = act(Aᵀ·M·A + bias), after the filter transform U = G·g·Gᵀ. The input
 * gradient runs the same body on dy with the filter flipped (grad-input.ts).
 */
import { activationNeeds, activationScalar, activationSimd } from "../activation.js";
import { intlit, kernelParams } from "../code.js";
import { checkConv2dSpec, type Conv2dSpec } from "../conv/spec.js";
import { microKernel } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { winogradApplies, type WinogradTile } from "../../select/rules.js";
import { inputTransform } from "./input.js";
import { checkTile, decodeTile, layout, overPlanesAndPanels, stagedIn, staging, WINOGRAD_LOCALS, winogradTiles, type Layout } from "./layout.js";
import { at, SCALAR, TRANSFORMS, transform2d, unrolled, VEC, type Index, type Lanes } from "./transforms.js";

/**
 * U_ξ packed as the micro-kernel's B panels: panel jp at jp·C·NR floats, row c, column f % NR
 * (the tail panel is tw floats wide). `flipped` (input gradient): the filter is w rotated 180°
 * with c and f swapped, g[ky][kx][c][f] = w[2−ky][2−kx][f][c].
 */
function filterTransform(o: Layout, flipped: boolean): string {
  const { s, nr, full, fm, alpha } = o, C = s.c, F = s.f, plane = o.uPlane, G = TRANSFORMS[o.m].G;
  const lines = [`const u_: usize = scratch + ${intlit(o.uOff)};`];
  if (F < fm) {
    // zero the tail panel's columns past F in all planes (the micro-kernel reads whole vectors)
    lines.push(`for (let c_ = 0; c_ < ${intlit(C)}; c_++) {`,
      `  const uz_ = u_ + <usize>(${intlit(full * C * nr * 4)} + c_ * ${intlit(o.tw * 4)});`);
    for (let x = 0; x < o.planes; x++) for (let f = F; f < fm; f++) lines.push(`  store<f32>(uz_, 0, ${intlit(x * plane + (f - full * nr) * 4)});`);
    lines.push(`}`);
  }
  const column = (f: string) => [
    `const jp_ = ${f} / ${intlit(nr)};`,
    `const pw_: usize = jp_ < ${intlit(full)} ? ${intlit(nr * 4)} : ${intlit(o.tw * 4)};`,
    `const ud_ = u_ + <usize>(jp_ * ${intlit(C * nr * 4)} + (${f} - jp_ * ${intlit(nr)}) * 4) + <usize>c_ * pw_;`,
  ];
  if (!flipped) {
    // contiguous in f: vectors over 4 filters of one channel
    const group = (L: Lanes, f: string) => [
      ...column(f),
      `const ws_ = w + <usize>((c_ * ${intlit(F)} + ${f}) * 4);`,
      ...transform2d(G, 3, (i, j) => L.load("ws_", (i * 3 + unrolled(j)) * C * F * 4), L, "q", (k, l, e) => [L.store("ud_", (unrolled(k) * alpha + l) * plane, e)]),
    ];
    const f4 = Math.floor(F / 4) * 4;
    lines.push(`for (let c_ = 0; c_ < ${intlit(C)}; c_++) {`);
    if (f4 > 0) lines.push(`  for (let f_ = 0; f_ < ${intlit(f4)}; f_ += 4) {`, ...group(VEC, "f_").map((l) => "    " + l), `  }`);
    for (let f = f4; f < F; f++) lines.push(`  {`, ...group(SCALAR, intlit(f)).map((l) => "    " + l), `  }`);
    lines.push(`}`);
    return lines.join("\n");
  }
  // flipped: contiguous in c (w's last axis): vectors over 4 channels of one filter, stored lane by lane
  const tap = (i: number, j: number) => ((2 - i) * 3 + (2 - j)) * C * F * 4;
  const group = (L: Lanes, c: string) => [
    ...column("f_"),
    `const ws_ = w + <usize>((f_ * ${intlit(C)} + ${c}) * 4);`,
    ...transform2d(G, 3, (i, j) => L.load("ws_", tap(i, unrolled(j))), L, "q", (k, l, e) => {
      const off = (unrolled(k) * alpha + l) * plane;
      if (L === SCALAR) return [L.store("ud_", off, e)];
      return [`{`, `  const u4_ = ${e};`,
        ...[0, 1, 2, 3].map((r) => `  store<f32>(ud_ + pw_ * ${intlit(r)}, f32x4.extract_lane(u4_, ${r}), ${intlit(off)});`), `}`];
    }),
  ];
  const c4 = Math.floor(C / 4) * 4;
  lines.push(`for (let f_ = 0; f_ < ${intlit(F)}; f_++) {`);
  if (c4 > 0) lines.push(`  for (let c_ = 0; c_ < ${intlit(c4)}; c_ += 4) {`, ...group(VEC, "c_").map((l) => "    " + l), `  }`);
  for (let c = c4; c < C; c++) lines.push(`  {`, `    const c_ = ${intlit(c)};`, ...group(SCALAR, "c_").map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}

/** The α² GEMMs M_ξ = V_ξ·U_ξ over the block's rows (rounded up to MR; extra rows are never read). */
function products(o: Layout): string {
  const { s, mr, nr, full, tw, fm, kcp } = o, C = s.c;
  const sweep = (nv: number, panel: string, col: string) => {
    const stores: string[] = [];
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) stores.push(`v128.store(mp_, c${r}${v}_, ${intlit(r * fm * 4 + v * 16)});`);
    return [
      `const pbp_ = ub_ + <usize>(${panel});`,
      `for (let ir_ = 0; ir_ < tb_; ir_ += ${intlit(mr)}) {`,
      `  let pa_ = va_ + <usize>(ir_ * ${intlit(kcp * 4)});`,
      `  let pb_ = pbp_;`,
      microKernel(nv, kcp, o.relaxed).replace(/^/gm, "  "),
      `  const mp_ = mb_ + <usize>((ir_ * ${intlit(fm)} + ${col}) * 4);`,
      ...stores.map((l) => "  " + l),
      `}`,
    ];
  };
  return overPlanesAndPanels([
    `const va_ = v_ + <usize>(xi_ * ${intlit(o.vPlane)});`,
    `const ub_ = u_ + <usize>(xi_ * ${intlit(o.uPlane)});`,
    `const mb_ = m_ + <usize>(xi_ * ${intlit(o.mPlane)});`,
  ], C, { nr, full, tw, planes: o.planes }, sweep).join("\n");
}

/**
 * y = act(Aᵀ·M·A [+ old y] + bias) for the block's tiles; outputs past OH/OW are not stored: row
 * k > 0 of a tile only where vy{k}_ (column l: vx{l}_), flags declared only when OH (OW) is not a
 * multiple of m.
 */
function outputTransform(o: Layout): string {
  const { s, m, alpha } = o, F = s.f, f4 = Math.floor(F / 4) * 4, act = s.activation ?? "linear";
  const mPlane = o.mPlane, yRow = s.ow * F * 4;
  const rowFlags = s.oh % m !== 0, colFlags = s.ow % m !== 0;
  const group = (L: Lanes, f: string) => {
    const lines = [`const ms_ = mt_ + <usize>(${f} * 4);`, `const yd_ = yt_ + <usize>(${f} * 4);`];
    if (s.residual) lines.push(`const rd_ = residual + (yd_ - y);`);
    if (s.bias) lines.push(`const bv_ = ${L.load(`bias + <usize>(${f} * 4)`, 0)};`);
    if (s.scale) lines.push(`const sv_ = ${L.load(`scale + <usize>(${f} * 4)`, 0)};`);
    const mm = (i: number, j: Index) => L.load(...at("ms_", i * alpha * mPlane, j, mPlane));
    lines.push(...transform2d(TRANSFORMS[m].AT, alpha, mm, L, "a", (ki, l, e) => {
      // the row pass stays unrolled: rows past OH are skipped by constant flags
      const k = unrolled(ki), off = k * yRow + l * F * 4;
      if (s.accumulate) e = L.add(e, L.load("yd_", off));
      if (s.scale) e = L === VEC ? `f32x4.mul(${e}, sv_)` : `(${e}) * sv_`;
      if (s.bias) e = L.add(e, "bv_");
      if (s.residual) e = L.add(e, L.load("rd_", off));
      e = L === VEC ? activationSimd(act, `(${e})`) : activationScalar(act, `(${e})`);
      const st = L.store("yd_", off, e);
      const cond = [k && rowFlags ? `vy${k}_` : "", l && colFlags ? `vx${l}_` : ""].filter((c) => c).join(" && ");
      return [cond ? `if (${cond}) ${st}` : st];
    }, staging(o, false)));
    return lines;
  };
  const flags = (axis: "y" | "x", size: number) => Array.from({ length: m - 1 }, (_, i) => i + 1)
    .map((k) => `  const v${axis}${k}_ = t${axis}_ * ${intlit(m)} + ${intlit(k)} < ${intlit(size)};`);
  const lines = [
    `for (let t_ = 0; t_ < tb_; t_++) {`,
    `  const g_ = t0_ + t_;`,
    ...decodeTile(o).map((l) => "  " + l),
    ...(rowFlags ? flags("y", s.oh) : []),
    ...(colFlags ? flags("x", s.ow) : []),
    `  const mt_ = m_ + <usize>(t_ * ${intlit(o.fm * 4)});`,
    `  const yt_ = y + <usize>(((img_ * ${intlit(s.oh)} + ty_ * ${intlit(m)}) * ${intlit(s.ow)} + tx_ * ${intlit(m)}) * ${intlit(F * 4)});`,
  ];
  if (f4 > 0) lines.push(`  for (let f_ = 0; f_ < ${intlit(f4)}; f_ += 4) {`, ...group(VEC, "f_").map((l) => "    " + l), `  }`);
  for (let f = f4; f < F; f++) lines.push(`  {`, ...group(SCALAR, intlit(f)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}

/** The kernel body for spec (x → y, filter w as in filterTransform) with m×m tiles in blocks of T. */
export function winogradBody(spec: Conv2dSpec, flipped: boolean, m: WinogradTile, T: number): { body: string; bytes: number } {
  // the input gradient's transforms stay unrolled: looped, it ran ~3% slower (layout.ts: staging)
  const o = layout(spec, !!spec.relaxed, m, T, !flipped);
  const body = [
    filterTransform(o, flipped),
    `const v_: usize = scratch + ${intlit(o.vOff)};`,
    `const m_: usize = scratch + ${intlit(o.mOff)};`,
    `const pp_: usize = scratch + ${intlit(o.pOff)};`,
    ...(stagedIn(m) ? [`const ${stagedIn(m)}: usize = scratch + ${intlit(o.sOff)};`] : []),
    ...(o.padded ? [
      `for (let k_ = 0; k_ < ${intlit(o.padded.bytes)}; k_ += 16) v128.store(pp_ + <usize>k_, f32x4.splat(0));`,
      `let pimg_: i32 = -1;`,
    ] : []),
    `const kc_: i32 = ${intlit(spec.c)};`,
    `const total_ = n * ${intlit(o.tpi)};`,
    `for (let t0_ = 0; t0_ < total_; t0_ += ${intlit(T)}) {`,
    `  const tb_ = min<i32>(${intlit(T)}, total_ - t0_);`,
    inputTransform(o).replace(/^/gm, "  "),
    products(o).replace(/^/gm, "  "),
    outputTransform(o).replace(/^/gm, "  "),
    `}`,
  ].join("\n");
  return { body, bytes: o.bytes };
}

/**
 * Forward: y[n,oh,ow,f] (=|+=) act(conv3x3(x, w) + bias) by Winograd F(m×m,3×3). Params x, w, y,
 * [bias], scratch, n. `tiles`: tiles per block (default winogradTiles(m); benchmarks vary it).
 */
export function emitConv2dWinograd(spec: Conv2dSpec, m: WinogradTile = 2, tiles = winogradTiles(m)): KernelDef {
  checkConv2dSpec(spec, "emitConv2dWinograd");
  if (!winogradApplies(spec)) throw new Error("internal: emitConv2dWinograd: needs a 3x3 kernel, stride 1, dilation 1");
  checkTile(m, tiles, "emitConv2dWinograd");
  const act = spec.activation ?? "linear";
  if (!/^[a-z_]+$/.test(act)) throw new Error(`internal: "${act}" is not an activation name`);
  const { body, bytes } = winogradBody(spec, false, m, tiles);
  return {
    key: `conv2d_winograd:${JSON.stringify({ ...spec, activation: act, m, tiles })}`,
    label: `conv2d winograd F${m} 3x3 ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}${spec.scale ? " scaled" : ""}${spec.residual ? " +residual" : ""}${act !== "linear" ? " " + act : ""}`,
    params: kernelParams(WINOGRAD_LOCALS, ["x", "w", "y", ...(spec.bias ? ["bias"] : []), ...(spec.scale ? ["scale"] : []), ...(spec.residual ? ["residual"] : []), "scratch"], "n"),
    body,
    needs: activationNeeds(act),
    scratchBytes: bytes,
  };
}
