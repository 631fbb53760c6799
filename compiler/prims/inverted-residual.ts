/**
 * MobileNetV2's inverted-residual block as one primitive: expand 1×1 conv → depthwise → project
 * 1×1 conv (each with its fused epilogue; the project's residual add too), made by
 * passes/fuse-inverted-residual.ts from the three nodes in inference (nothing differentiates
 * through it: it exists only after autodiff, where no gradient reads its intermediates). The
 * kernel: emit/inverted-residual.ts; the band height: select/rules.ts.
 */
import type { Conv2dAttrs } from "./conv.js";
import type { DepthwiseConv2dAttrs } from "./depthwise.js";
import { emitInvertedResidual } from "../emit/inverted-residual.js";
import { invertedResidualBandRows } from "../select/rules.js";
import type { PrimDef } from "./prim.js";

export interface InvertedResidualAttrs {
  expand: Conv2dAttrs;
  depthwise: DepthwiseConv2dAttrs;
  project: Conv2dAttrs;
}

/**
 * The node's inputs: x, then each step's inputs after its first as the step had them — expand
 * [w, bias?, scale?], depthwise [w, bias?, scale?], project [w, bias?, scale?, residual?].
 */
export function invertedResidualInputs(a: InvertedResidualAttrs): Record<string, number> {
  const at: Record<string, number> = Object.create(null);
  let i = 1;
  const step = (w: string, b: string, s: string, attrs: { bias?: boolean; scale?: boolean }) => {
    at[w] = i++;
    if (attrs.bias) at[b] = i++;
    if (attrs.scale) at[s] = i++;
  };
  step("we", "be", "se", a.expand);
  step("wd", "bd", "sd", a.depthwise);
  step("wp", "bp", "sp", a.project);
  if (a.project.residual) at.residual = i++;
  return at;
}

export const inverted_residual: PrimDef<"inverted_residual"> = {
  grad: { none: "an inference fusion: made after autodiff, only where no gradient passes through the block" },
  select(node, ctx, $) {
    const a = node.attrs;
    const spec = {
      expand: { ...a.expand, bias: !!a.expand.bias, scale: !!a.expand.scale },
      depthwise: { ...a.depthwise, bias: !!a.depthwise.bias, scale: !!a.depthwise.scale },
      project: { ...a.project, bias: !!a.project.bias, scale: !!a.project.scale, residual: !!a.project.residual },
      relaxed: ctx.relaxed,
    };
    const def = emitInvertedResidual({ ...spec, rows: invertedResidualBandRows(a.depthwise) });
    const args: Record<string, string> = { x: $.ptr($.in(0)), y: $.ptr($.out(0)), scratch: $.scratch, n: $.batch };
    for (const [name, i] of Object.entries(invertedResidualInputs(a))) args[name] = $.ptr($.in(i));
    return { def, args };
  },
  threads: { batch: (_n, outsBatched) => outsBatched },
};
