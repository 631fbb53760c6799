/**
 * Stage 5: the training section. The loss must name a graph output and a target that fits it
 * (sparse categorical: int32 with one axis fewer; the others: float32 of the output's shape, or []
 * against [1]); optimizers get their Keras defaults; clipnorm and global_clipnorm exclude each other.
 */
import type { DiagnosticBag } from "./diagnostics.js";
import type { Layer, LossType, MetricName, OptimizerSpec, TrainingSpec, ValueInfo } from "./graph-types.js";
import { fmtShape, withDefaults } from "./ops/attrs.js";
import type { RawTraining } from "./raw-graph.js";
import { optimizerDef } from "../optimizers/index.js";
import { isSchedule, scheduleDef, type Schedule } from "../optimizers/schedules.js";
import { didYouMean } from "./suggest.js";

interface Named { kind: string }

export function checkTraining(
  raw: RawTraining, layers: Layer[], outputs: string[], targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag,
): TrainingSpec | undefined {
  const loss = checkLoss(raw.loss, layers, outputs, targets, names, bag);
  const optimizer = checkOptimizer(raw.optimizer, bag);
  if (!loss || !optimizer) return undefined;
  return { loss, optimizer, metrics: [...(raw.metrics ?? [])] as MetricName[] };
}

function checkLoss(
  raw: RawTraining["loss"], layers: Layer[], outputs: string[], targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag,
): TrainingSpec["loss"] | undefined {
  const type = raw.type as LossType;
  const fromLogits = raw.from_logits ?? false;
  let ok = true;
  if (fromLogits && (type === "mean_squared_error" || type === "mean_absolute_error")) {
    bag.add("training", "/training/loss/from_logits", `from_logits applies only to crossentropy losses, not ${type}`);
    ok = false;
  }
  const out = outputOf(raw.output, layers, outputs, names, bag);
  const target = targetOf(raw.target, targets, names, bag);
  if (!out || !target || !ok) return undefined;
  const problem = targetMismatch(type, out, target);
  if (problem) {
    bag.add("training", "/training/loss/target", problem);
    return undefined;
  }
  return { type, output: raw.output, target: raw.target, from_logits: fromLogits };
}

function outputOf(name: string, layers: Layer[], outputs: string[], names: Map<string, Named>, bag: DiagnosticBag): Layer | undefined {
  const path = "/training/loss/output";
  const n = names.get(name);
  if (!n || n.kind !== "layer") {
    const what = n ? `"${name}" is a graph ${n.kind}, not a layer` : `unknown layer "${name}"${didYouMean(name, outputs)}`;
    bag.add("reference", path, `${what}; the loss applies to one of the graph outputs (${outputs.join(", ")})`);
    return undefined;
  }
  const outputsValid = outputs.every((o) => names.get(o)?.kind === "layer"); // else already reported
  if (outputsValid && !outputs.includes(name)) {
    bag.add("reference", path, `the loss applies to layer "${name}", which is not a graph output (outputs: ${outputs.join(", ")})`);
    return undefined;
  }
  return layers.find((l) => l.name === name); // undefined when the layer itself failed (reported)
}

function targetOf(name: string, targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag): ValueInfo | undefined {
  const t = targets.find((v) => v.name === name);
  if (t) return t;
  const n = names.get(name);
  const what = n ? `"${name}" is a graph ${n.kind}, not a target` : `unknown target "${name}"${didYouMean(name, targets.map((v) => v.name))}`;
  bag.add("reference", "/training/loss/target", `${what} (targets: ${targets.map((v) => v.name).join(", ") || "none"})`);
  return undefined;
}

/** Why target `t` cannot be compared with output `out` under `type`, or undefined when it fits. */
function targetMismatch(type: LossType, out: Layer, t: ValueInfo): string | undefined {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (type === "sparse_categorical_crossentropy") {
    if (t.dtype !== "int32") return `${type} needs int32 class ids as target; "${t.name}" is ${t.dtype}`;
    const want = out.shape.slice(0, -1);
    if (out.shape.length === 0 || !same(t.shape, want)) {
      return `${type} needs a target with one axis fewer than output "${out.name}" ${fmtShape(out.shape)}, i.e. ${out.shape.length ? fmtShape(want) : "(impossible: the output is a scalar)"}; "${t.name}" has shape ${fmtShape(t.shape)}`;
    }
    return undefined;
  }
  if (t.dtype !== "float32") return `${type} needs a float32 target; "${t.name}" is ${t.dtype} (int32 class ids go with sparse_categorical_crossentropy)`;
  const squeezed = t.shape.length === 0 && same(out.shape, [1]);
  if (!same(t.shape, out.shape) && !squeezed) {
    return `${type} needs a target of the shape of output "${out.name}" ${fmtShape(out.shape)}; "${t.name}" has shape ${fmtShape(t.shape)}`;
  }
  return undefined;
}

function checkOptimizer(raw: RawTraining["optimizer"], bag: DiagnosticBag): OptimizerSpec | undefined {
  if (raw.clipnorm !== undefined && raw.global_clipnorm !== undefined) {
    bag.add("training", "/training/optimizer/global_clipnorm", "clipnorm and global_clipnorm cannot both be set; choose one");
    return undefined;
  }
  const spec: Record<string, unknown> = { type: raw.type, ...withDefaults(optimizerDef(raw.type).attrs, raw) };
  if (isSchedule(spec.learning_rate)) {
    const schedule = checkSchedule(spec.learning_rate, bag);
    if (!schedule) return undefined;
    spec.learning_rate = schedule;
  }
  if (raw.clipnorm !== undefined) Object.assign(spec, { clipnorm: raw.clipnorm });
  if (raw.global_clipnorm !== undefined) Object.assign(spec, { global_clipnorm: raw.global_clipnorm });
  return spec as OptimizerSpec;
}

/** A schedule with Keras's defaults filled in, or undefined after reporting what the schema cannot check. */
function checkSchedule(raw: Record<string, unknown>, bag: DiagnosticBag): Schedule | undefined {
  const def = scheduleDef(String(raw.schedule));
  const spec = { schedule: raw.schedule, ...withDefaults(def.attrs, raw as any) } as Schedule;
  const problems = def.check?.(spec) ?? [];
  for (const [attr, message] of problems) bag.add("training", `/training/optimizer/learning_rate/${attr}`, message);
  return problems.length ? undefined : spec;
}
