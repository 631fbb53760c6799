/**
 * Keras 3's learning-rate schedules (keras/src/optimizers/schedules/learning_rate_schedule.py),
 * transcribed in float64 for the tests; `step` is the optimizer's `iterations` before the update.
 */
export type ScheduleArgs = { schedule: string } & Record<string, any>;

export function kerasLearningRate(s: ScheduleArgs, step: number): number {
  switch (s.schedule) {
    case "exponential_decay": {
      let p = step / s.decay_steps;
      if (s.staircase) p = Math.floor(p);
      return s.initial_learning_rate * s.decay_rate ** p;
    }
    case "inverse_time_decay": {
      let p = step / s.decay_steps;
      if (s.staircase) p = Math.floor(p);
      return s.initial_learning_rate / (1 + s.decay_rate * p);
    }
    case "polynomial_decay": {
      const end = s.end_learning_rate ?? 0.0001, power = s.power ?? 1;
      let g = step, d = s.decay_steps;
      if (s.cycle) d *= g === 0 ? 1 : Math.ceil(g / d);
      else g = Math.min(g, d);
      return (s.initial_learning_rate - end) * (1 - g / d) ** power + end;
    }
    case "cosine_decay": {
      const alpha = s.alpha ?? 0, d = s.decay_steps;
      const decay = (g: number, from: number) => from * ((1 - alpha) * (0.5 * (1 + Math.cos(Math.PI * (g / d)))) + alpha);
      if (s.warmup_target === undefined) return decay(Math.min(step, d), s.initial_learning_rate);
      const w = s.warmup_steps ?? 0, g = Math.min(step, d + w);
      if (g < w) return (s.warmup_target - s.initial_learning_rate) * (g / w) + s.initial_learning_rate;
      return decay(g - w, s.warmup_target);
    }
    case "piecewise_constant": {
      const b: number[] = s.boundaries, v: number[] = s.values;
      for (let i = 0; i < b.length; i++) if (step <= b[i]!) return v[i]!;
      return v[b.length]!;
    }
  }
  throw new Error(`unknown schedule ${s.schedule}`);
}
