/** Winograd input gradient: the forward body run on dy, as the transposed conv (gradInputAsConv). */
import { kernelParams } from "../code.js";
import { checkConv2dSpec, type Conv2dSpec } from "../conv/spec.js";
import type { KernelDef } from "../kernel.js";
import { gradInputAsConv, winogradGradInputApplies, type WinogradTile } from "../../select/rules.js";
import { winogradBody } from "./forward.js";
import { checkTile, WINOGRAD_GRAD_INPUT_LOCALS, winogradTiles } from "./layout.js";

/**
 * Input gradient: dx[n,h,w,c] (=|+=) conv3x3(dy, rot180(w)ᵀ) by Winograd F(m×m,3×3). Params dy,
 * w, dx, scratch, n (as emitConv2dGradInput).
 */
export function emitConv2dGradInputWinograd(spec: Conv2dSpec, m: WinogradTile = 2, tiles = winogradTiles(m)): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradInputWinograd");
  if (!winogradGradInputApplies(spec)) throw new Error("internal: emitConv2dGradInputWinograd: needs a 3x3 kernel, stride 1, dilation 1, padding <= 2");
  checkTile(m, tiles, "emitConv2dGradInputWinograd");
  const t = gradInputAsConv(spec);
  const { body, bytes } = winogradBody(t, true, m, tiles);
  return {
    key: `conv2d_grad_input_winograd:${JSON.stringify({ ...t, m, tiles })}`,
    label: `conv2d grad-input winograd F${m} 3x3 ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: kernelParams(WINOGRAD_GRAD_INPUT_LOCALS, ["dy", "w", "dx", "scratch"], "n"),
    // the shared body reads x and writes y
    body: [`const x: usize = dy;`, `const y: usize = dx;`, body].join("\n"),
    needs: [],
    scratchBytes: bytes,
  };
}
