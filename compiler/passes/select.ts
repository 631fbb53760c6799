/**
 * Kernel selection pass: each IR node → one KernelDef from its primitive's selector
 * (compiler/prims/) plus the argument of every kernel parameter: planned byte offsets for
 * tensors, `batch·k` expressions for runtime sizes. Arguments are numbers and the fixed
 * identifier `batch` only — never anything from the graph.
 */
import type { Node } from "../ir/ir.js";
import { primOf } from "../prims/index.js";
import { Args, type KernelCall, type SelectContext } from "../prims/prim.js";

export type { KernelCall, SelectContext } from "../prims/prim.js";

export function selectKernel(node: Node, ctx: SelectContext): KernelCall {
  const $ = new Args(ctx, node);
  const call = primOf(node.op).select(node, ctx, $);
  const args = { ...call.args, ...$.sizes };
  for (const p of call.def.params) {
    if (args[p.name] === undefined) throw new Error(`internal: ${node.op} kernel parameter ${p.name} has no argument (layer ${node.layer})`);
  }
  return { def: call.def, args };
}
