/** Convolution input gradient as the blocked GEMM: dcol = dy·Wᵀ one tile at a time, then col2im into dx. */
import { intlit, kernelParams } from "../code.js";
import { gemmBody, gemmPrologue, packedABytes, packedBFloats, roundUp, type GemmPlan } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { MC, packAPlain } from "../matmul.js";
import { pixel, rowsExpr, run } from "./im2col.js";
import { checkConv2dSpec, CONV_LOCALS, type Conv2dSpec } from "./spec.js";

/** Adds the finished dcol tile (rows = pixels ic_.., cols = tap·c + channel) into dx. */
function col2im(s: Conv2dSpec): string {
  const K = s.kh * s.kw * s.c, c4 = s.c * 4;
  return [
    `for (let r_ = 0; r_ < mc_; r_++) {`,
    pixel(s, "ic_ + r_", "dx").replace(/^/gm, "  "),
    `  let src_ = ct_ + <usize>(r_ * ${intlit(K * 4)});`,
    `  for (let ky_ = 0; ky_ < ${intlit(s.kh)}; ky_++) {`,
    `    const iy_ = iy0_ + ky_ * ${intlit(s.dh)};`,
    `    for (let kx_ = 0; kx_ < ${intlit(s.kw)}; kx_++) {`,
    `      const ix_ = ix0_ + kx_ * ${intlit(s.dw)};`,
    `      if (<u32>iy_ < ${intlit(s.h)} && <u32>ix_ < ${intlit(s.w)}) {`,
    `        const dst_ = xb_ + <usize>((iy_ * ${intlit(s.w)} + ix_) * ${intlit(c4)});`,
    run("add", "dst_", "src_", s.c).replace(/^/gm, "        "),
    `      }`,
    `      src_ += ${intlit(c4)};`,
    `    }`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Input gradient: dx[n,h,w,c] (=|+=) col2im(dy·wᵀ), one MC-pixel tile at a time. Params dy, w, dx, scratch, n. */
export function emitConv2dGradInput(spec: Conv2dSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradInput");
  const K = spec.kh * spec.kw * spec.c, kc = roundUp(spec.f, 4);
  const plan: GemmPlan = {
    m: rowsExpr(spec), k: intlit(spec.f), n: K, kc, single: true, mc: MC,
    packA: packAPlain("dy", spec.f, kc),
    b: { ptr: "w", ld: spec.f, trans: true }, c: { ptr: "ct_", ld: K, tile: true },
    alpha: 1, accumulate: false, activation: "linear", relaxed: !!spec.relaxed,
    afterTile: col2im(spec),
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64), aBytes = roundUp(packedABytes(MC, plan), 64);
  const total = spec.h * spec.w * spec.c;
  const zero = spec.accumulate ? [] : [
    `const tot_ = n * ${intlit(total)};`,
    `let z_ = 0;`,
    `for (; z_ + 4 <= tot_; z_ += 4) v128.store(dx + <usize>(z_ * 4), i32x4.splat(0));`,
    `for (; z_ < tot_; z_++) store<f32>(dx + <usize>(z_ * 4), 0);`,
  ];
  return {
    key: `conv2d_grad_input:${JSON.stringify(spec)}`,
    label: `conv2d grad-input ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: kernelParams(CONV_LOCALS, ["dy", "w", "dx", "scratch"], "n"),
    body: [...zero, gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"),
      `const ct_: usize = scratch + ${intlit(bBytes + aBytes)};`, gemmBody(plan)].join("\n"),
    needs: [],
    scratchBytes: bBytes + aBytes + MC * K * 4,
  };
}
