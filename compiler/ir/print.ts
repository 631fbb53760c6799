/**
 * The IR printer (`kiln compile --emit ir`): one node per line, stable ids, shapes inline, so the
 * output is diffable and usable as golden text. User names appear only as JSON string literals.
 */
import { dimStr, type Module, type Tensor } from "./ir.js";

function tensorStr(mod: Module, t: Tensor): string {
  const shape = (t.batched ? ["B"] : []).concat(t.shape.map(String)).join(",");
  const alias = t.aliasOf !== undefined ? `=%${mod.storage(t).id}` : "";
  return `%${t.id}${alias}:${t.kind}[${shape}]${t.dtype === "i32" ? "i32" : ""}`;
}

function attrStr(attrs: any): string {
  return JSON.stringify(attrs, (_k, v) => (v && typeof v === "object" && "batch" in v && Object.keys(v).length === 1 ? dimStr(v) : v));
}

export function printModule(mod: Module): string {
  const lines: string[] = [];
  const named = mod.tensors.filter((t) => t.name !== undefined);
  for (const t of named) lines.push(`${tensorStr(mod, t)} ${JSON.stringify(t.name)}`);
  for (const prog of mod.programs) {
    lines.push("", `program ${prog.name} {`);
    for (const n of prog.nodes) {
      const outs = n.outputs.map((o) => tensorStr(mod, mod.t(o))).join(", ");
      const ins = n.inputs.map((i) => `%${i}`).join(", ");
      lines.push(`  ${outs} = ${n.op}(${ins}) ${attrStr(n.attrs)}  @${JSON.stringify(n.layer)}`);
    }
    lines.push("}");
  }
  return lines.join("\n") + "\n";
}
