/**
 * Optimizer kernels (compiler/emit/optimizer.ts): three steps on two weights (n = 37: SIMD body +
 * tail; n = 3: tail only) against the Keras 3 rules computed in float64, for every optimizer and
 * option. Weights, slots and the step counter are checked after every step.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitClipScale, emitStepScalars, emitSumSquares, emitUpdate } from "../../compiler/emit/optimizer.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { CONFIGS, type Opt } from "./optimizer-configs.js";
import { kerasLearningRate } from "./schedule-ref.js";
import { buildKernels, relErr, rng, uniform, type TestModule } from "./trk-harness.js";

const SIZES = [37, 3];

/** The step's learning rate: a schedule's Keras value at `step` (updates before this one), or the number. */
function lrAt(o: Opt, step: number): number {
  return typeof o.learning_rate === "number" ? o.learning_rate : kerasLearningRate(o.learning_rate, step);
}

interface State { w: number[]; m: number[]; v: number[] }

/** One Keras 3 step in float64 for every weight (t counts from 1). */
function refStep(o: Opt, t: number, states: State[], grads: number[][]): void {
  const norm = (g: number[]) => Math.sqrt(g.reduce((a, x) => a + x * x, 0));
  const gAll = Math.sqrt(grads.reduce((a, g) => a + norm(g) ** 2, 0));
  const lr = lrAt(o, t - 1), mu = o.momentum ?? 0;
  states.forEach((st, k) => {
    let scale = 1;
    if (o.global_clipnorm !== undefined) scale = o.global_clipnorm / Math.max(gAll, o.global_clipnorm);
    if (o.clipnorm !== undefined) scale = o.clipnorm / Math.max(norm(grads[k]!), o.clipnorm);
    for (let i = 0; i < st.w.length; i++) {
      const g = grads[k]![i]! * scale;
      let w = st.w[i]!;
      if (o.weight_decay) w -= w * o.weight_decay * lr;
      if (o.type === "sgd") {
        if (mu === 0) w -= lr * g;
        else {
          st.m[i] = mu * st.m[i]! - lr * g;
          w += o.nesterov ? mu * st.m[i]! - lr * g : st.m[i]!;
        }
      } else if (o.type === "rmsprop") {
        st.v[i] = o.rho! * st.v[i]! + (1 - o.rho!) * g * g;
        const inc = lr * g / Math.sqrt(st.v[i]! + o.epsilon!);
        if (mu === 0) w -= inc;
        else {
          st.m[i] = mu * st.m[i]! + inc;
          w -= st.m[i]!;
        }
      } else {
        const b1 = o.beta_1!, b2 = o.beta_2!;
        st.m[i] = b1 * st.m[i]! + (1 - b1) * g;
        st.v[i] = b2 * st.v[i]! + (1 - b2) * g * g;
        w -= lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * st.m[i]! / (Math.sqrt(st.v[i]!) + o.epsilon!);
      }
      st.w[i] = w;
    }
  });
}

describe("optimizer kernels", () => {
  let mod: TestModule;
  beforeAll(async () => {
    const kernels: Record<string, KernelDef> = {};
    for (const n of SIZES) kernels[`sumsq_${n}`] = emitSumSquares({ n });
    for (const [name, o] of Object.entries(CONFIGS)) {
      kernels[`step_${name}`] = emitStepScalars({ type: o.type, learning_rate: o.learning_rate as any, beta_1: o.beta_1, beta_2: o.beta_2, global_clipnorm: o.global_clipnorm, settable: o.settable });
      if (o.clipnorm !== undefined) kernels[`clip_${name}`] = emitClipScale({ clipnorm: o.clipnorm });
      const { clipnorm: _c, global_clipnorm: _g, ...upd } = o;
      for (const n of SIZES) kernels[`upd_${name}_${n}`] = emitUpdate({ ...upd, n } as any);
    }
    mod = await buildKernels(kernels, 4);
  });

  it("sum of squares adds Σg² into the f32 at out", () => {
    mod.reset();
    const g = uniform(rng(3), 37, -3, 3);
    const out = mod.putF32([1.5]);
    mod.fn.sumsq_37!(mod.putF32(g), out);
    const want = 1.5 + g.reduce((a, x) => a + x * x, 0);
    expect(Math.abs(mod.f32(out, 1)[0]! - want) / want).toBeLessThan(1e-7);
  });

  for (const [name, o] of Object.entries(CONFIGS)) {
    it(`${name}: 3 steps match the Keras rule in float64`, () => {
      mod.reset();
      const r = rng(name.length * 7919 + 11);
      const w0 = SIZES.map((n) => uniform(r, n));
      const ref: State[] = w0.map((w) => ({ w: [...w], m: w.map(() => 0), v: w.map(() => 0) }));
      const bufs = SIZES.map((n, k) => ({ w: mod.putF32(w0[k]!), g: mod.alloc(n * 4), m: mod.alloc(n * 4), v: mod.alloc(n * 4) }));
      // state: the step counter, then the settable learning-rate word (0: the graph's rate); hyper: scale, rate, lr.
      const state = mod.alloc(8), sumsq = mod.alloc(4), hyper = mod.alloc(16), scratch = mod.alloc(4);
      for (let t = 1; t <= 3; t++) {
        // Large enough gradients that every clip actually clips (except the loose one).
        const grads = SIZES.map((n) => uniform(r, n, -2, 2));
        bufs.forEach((b, k) => mod.f32(b.g, SIZES[k]!).set(grads[k]!));
        mod.f32(sumsq, 1)[0] = 0;
        if (o.global_clipnorm !== undefined) bufs.forEach((b, k) => mod.fn[`sumsq_${SIZES[k]}`]!(b.g, sumsq));
        mod.fn[`step_${name}`]!(state, sumsq, hyper);
        expect(mod.i32(state, 1)[0]).toBe(t);
        bufs.forEach((b, k) => {
          if (o.clipnorm !== undefined) {
            mod.f32(scratch, 1)[0] = 0;
            mod.fn[`sumsq_${SIZES[k]}`]!(b.g, scratch);
            mod.fn[`clip_${name}`]!(scratch, hyper);
          }
          mod.fn[`upd_${name}_${SIZES[k]}`]!(b.w, b.g, b.m, b.v, hyper);
        });
        refStep(o, t, ref, grads);
        bufs.forEach((b, k) => {
          const n = SIZES[k]!;
          const w = mod.f32(b.w, n);
          // The change from the start, relative to its size: a far stricter check than on w itself.
          expect(relErr(w.map((x, i) => x - w0[k]![i]!), ref[k]!.w.map((x, i) => x - w0[k]![i]!))).toBeLessThan(1e-5);
          expect(relErr(w, ref[k]!.w)).toBeLessThan(1e-6);
          if (o.type !== "sgd" || (o.momentum ?? 0) > 0) expect(relErr(mod.f32(b.m, n), ref[k]!.m)).toBeLessThan(1e-5);
          if (o.type !== "sgd") expect(relErr(mod.f32(b.v, n), ref[k]!.v)).toBeLessThan(1e-5);
        });
      }
    });
  }

  it("the step scalars hold the clip scale and Adam's bias-corrected rate", () => {
    mod.reset();
    const state = mod.putI32([4]), sumsq = mod.putF32([16]), hyper = mod.alloc(8);
    mod.fn.step_adamw_gclip!(state, sumsq, hyper);
    expect(mod.i32(state, 1)[0]).toBe(5);
    const [scale, rate] = mod.f32(hyper, 2);
    expect(scale).toBe(Math.fround(1 / 4));
    expect(Math.abs(rate! - 0.05 * Math.sqrt(1 - 0.999 ** 5) / (1 - 0.9 ** 5)) / rate!).toBeLessThan(1e-7);
    mod.fn.step_sgd!(state, sumsq, hyper);
    expect(Array.from(mod.f32(hyper, 2))).toEqual([1, Math.fround(0.1)]);
  });

  it("rejects bad sizes and clip norms", () => {
    expect(() => emitUpdate({ type: "sgd", n: 0, learning_rate: 0.1 })).toThrow(/size/);
    expect(() => emitClipScale({ clipnorm: 0 })).toThrow(/clipnorm/);
  });
});
