/**
 * Stage 5: the training section. Each loss must name a graph output and a target that fits it
 * (sparse categorical: int32 with one axis fewer; the others: float32 of the output's shape, or []
 * against [1]); optimizers get their Keras defaults; clipnorm and global_clipnorm exclude each other.
 */
import type { DiagnosticBag } from "./diagnostics.js";
import type { Layer, LossSpec, LossType, OptimizerSpec, TrainingSpec, ValueInfo } from "./graph-types.js";
import { pointer } from "./diagnostics.js";
import { resolveMetric, type MetricSpec, type RawMetric } from "./metrics.js";
import { fmtShape, withDefaults } from "./ops/attrs.js";
import type { RawLoss, RawTraining } from "./raw-graph.js";
import { optimizerDef } from "../optimizers/index.js";
import { isSchedule, scheduleDef, type Schedule } from "../optimizers/schedules.js";
import { didYouMean } from "./suggest.js";

interface Named { kind: string }

export function checkTraining(
  raw: RawTraining, layers: Layer[], outputs: string[], targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag,
): TrainingSpec | undefined {
  const losses = checkLosses(raw, layers, outputs, targets, names, bag);
  const optimizer = checkOptimizer(raw.optimizer, bag);
  if (!losses || !optimizer) return undefined;
  const metrics = checkMetrics(raw.metrics, losses, layers, targets, bag);
  if (!metrics) return undefined;
  const logs = logNames(losses, metrics);
  if (!checkLogNames(logs, losses, metrics, bag)) return undefined;
  return { loss: losses[0]!, losses, optimizer, metrics, logNames: logs };
}

/**
 * `training.loss` as one loss, a list (one per graph output, in order; an entry's `output`
 * defaults to that output) or a map by output name (every output once), and `loss_weights` in
 * the same form (a number with one loss). Each output has at most one loss.
 */
function checkLosses(
  raw: RawTraining, layers: Layer[], outputs: string[], targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag,
): LossSpec[] | undefined {
  const entries = lossEntries(raw.loss, outputs, bag);
  if (!entries) return undefined;
  const weights = lossWeights(raw.loss_weights, entries, bag);
  const checked = entries.map((e, i) => checkLoss(e.raw, e.path, layers, outputs, targets, names, bag, weights?.[i] ?? 1));
  if (!weights || checked.some((c) => !c)) return undefined;
  const seen = new Map<string, string>();
  for (const [i, l] of checked.entries()) {
    const before = seen.get(l!.output);
    if (before) {
      bag.add("training", `${entries[i]!.path}/output`, `output "${l!.output}" already has a loss (${before}); each output takes one loss`);
      return undefined;
    }
    seen.set(l!.output, entries[i]!.path);
  }
  return checked as LossSpec[];
}

interface LossEntry { raw: RawLoss; path: string }

function lossEntries(loss: RawTraining["loss"], outputs: string[], bag: DiagnosticBag): LossEntry[] | undefined {
  const base = "/training/loss";
  if (Array.isArray(loss)) {
    if (loss.length !== outputs.length) {
      bag.add("training", base, `a list of losses has one loss per graph output, in order: the graph has ${outputs.length} output${outputs.length === 1 ? "" : "s"} (${outputs.join(", ")}) and the list ${loss.length} loss${loss.length === 1 ? "" : "es"}`);
      return undefined;
    }
    return loss.map((l, i) => ({ raw: { ...l, output: l.output ?? outputs[i]! }, path: `${base}/${i}` }));
  }
  if (typeof (loss as RawLoss).type === "string") {
    const l = loss as RawLoss;
    if (l.output === undefined) {
      if (outputs.length !== 1) {
        bag.add("training", `${base}/output`, `missing "output": the graph has ${outputs.length} outputs (${outputs.join(", ")}); name one, or give a list or map of losses, one per output`);
        return undefined;
      }
      return [{ raw: { ...l, output: outputs[0]! }, path: base }];
    }
    return [{ raw: l, path: base }];
  }
  const map = loss as Record<string, RawLoss>;
  const keys = Object.keys(map);
  const unknown = keys.filter((k) => !outputs.includes(k));
  const missing = outputs.filter((o) => !Object.hasOwn(map, o));
  if (unknown.length || missing.length) {
    const parts = [...(unknown.length ? [`${unknown.map((k) => `"${k}"`).join(", ")} ${unknown.length === 1 ? "is not a graph output" : "are not graph outputs"}${didYouMean(unknown[0]!, outputs)}`] : []),
      ...(missing.length ? [`no loss for ${missing.map((k) => `"${k}"`).join(", ")}`] : [])];
    bag.add("training", base, `a map of losses has one key per graph output (${outputs.join(", ")}): ${parts.join("; ")}`);
    return undefined;
  }
  const out: LossEntry[] = [];
  for (const o of outputs) {
    const l = map[o]!, path = base + pointer(o);
    if (l.output !== undefined && l.output !== o) {
      bag.add("training", `${path}/output`, `the loss under key "${o}" names output "${l.output}"; leave "output" out or make it "${o}"`);
      return undefined;
    }
    out.push({ raw: { ...l, output: o }, path });
  }
  return out;
}

function lossWeights(raw: RawTraining["loss_weights"], entries: LossEntry[], bag: DiagnosticBag): number[] | undefined {
  const path = "/training/loss_weights";
  if (raw === undefined) return entries.map(() => 1);
  if (typeof raw === "number") {
    if (entries.length === 1) return [raw];
    bag.add("training", path, `one number weighs one loss; this graph has ${entries.length} losses: give a list or a map by output name`);
    return undefined;
  }
  if (Array.isArray(raw)) {
    if (raw.length === entries.length) return raw;
    bag.add("training", path, `loss_weights must match the losses: ${entries.length} loss${entries.length === 1 ? "" : "es"}, ${raw.length} weight${raw.length === 1 ? "" : "s"}`);
    return undefined;
  }
  const outs = entries.map((e) => e.raw.output!);
  const unknown = Object.keys(raw).filter((k) => !outs.includes(k));
  if (unknown.length) {
    bag.add("training", path + pointer(unknown[0]!), `"${unknown[0]}" is not an output with a loss${didYouMean(unknown[0]!, outs)} (outputs with a loss: ${outs.join(", ")})`);
    return undefined;
  }
  return outs.map((o) => (Object.hasOwn(raw, o) ? raw[o]! : 1));
}

function checkLoss(
  raw: RawLoss, path: string, layers: Layer[], outputs: string[], targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag, weight: number,
): LossSpec | undefined {
  const type = raw.type as LossType;
  const fromLogits = raw.from_logits ?? false;
  let ok = true;
  if (fromLogits && (type === "mean_squared_error" || type === "mean_absolute_error")) {
    bag.add("training", `${path}/from_logits`, `from_logits applies only to crossentropy losses, not ${type}`);
    ok = false;
  }
  const out = outputOf(raw.output!, path, layers, outputs, names, bag);
  const target = targetOf(raw.target, path, targets, names, bag);
  if (!out || !target || !ok) return undefined;
  const problem = targetMismatch(type, out, target);
  if (problem) {
    bag.add("training", `${path}/target`, problem);
    return undefined;
  }
  return { type, output: raw.output!, target: raw.target, from_logits: fromLogits, weight };
}

/**
 * `training.metrics`: a list of entries for a graph with one loss, a list of lists (one per loss,
 * in order) or a map by output name. Each entry is resolved against its output's loss and target.
 */
function checkMetrics(raw: RawTraining["metrics"], losses: LossSpec[], layers: Layer[], targets: ValueInfo[], bag: DiagnosticBag): MetricSpec[] | undefined {
  const base = "/training/metrics";
  const perOutput: { loss: LossSpec; entries: RawMetric[]; path: string }[] = [];
  if (raw === undefined) return [];
  if (Array.isArray(raw)) {
    const nested = raw.length > 0 && raw.every((e) => Array.isArray(e));
    if (nested) {
      if (raw.length !== losses.length) {
        bag.add("training", base, `a list of metric lists has one list per output with a loss, in order: ${losses.length} output${losses.length === 1 ? "" : "s"} (${losses.map((l) => l.output).join(", ")}), ${raw.length} list${raw.length === 1 ? "" : "s"}`);
        return undefined;
      }
      (raw as RawMetric[][]).forEach((entries, i) => perOutput.push({ loss: losses[i]!, entries, path: `${base}/${i}` }));
    } else {
      if (raw.some((e) => Array.isArray(e))) {
        bag.add("training", base, "mix of metric entries and lists of entries; give either a list of entries (one output) or one list per output");
        return undefined;
      }
      if (losses.length !== 1 && raw.length) {
        bag.add("training", base, `the graph has ${losses.length} outputs with a loss (${losses.map((l) => l.output).join(", ")}): give one list of metrics per output, or a map by output name, as Keras does`);
        return undefined;
      }
      if (raw.length) perOutput.push({ loss: losses[0]!, entries: raw as RawMetric[], path: base });
    }
  } else {
    for (const key of Object.keys(raw)) {
      const loss = losses.find((l) => l.output === key);
      if (!loss) {
        bag.add("training", base + pointer(key), `"${key}" is not an output with a loss${didYouMean(key, losses.map((l) => l.output))} (outputs with a loss: ${losses.map((l) => l.output).join(", ")})`);
        return undefined;
      }
    }
    for (const loss of losses) if (Object.hasOwn(raw, loss.output)) perOutput.push({ loss, entries: raw[loss.output]!, path: base + pointer(loss.output) });
  }
  const out: MetricSpec[] = [];
  let ok = true;
  for (const { loss, entries, path } of perOutput) {
    const layer = layers.find((l) => l.name === loss.output)!;
    const target = targets.find((t) => t.name === loss.target)!;
    entries.forEach((e, i) => {
      const r = resolveMetric(e, loss, layer, target);
      if (typeof r === "string") {
        bag.add("training", `${path}/${i}`, r);
        ok = false;
      } else out.push(r);
    });
  }
  return ok ? out : undefined;
}

/**
 * A metric's log name may not be one the logs use otherwise: `loss`, an output's `<output>_loss`,
 * a `val_` name (validation logs), `learning_rate` (reduce-LR-on-plateau) — nor `__proto__`.
 */
function checkLogNames(names: string[], losses: LossSpec[], metrics: MetricSpec[], bag: DiagnosticBag): boolean {
  const first = losses.length > 1 ? losses.length : 0;
  let ok = true;
  metrics.forEach((m, i) => {
    const name = names[first + i]!;
    const clash = name === "loss" || name === "learning_rate" || name === "__proto__" || name.startsWith("val_") || names.slice(0, first).includes(name);
    if (clash) {
      bag.add("training", `/training/metrics`, `metric "${m.name}" of output "${m.output}" would log as "${name}", a name the logs use for something else (loss, <output>_loss, val_…, learning_rate); give it another "name"`);
      ok = false;
    }
  });
  return ok;
}

/**
 * Keras 3's log names after `loss`: `<output>_loss` for each output when there are several, then
 * each metric as `<name>` (one output) or `<output>_<name>`, a repeated name getting `_1`, `_2`, …
 */
function logNames(losses: LossSpec[], metrics: MetricSpec[]): string[] {
  const names = losses.length > 1 ? losses.map((l) => `${l.output}_loss`) : [];
  const counts = new Map<string, number>();
  for (const m of metrics) {
    const name = losses.length > 1 ? `${m.output}_${m.name}` : m.name;
    const n = counts.get(name);
    counts.set(name, (n ?? 0) + 1);
    names.push(n === undefined ? name : `${name}_${n}`);
  }
  return names;
}

function outputOf(name: string, lossPath: string, layers: Layer[], outputs: string[], names: Map<string, Named>, bag: DiagnosticBag): Layer | undefined {
  const path = `${lossPath}/output`;
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

function targetOf(name: string, lossPath: string, targets: ValueInfo[], names: Map<string, Named>, bag: DiagnosticBag): ValueInfo | undefined {
  const t = targets.find((v) => v.name === name);
  if (t) return t;
  const n = names.get(name);
  const what = n ? `"${name}" is a graph ${n.kind}, not a target` : `unknown target "${name}"${didYouMean(name, targets.map((v) => v.name))}`;
  bag.add("reference", `${lossPath}/target`, `${what} (targets: ${targets.map((v) => v.name).join(", ") || "none"})`);
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
