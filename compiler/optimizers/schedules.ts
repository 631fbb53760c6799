/**
 * Learning-rate schedules (Keras 3 `keras.optimizers.schedules`), computed inside the module by the
 * step-scalar kernel from the optimizer's step — the number of updates already applied, 0 for the
 * first (Keras's `optimizer.iterations`) — in f64 and rounded once to f32. A graph gives
 * `optimizer.learning_rate` as `{ "schedule": <name>, ...Keras's arguments }`. Since the step is
 * part of the saved optimizer state (`optimizer/step`), a resumed run continues the schedule
 * exactly. Each entry: its arguments (schema, with Keras's defaults), the checks the schema cannot
 * state, and the AssemblyScript that sets the f64 `lr` from the f64 `step`.
 */
import type { JsonSchema } from "../frontend/ops/op.js";
import { f64lit } from "../emit/code.js";
import { F32_MAX, boolean, num } from "./fragments.js";

export type Schedule = { schedule: ScheduleName } & Record<string, unknown>;

interface ScheduleDef {
  description: string;
  attrs: Record<string, JsonSchema>;
  required: string[];
  /** Problems the schema cannot state, as [attribute, message]. */
  check?(a: Record<string, any>): [string, string][];
  /** Statements declaring `lr: f64` from `step: f64`. */
  emit(a: Record<string, any>): string[];
}

const rate = (description: string, d?: number) => num("a number ≥ 0 (at most 3.4e38, float32)", description, d, { minimum: 0, maximum: F32_MAX });
const initial = rate("The learning rate at step 0.");
const steps = (description: string) => num("a number > 0", description, undefined, { exclusiveMinimum: 0, maximum: F32_MAX });
const lit = (x: number) => f64lit(x);

/** p = step / decay_steps, floored when staircase (exponential and inverse-time decay). */
const fraction = (a: Record<string, any>) => (a.staircase ? `Math.floor(step / ${lit(a.decay_steps)})` : `step / ${lit(a.decay_steps)}`);

export const SCHEDULES = {
  exponential_decay: {
    description: "initial_learning_rate · decay_rate^(step / decay_steps); the exponent floored with staircase.",
    attrs: { initial_learning_rate: initial, decay_steps: steps("Steps per decay."), decay_rate: rate("The decay rate."), staircase: boolean("Decay in discrete intervals.", false) },
    required: ["initial_learning_rate", "decay_steps", "decay_rate"],
    emit: (a) => [`const lr: f64 = ${lit(a.initial_learning_rate)} * Math.pow(${lit(a.decay_rate)}, ${fraction(a)});`],
  },
  inverse_time_decay: {
    description: "initial_learning_rate / (1 + decay_rate · step / decay_steps); the fraction floored with staircase.",
    attrs: { initial_learning_rate: initial, decay_steps: steps("Steps per decay."), decay_rate: rate("The decay rate."), staircase: boolean("Decay in discrete intervals.", false) },
    required: ["initial_learning_rate", "decay_steps", "decay_rate"],
    emit: (a) => [`const lr: f64 = ${lit(a.initial_learning_rate)} / (1.0 + ${lit(a.decay_rate)} * ${fraction(a)});`],
  },
  polynomial_decay: {
    description: "(initial − end) · (1 − min(step, decay_steps)/decay_steps)^power + end; with cycle, decay_steps grows to the next multiple of itself past step.",
    attrs: {
      initial_learning_rate: initial, decay_steps: steps("Steps to reach end_learning_rate."),
      end_learning_rate: rate("The final learning rate.", 0.0001), power: num("a number", "The power of the polynomial.", 1, { minimum: -F32_MAX, maximum: F32_MAX }),
      cycle: boolean("Repeat the decay past decay_steps.", false),
    },
    required: ["initial_learning_rate", "decay_steps"],
    emit: (a) => {
      const d = lit(a.decay_steps);
      const [s, ds] = a.cycle
        ? ["step", `${d} * (step == 0.0 ? 1.0 : Math.ceil(step / ${d}))`]
        : [`Math.min(step, ${d})`, d];
      return [
        `const ps: f64 = ${s};`,
        `const pd: f64 = ${ds};`,
        `const lr: f64 = (${lit(a.initial_learning_rate)} - ${lit(a.end_learning_rate)}) * Math.pow(1.0 - ps / pd, ${lit(a.power)}) + ${lit(a.end_learning_rate)};`,
      ];
    },
  },
  cosine_decay: {
    description: "Optional linear warmup from initial_learning_rate to warmup_target over warmup_steps, then a cosine decay over decay_steps to alpha times its start.",
    attrs: {
      initial_learning_rate: initial, decay_steps: steps("Steps to decay over (after the warmup)."),
      alpha: num("a number in [0, 1]", "The final rate as a fraction of the decay's start.", 0, { minimum: 0, maximum: 1 }),
      warmup_target: rate("The rate at the end of the warmup; absent: no warmup."),
      warmup_steps: num("a number ≥ 0", "Steps of linear warmup (with warmup_target).", 0, { minimum: 0, maximum: F32_MAX }),
    },
    required: ["initial_learning_rate", "decay_steps"],
    emit: (a) => {
      const d = lit(a.decay_steps), alpha = lit(a.alpha ?? 0);
      const decay = (s: string, from: string) => `${from} * ((1.0 - ${alpha}) * (0.5 * (1.0 + Math.cos(${lit(Math.PI)} * (${s} / ${d})))) + ${alpha})`;
      if (a.warmup_target === undefined) return [`const cs: f64 = Math.min(step, ${d});`, `const lr: f64 = ${decay("cs", lit(a.initial_learning_rate))};`];
      const w = lit(a.warmup_steps ?? 0), target = lit(a.warmup_target), init = lit(a.initial_learning_rate);
      return [
        `const cs: f64 = Math.min(step, ${d} + ${w});`,
        `const lr: f64 = cs < ${w} ? (${target} - ${init}) * (cs / ${w}) + ${init} : ${decay(`(cs - ${w})`, target)};`,
      ];
    },
  },
  piecewise_constant: {
    description: "values[0] while step ≤ boundaries[0], values[i] while boundaries[i−1] < step ≤ boundaries[i], the last value after.",
    attrs: {
      boundaries: { title: "a non-empty list of increasing numbers", description: "Steps where the rate changes.", type: "array", minItems: 1, maxItems: 1024, items: num("a number", "A step.", undefined, { minimum: -F32_MAX, maximum: F32_MAX }) },
      values: { title: "a list of numbers ≥ 0, one more than boundaries", description: "The rate in each interval.", type: "array", minItems: 2, maxItems: 1025, items: rate("A rate.") },
    },
    required: ["boundaries", "values"],
    check(a) {
      const out: [string, string][] = [];
      if (a.values.length !== a.boundaries.length + 1) out.push(["values", `expected ${a.boundaries.length + 1} values (one more than the ${a.boundaries.length} boundaries), got ${a.values.length}`]);
      const i = (a.boundaries as number[]).findIndex((b, k) => k > 0 && !(b > a.boundaries[k - 1]));
      if (i > 0) out.push([`boundaries/${i}`, `expected boundaries in increasing order; ${a.boundaries[i]} follows ${a.boundaries[i - 1]}`]);
      return out;
    },
    emit(a) {
      const b = a.boundaries as number[], v = a.values as number[];
      const out = [`let lr: f64 = ${lit(v[b.length])};`];
      // From the last boundary down: the first boundary the step does not pass wins.
      for (let k = b.length - 1; k >= 0; k--) out.push(`if (step <= ${lit(b[k])}) lr = ${lit(v[k])};`);
      return out;
    },
  },
} satisfies Record<string, ScheduleDef>;

export type ScheduleName = keyof typeof SCHEDULES;
export const SCHEDULE_NAMES = Object.keys(SCHEDULES) as ScheduleName[];

export const scheduleDef = (name: string): ScheduleDef => SCHEDULES[name as ScheduleName];

/** Whether a learning_rate attribute is a schedule (else a number). */
export const isSchedule = (lr: unknown): lr is Schedule => typeof lr === "object" && lr !== null;
