/**
 * Reverse-mode autodiff on the IR (micrograd's backward, as a graph → graph pass): walk the
 * forward nodes in reverse, ask each primitive's gradient rule (compiler/prims/) for contributions to
 * its inputs' gradients, and sum contributions where a tensor feeds several consumers.
 * Only tensors that both depend on a trainable weight and lead to the loss get gradients, so the
 * backward graph stops at the lowest trainable layer (frozen layers below it cost nothing).
 */
import { Module, numel, type Node, type Program, type Tensor } from "../ir/ir.js";
import { X } from "../ir/expr.js";
import { primOf } from "../prims/index.js";
import type { Contribution, GradContext } from "../prims/prim.js";

export interface BackwardResult {
  /** Gradient tensor per trainable weight id that received one. */
  weightGrads: Map<number, Tensor>;
}

/**
 * Appends the backward nodes for `forward` to `prog`. Each seed holds a loss's gradient with
 * respect to the tensor that loss read (one per output); `weightGrad(w)` returns the planned
 * gradient buffer of a trainable weight. A seed whose tensor no other forward node reads is that
 * tensor's gradient as it is; otherwise (an output that also feeds another layer) it is one more
 * contribution, summed with what flows back from the readers.
 */
export function backward(
  mod: Module, prog: Program, forward: Node[], seeds: { tensor: Tensor; grad: Tensor }[],
  trainable: Set<number>, weightGrad: (w: Tensor) => Tensor,
): BackwardResult {
  const sid = (t: Tensor) => mod.storage(t).id;
  const requires = new Set<number>(trainable);
  for (const n of forward) {
    if (n.inputs.some((i) => requires.has(sid(mod.t(i))))) for (const o of n.outputs) requires.add(sid(mod.t(o)));
  }
  const contributions = new Map<number, Contribution[]>();
  const grads = new Map<number, Tensor>();
  const live = new Set(prog.nodes);
  for (const seed of seeds) {
    const read = forward.some((n) => live.has(n) && n.inputs.some((i) => sid(mod.t(i)) === sid(seed.tensor)));
    if (!read) {
      grads.set(sid(seed.tensor), seed.grad);
      continue;
    }
    const rows = sizeDim(seed.tensor);
    contributions.set(sid(seed.tensor), [...(contributions.get(sid(seed.tensor)) ?? []), {
      full: true,
      emit: (target, accumulate) => mod.node(prog, "ew", accumulate ? [target, seed.grad] : [seed.grad], [target], {
        rows, cols: 1, inputs: accumulate ? [{ div: 1 }, { div: 1 }] : [{ div: 1 }], exprs: [accumulate ? X.add(X.in(0), X.in(1)) : X.in(0)],
      }, "loss"),
    }]);
  }
  const weightGrads = new Map<number, Tensor>();

  const finalize = (t: Tensor, target: Tensor, layer: string): Tensor | undefined => {
    const list = contributions.get(sid(t));
    if (!list?.length) return undefined;
    contributions.delete(sid(t));
    if (list.length === 1 && list[0]!.full) {
      list[0]!.emit(target, false);
      return target;
    }
    mod.node(prog, "fill", [], [target], { n: sizeDim(target), value: 0 }, layer);
    for (const c of list) {
      if (c.canAccumulate === false) {
        const tmp = mod.tensor({ shape: target.shape, batched: target.batched, dtype: "f32", kind: "activation", layer: layer });
        c.emit(tmp, false);
        mod.node(prog, "ew", [target, tmp], [target], { rows: sizeDim(target), cols: 1, inputs: [{ div: 1 }, { div: 1 }], exprs: [X.add(X.in(0), X.in(1))] }, layer);
      } else c.emit(target, true);
    }
    return target;
  };

  for (let idx = forward.length - 1; idx >= 0; idx--) {
    const node = forward[idx]!;
    if (!node.inputs.some((i) => requires.has(sid(mod.t(i))))) continue;
    const rule = primOf(node.op).grad;
    if (typeof rule !== "function") {
      // A gradient would have to flow through a primitive that has none: never silently drop it.
      throw new Error(`internal: ${node.op} (layer ${JSON.stringify(node.layer)}) reads a tensor that needs a gradient, but has no gradient rule: ${rule.none}`);
    }
    const outGrads = new Map<number, Tensor>();
    for (const o of node.outputs) {
      const ot = mod.t(o);
      if (!grads.has(sid(ot))) {
        const g = finalize(ot, gradTensor(mod, mod.storage(ot), node.layer), node.layer);
        if (g) grads.set(sid(ot), g);
      }
      const g = grads.get(sid(ot));
      if (g) outGrads.set(o, g);
    }
    if (outGrads.size === 0) continue;
    const ctx: GradContext = {
      mod, prog, layer: node.layer,
      needs: (t) => requires.has(sid(t)),
      gradOf: (t) => outGrads.get(t.id) ?? grads.get(sid(t)),
      contribute: (x, c) => {
        if (!requires.has(sid(x))) return;
        const list = contributions.get(sid(x)) ?? [];
        list.push(c);
        contributions.set(sid(x), list);
      },
      temp: (like) => mod.tensor({ shape: like.shape, batched: like.batched, dtype: "f32", kind: "activation", layer: node.layer }),
    };
    rule(node, ctx);
  }
  for (const id of trainable) {
    const w = mod.t(id);
    const g = finalize(w, weightGrad(w), w.layer ?? "optimizer");
    if (g) weightGrads.set(id, g);
  }
  return { weightGrads };
}

function gradTensor(mod: Module, like: Tensor, layer: string): Tensor {
  return mod.tensor({ shape: like.shape, batched: like.batched, dtype: "f32", kind: "activation", layer });
}

/** All elements of a tensor as one Dim (a batched tensor's count scales with the batch). */
function sizeDim(t: Tensor) {
  return t.batched ? { batch: numel(t.shape) } : numel(t.shape);
}
