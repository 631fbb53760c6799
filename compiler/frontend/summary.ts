/**
 * A model summary in the spirit of Keras `model.summary()`: one row per layer (name, op, output
 * shape with the batch axis as None, parameter count), parameter totals, inputs, outputs, loss and
 * optimizer. `summarize` gives the data (for --json), `formatSummary` the text table.
 */
import type { Graph } from "./graph-types.js";
import { countParams, layerParams } from "./params.js";

export interface Summary {
  name: string;
  layers: { name: string; kerasName?: string; op: string; inputs: string[]; outputShape: (number | null)[]; params: number }[];
  params: { total: number; trainable: number; nonTrainable: number };
  inputs: { name: string; shape: (number | null)[]; dtype: string }[];
  targets: { name: string; shape: (number | null)[]; dtype: string }[];
  outputs: string[];
  loss?: { type: string; output: string; target: string; from_logits: boolean; weight: number };
  /** Every output's loss (several outputs). */
  losses?: { type: string; output: string; target: string; from_logits: boolean; weight: number }[];
  optimizer?: Record<string, unknown>;
  metrics?: string[];
}

const batched = (shape: number[]): (number | null)[] => [null, ...shape];

export function summarize(graph: Graph): Summary {
  const s: Summary = {
    name: graph.name,
    layers: graph.layers.map((l) => ({ name: l.name, ...(l.kerasName !== undefined ? { kerasName: l.kerasName } : {}), op: l.op, inputs: [...l.inputs], outputShape: batched(l.shape), params: layerParams(l).total })),
    params: countParams(graph),
    inputs: graph.inputs.map((v) => ({ name: v.name, shape: batched(v.shape), dtype: v.dtype })),
    targets: graph.targets.map((v) => ({ name: v.name, shape: batched(v.shape), dtype: v.dtype })),
    outputs: [...graph.outputs],
  };
  if (graph.training) {
    s.loss = { ...graph.training.loss };
    s.optimizer = { ...graph.training.optimizer };
    if (graph.training.losses.length > 1) s.losses = graph.training.losses.map((l) => ({ ...l }));
    s.metrics = [...graph.training.logNames.slice(graph.training.losses.length > 1 ? graph.training.losses.length : 0)];
  }
  return s;
}

const num = (n: number) => n.toLocaleString("en-US");
const shapeText = (shape: (number | null)[]) => `(${shape.map((d) => (d === null ? "None" : String(d))).join(", ")}${shape.length === 1 ? "," : ""})`;
const valueText = (v: { name: string; shape: (number | null)[]; dtype: string }) => `${v.name} ${shapeText(v.shape)} ${v.dtype}`;

/** Fixed-width table: columns sized to their widest cell. */
function table(rows: string[][], rightAligned: number[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (rightAligned.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("   ").trimEnd());
}

export function formatSummary(graph: Graph): string {
  const s = summarize(graph);
  const rows = [["Layer (op)", "Output Shape", "Param #"], ...s.layers.map((l) => [`${l.name} (${l.op})${l.kerasName !== undefined ? ` Keras ${JSON.stringify(l.kerasName)}` : ""}`, shapeText(l.outputShape), num(l.params)])];
  const [head, ...body] = table(rows, [2]);
  const rule = "─".repeat(Math.max(head.length, 40));
  const lines = [
    `Model: "${s.name}"`, rule, head, rule.replace(/─/g, "═"), ...body, rule,
    ` Total params: ${num(s.params.total)}`,
    ` Trainable params: ${num(s.params.trainable)}`,
    ` Non-trainable params: ${num(s.params.nonTrainable)}`,
    rule,
    ` Inputs: ${s.inputs.map(valueText).join(", ")}`,
    ` Outputs: ${s.outputs.join(", ")}`,
  ];
  if (s.targets.length) lines.push(` Targets: ${s.targets.map(valueText).join(", ")}`);
  if (s.loss && s.optimizer) {
    const one = (l: NonNullable<Summary["loss"]>) => `${l.type} (${l.output} vs ${l.target}${l.from_logits ? ", from_logits" : ""}${l.weight !== 1 ? `, weight ${l.weight}` : ""})`;
    lines.push(` Loss: ${s.losses ? s.losses.map(one).join(" + ") : one(s.loss)}`);
    const { type, ...opts } = s.optimizer;
    lines.push(` Optimizer: ${String(type)} (${Object.entries(opts).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ")})`);
    lines.push(` Metrics: ${s.metrics?.length ? s.metrics.join(", ") : "none"}`);
  } else lines.push(" Training: none (inference only)");
  return lines.join("\n") + "\n";
}
