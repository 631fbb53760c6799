/**
 * Learning-rate schedules computed by the step-scalar kernel (compiler/optimizers/schedules.ts)
 * against Keras 3's formulas in float64 (schedule-ref.ts) at step 0, 1, the end of the warmup, mid
 * decay, the end and past it. TF.js has no learning-rate schedules (its optimizers take a number),
 * so there is nothing there to cross-check against. Also: the settable learning-rate word.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitStepScalars } from "../../compiler/emit/optimizer.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { buildKernels, type TestModule } from "./trk-harness.js";
import { kerasLearningRate, type ScheduleArgs } from "./schedule-ref.js";

const CASES: Record<string, { s: ScheduleArgs; steps: number[] }> = {
  exponential: { s: { schedule: "exponential_decay", initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.96 }, steps: [0, 1, 5, 10, 15, 1000] },
  exponential_staircase: { s: { schedule: "exponential_decay", initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: true }, steps: [0, 1, 9, 10, 19, 20, 35] },
  inverse_time: { s: { schedule: "inverse_time_decay", initial_learning_rate: 0.1, decay_steps: 1, decay_rate: 0.5 }, steps: [0, 1, 2, 7, 100] },
  inverse_time_staircase: { s: { schedule: "inverse_time_decay", initial_learning_rate: 0.1, decay_steps: 4, decay_rate: 0.5, staircase: true }, steps: [0, 3, 4, 9, 100] },
  polynomial: { s: { schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 10, end_learning_rate: 0.01, power: 0.5 }, steps: [0, 1, 5, 10, 11, 50] },
  polynomial_defaults: { s: { schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 10, end_learning_rate: 0.0001, power: 1 }, steps: [0, 1, 5, 10, 20] },
  polynomial_cycle: { s: { schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 10, end_learning_rate: 0.01, power: 2, cycle: true }, steps: [0, 1, 5, 10, 11, 20, 25] },
  cosine: { s: { schedule: "cosine_decay", initial_learning_rate: 0.1, decay_steps: 100, alpha: 0 }, steps: [0, 1, 50, 99, 100, 150] },
  cosine_alpha: { s: { schedule: "cosine_decay", initial_learning_rate: 0.1, decay_steps: 100, alpha: 0.2 }, steps: [0, 1, 50, 100, 1000] },
  cosine_warmup: {
    s: { schedule: "cosine_decay", initial_learning_rate: 0, decay_steps: 100, alpha: 0.1, warmup_target: 0.1, warmup_steps: 10 },
    steps: [0, 1, 5, 9, 10, 11, 60, 110, 500],
  },
  piecewise: { s: { schedule: "piecewise_constant", boundaries: [10, 20], values: [1, 0.5, 0.1] }, steps: [0, 1, 10, 11, 20, 21, 1000] },
};

describe("learning-rate schedules in the step-scalar kernel", () => {
  let mod: TestModule;
  beforeAll(async () => {
    const kernels: Record<string, KernelDef> = {};
    for (const [name, c] of Object.entries(CASES)) kernels[name] = emitStepScalars({ type: "sgd", learning_rate: c.s as any });
    kernels.adam_cosine = emitStepScalars({ type: "adam", learning_rate: CASES.cosine_warmup!.s as any, beta_1: 0.9, beta_2: 0.999 });
    kernels.settable = emitStepScalars({ type: "sgd", learning_rate: 0.01, settable: true });
    kernels.adam_settable = emitStepScalars({ type: "adam", learning_rate: 0.01, beta_1: 0.9, beta_2: 0.999, settable: true });
    mod = await buildKernels(kernels, 4);
  });

  /** Runs `kernel` as the update after `step` earlier ones; returns [hyper[1], hyper[2]]. */
  function at(kernel: string, step: number, lrWord = 0): [number, number] {
    mod.reset();
    const state = mod.putI32([step, 0]), sumsq = mod.alloc(4), hyper = mod.alloc(16);
    mod.f32(state + 4, 1)[0] = lrWord;
    mod.fn[kernel]!(state, sumsq, hyper);
    expect(mod.i32(state, 1)[0]).toBe(step + 1);
    const h = mod.f32(hyper, 3);
    return [h[1]!, h[2]!];
  }

  const rel = (got: number, want: number) => (want === 0 ? Math.abs(got) : Math.abs(got - want) / Math.abs(want));

  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: Keras's rate at steps ${c.steps.join(", ")}`, () => {
      for (const step of c.steps) {
        const want = kerasLearningRate(c.s, step);
        const [rate, lr] = at(name, step);
        expect(rel(lr, want), `${name} at step ${step}: ${lr} vs ${want}`).toBeLessThan(1e-6);
        expect(rate).toBe(lr); // sgd: no factor on the rate
      }
    });
  }

  it("values written out from Keras's formulas (documentation examples)", () => {
    // ExponentialDecay(0.1, 10, 0.96) at step 15: 0.1 · 0.96^1.5
    expect(rel(at("exponential", 15)[1], 0.1 * 0.96 ** 1.5)).toBeLessThan(1e-6);
    // staircase at 19: 0.1 · 0.5^1
    expect(at("exponential_staircase", 19)[1]).toBe(Math.fround(0.05));
    // PiecewiseConstantDecay([10, 20], [1, 0.5, 0.1]): step 10 is still 1.0, step 11 is 0.5
    expect(at("piecewise", 10)[1]).toBe(1);
    expect(at("piecewise", 11)[1]).toBe(0.5);
    // cosine with warmup: half-way through the warmup 0.05, at its end the target 0.1, at the very end alpha·0.1
    expect(at("cosine_warmup", 5)[1]).toBe(Math.fround(0.05));
    expect(at("cosine_warmup", 10)[1]).toBe(Math.fround(0.1));
    expect(rel(at("cosine_warmup", 110)[1], 0.01)).toBeLessThan(1e-6);
  });

  it("Adam puts its bias correction on the scheduled rate", () => {
    for (const step of [0, 4, 10, 60]) {
      const lr = kerasLearningRate(CASES.cosine_warmup!.s, step), t = step + 1;
      const [rate, raw] = at("adam_cosine", step);
      expect(rel(raw, lr)).toBeLessThan(1e-6);
      if (lr > 0) expect(rel(rate, lr * Math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t))).toBeLessThan(1e-6);
    }
  });

  it("a settable rate: the graph's number until the word is set, then the word", () => {
    expect(at("settable", 3)).toEqual([Math.fround(0.01), Math.fround(0.01)]);
    expect(at("settable", 3, 0.25)).toEqual([0.25, 0.25]);
    const [rate] = at("adam_settable", 0, 0.5);
    expect(rel(rate, 0.5 * Math.sqrt(1 - 0.999) / (1 - 0.9))).toBeLessThan(1e-6);
  });
});
