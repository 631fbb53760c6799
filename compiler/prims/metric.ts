/**
 * log_metric: one entry of the logs, stateful over the calls since the runtime zeroed the metric
 * state (emit/metrics.ts): an output's running loss, the running total loss, or one metric of one
 * output. Inputs: the loss scalars (loss kinds) or [output, target] (a metric). Outputs: [the
 * result region, the metric state] — the kernel reads and adds to its words of the state.
 */
import type { Dim } from "../ir/ir.js";
import { emitLogKernel, type MetricArgs } from "../emit/metrics.js";
import type { PrimDef } from "./prim.js";

export type LogMetricAttrs =
  ({ kind: "output_loss" } | { kind: "total_loss"; weights: number[] } | { kind: "metric"; classes: number; sparse: boolean; metric: MetricArgs })
  & {
    /** The batch count (loss kinds) or rows = examples × positions (a metric). */
    rows: Dim;
    /** Its first f64 word in the metric state. */
    stateAt: number;
    /** Its f32 slot in the result region. */
    outAt: number;
  };

export const log_metric: PrimDef<"log_metric"> = {
  grad: { none: "a reported value, never differentiated" },
  select(node, _ctx, $) {
    const a = node.attrs;
    const rows = $.dim(a.rows);
    const def = emitLogKernel(a.kind === "metric"
      ? { kind: "metric", rows, classes: a.classes, sparse: a.sparse, metric: a.metric }
      : a.kind === "total_loss" ? { kind: "total_loss", rows, weights: a.weights } : { kind: "output_loss", rows });
    const args: Record<string, string> = { st: $.ptr($.out(1), 2 * a.stateAt), out: $.ptr($.out(0), a.outAt) };
    if (a.kind === "metric") Object.assign(args, { pred: $.ptr($.in(0)), target: $.ptr($.in(1)) });
    else node.inputs.forEach((_, i) => (args[`l${i}`] = $.ptr($.in(i))));
    return { def, args };
  },
  // Sums over the whole batch into shared state: one thread.
  threads: {},
};
