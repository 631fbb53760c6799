/**
 * The convolution emitters' common spec: 2-D convolution, NHWC, filters [kh, kw, c, f]. Padding is
 * explicit (padTop/padLeft; bottom/right implied by oh/ow) and reads as zeros.
 */
import type { ActivationName } from "../../frontend/graph-types.js";
import { locals } from "../code.js";

export interface Conv2dSpec {
  h: number; w: number; c: number; f: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
  bias?: boolean;
  /** act(conv·scale + bias) with a per-filter scale (a folded batch normalization); needs `bias`. */
  scale?: boolean;
  /** act(… + bias + residual): a tensor laid out as y added before the activation (a residual add). */
  residual?: boolean;
  activation?: ActivationName; relaxed?: boolean; accumulate?: boolean;
}

export function checkConv2dSpec(s: Conv2dSpec, who: string): void {
  for (const key of ["h", "w", "c", "f", "kh", "kw", "sh", "sw", "dh", "dw", "oh", "ow"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new Error(`internal: ${who}: ${key} must be a positive integer, got ${s[key]}`);
  }
  for (const key of ["padTop", "padLeft"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 0) throw new Error(`internal: ${who}: ${key} must be a non-negative integer, got ${s[key]}`);
  }
}

/** Locals of the convolution kernels end with "_" (as the GEMM's they share). */
export const CONV_LOCALS = locals("emitConv2d", "suffixed");
