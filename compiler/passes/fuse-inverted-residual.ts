/**
 * Inference rewrite (IR → IR): MobileNetV2's inverted-residual block — a 1×1 conv (expand) whose
 * only reader is a depthwise conv whose only reader is a 1×1 conv (project), each with its fused
 * epilogue (folded batch normalization, relu6, the project's residual add) — becomes one
 * `inverted_residual` node (prims/inverted-residual.ts), whose kernel computes the block by bands
 * of output rows so the 6×-expanded tensors stay in cache (emit/inverted-residual.ts).
 *
 * Runs after fuse-epilogues (the epilogues are in the nodes by then) in every program: the two
 * intermediates must each have the next step as their only reader, so a train step fuses only
 * its frozen part (a trainable layer's gradient kernels read them). Where the rule
 * (select/rules.ts: invertedResidualPays) says the fused kernel does not pay, nothing changes.
 * The intermediates' layer outputs then leave the NaN finder's list, as any fused-away tensor.
 */
import type { Module, Node, NodeOf } from "../ir/ir.js";
import { invertedResidualPays, pointwiseInPlace } from "../select/rules.js";
import { ProgramIndex } from "./program-index.js";

/** A 1×1 stride-1 unpadded conv the fused kernel's GEMM reads in place, nothing accumulated or pooled. */
function isPointwise(n: Node | undefined): n is NodeOf<"conv2d"> {
  return n?.op === "conv2d" && !n.attrs.accumulate && !n.attrs.pool && pointwiseInPlace(n.attrs);
}

function isFusableDepthwise(n: Node | undefined): n is NodeOf<"depthwise_conv2d"> {
  const a = n?.op === "depthwise_conv2d" ? n.attrs : undefined;
  return !!a && !a.accumulate && a.m === 1 && a.dh === 1 && a.dw === 1;
}

/** `t` (an output of `n`) is read by `next` alone, and is nothing but a plain activation. */
function privateBetween(ix: ProgramIndex, n: Node, next: Node): boolean {
  const t = ix.mod.t(n.outputs[0]!);
  if (n.outputs.length !== 1 || t.kind !== "activation" || t.aliasOf !== undefined || ix.aliased.has(t.id)) return false;
  return ix.soleReader(t) === next && next.inputs[0] === t.id && next.inputs.lastIndexOf(t.id) === 0;
}

/** Every input of `n` still holds what `n` read when the fused node runs at `to`. */
function inputsStable(ix: ProgramIndex, n: Node, to: number): boolean {
  return n.inputs.every((id) => !ix.writtenBetween(ix.storageOf(id), ix.at(n), to));
}

export function fuseInvertedResidual(mod: Module): void {
  for (const prog of mod.programs) {
    if (!prog.nodes.some(isFusableDepthwise)) continue;
    const ix = new ProgramIndex(mod, prog);
    // The node writing each 1×1 conv output (a depthwise's candidate expand): one map, not a search per depthwise.
    const writerOf = new Map<number, Node>();
    for (const n of prog.nodes) if (isPointwise(n)) writerOf.set(n.outputs[0]!, n);
    for (const d of prog.nodes) {
      if (!isFusableDepthwise(d) || ix.isRemoved(d)) continue;
      const e = writerOf.get(d.inputs[0]!);
      const p = ix.soleReader(mod.t(d.outputs[0]!));
      if (!isPointwise(e) || e.attrs.residual || !isPointwise(p)) continue;
      if (!privateBetween(ix, e, d) || !privateBetween(ix, d, p)) continue;
      const attrs = { expand: e.attrs, depthwise: d.attrs, project: p.attrs };
      if (!invertedResidualPays(attrs)) continue;
      const at = ix.at(p);
      if (!inputsStable(ix, e, at) || !inputsStable(ix, d, at)) continue;
      const inputs = [e.inputs[0]!, ...e.inputs.slice(1), ...d.inputs.slice(1), ...p.inputs.slice(1)];
      ix.remove(e);
      ix.remove(d);
      // p becomes the fused node, in its place: every input (the depthwise's and project's folded scales) exists by then.
      const fused = p as unknown as NodeOf<"inverted_residual">;
      fused.op = "inverted_residual";
      fused.attrs = attrs;
      ix.setInputs(fused as unknown as Node, inputs);
    }
    ix.commit();
  }
}
