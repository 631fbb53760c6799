/**
 * fit on hand-made modules: bit-reproducible training, seeded per-epoch shuffles, the last partial
 * batch, epoch figures as batch-size-weighted means, validation, the non-finite-loss stop,
 * option checks, callbacks and yielding to the event loop.
 */
import { describe, expect, test } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import { readSafetensors } from "../../runtime/safetensors.js";
import { linearManifest, moduleBytes, probeManifest } from "./fixtures.js";

const linear = async (o = {}) => loadModel(await moduleBytes(linearManifest(o)));
const probe = async (o = {}) => loadModel(await moduleBytes(probeManifest(o)));
const ramp = (n: number, f = (i: number) => i) => Float32Array.from({ length: n }, (_, i) => f(i));
const bits = (w: Record<string, Float32Array>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Array.from(new Uint32Array(v.buffer))]));

/** Probe data whose train loss for a batch is the mean of column a[:, 0] = `first`. */
function probeData(first: number[], second = first.map((v) => v * 10)) {
  const n = first.length;
  const a = new Float32Array(2 * n);
  first.forEach((v, i) => ((a[2 * i] = v), (a[2 * i + 1] = second[i])));
  return { a, ids: new Int32Array(3 * n), t: new Float32Array(n) };
}

const steps = (bytes: Uint8Array) => {
  const t = readSafetensors(bytes).tensors.get("optimizer/step")!;
  return new Int32Array(t.data.buffer, t.data.byteOffset, 1)[0];
};

describe("reproducibility and order", () => {
  const data = { x: ramp(60, (i) => Math.sin(i * 1.3)), y: ramp(40, (i) => Math.cos(i) * 0.5) };

  test("two fits from the same seed give bit-identical weights and history", async () => {
    const a = await linear(), b = await linear();
    const ha = await a.fit(data, { epochs: 3, batchSize: 3 });
    const hb = await b.fit(data, { epochs: 3, batchSize: 3 });
    expect(bits(b.getWeights())).toEqual(bits(a.getWeights()));
    expect(hb).toEqual(ha);
    expect(ha.epoch).toEqual([0, 1, 2]);
    expect(Object.keys(ha.history).sort()).toEqual(["loss", "mean_absolute_error"]);
    expect(ha.history.loss[2]).toBeLessThan(ha.history.loss[0]); // it trains
    // Shuffling changes the result.
    const c = await linear();
    await c.fit(data, { epochs: 3, batchSize: 3, shuffle: false });
    expect(bits(c.getWeights())).not.toEqual(bits(a.getWeights()));
  });

  test("each epoch is a seeded permutation; shuffle: false keeps the order", async () => {
    const n = 12;
    const order = async (seed: number, shuffle = true) => {
      const m = await probe({ seed });
      const seen: number[] = [];
      await m.fit(probeData(Array.from({ length: n }, (_, i) => i)), {
        epochs: 2, batchSize: 1, shuffle, onBatchEnd: (_, logs) => void seen.push(logs.loss),
      });
      return [seen.slice(0, n), seen.slice(n)];
    };
    const [e0, e1] = await order(5);
    const sorted = Array.from({ length: n }, (_, i) => i);
    expect([...e0].sort((p, q) => p - q)).toEqual(sorted);
    expect([...e1].sort((p, q) => p - q)).toEqual(sorted);
    expect(e0).not.toEqual(sorted);
    expect(e1).not.toEqual(e0);
    expect(await order(5)).toEqual([e0, e1]);
    expect((await order(6))[0]).not.toEqual(e0);
    expect(await order(5, false)).toEqual([sorted, sorted]);
  });
});

describe("batches and epoch figures", () => {
  test("the last partial batch is included and epoch figures are means weighted by batch size", async () => {
    const m = await probe();
    const first = Array.from({ length: 10 }, (_, i) => i);
    const batches: [number, Record<string, number>][] = [];
    const epochs: [number, Record<string, number>][] = [];
    const h = await m.fit(probeData(first), {
      epochs: 2, batchSize: 4, shuffle: false,
      onBatchEnd: (step, logs) => void batches.push([step, logs]),
      onEpochEnd: (epoch, logs) => void epochs.push([epoch, logs]),
    });
    expect(batches.map(([s]) => s)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batches.slice(0, 3).map(([, l]) => l.loss)).toEqual([1.5, 5.5, 8.5]); // batches of 4, 4, 2
    // Weighted: (4·1.5 + 4·5.5 + 2·8.5) / 10 = 4.5 (the unweighted mean of batch means would be 5.17).
    expect(h.history.loss).toEqual([4.5, 4.5]);
    expect(h.history.accuracy).toEqual([42, 42]); // the probe reports the seed as its metric
    expect(epochs).toEqual([[0, { loss: 4.5, accuracy: 42 }], [1, { loss: 4.5, accuracy: 42 }]]);
    expect(steps(m.saveWeights())).toBe(6);
  });

  test("validation data is evaluated after every epoch", async () => {
    const m = await probe();
    const h = await m.fit(probeData([1, 2, 3]), {
      epochs: 2, batchSize: 2, validationData: probeData([0, 0, 0, 0, 0], [1, 2, 3, 4, 5]),
    });
    // evaluate's loss is the mean of a[:, 1]; its metric the chunk size (chunks of 2, 2, 1).
    expect(h.history.val_loss).toEqual([3, 3]);
    expect(h.history.val_accuracy[0]).toBeCloseTo((2 * 2 + 2 * 2 + 1) / 5, 6);
    expect(h.history.loss).toHaveLength(2);
  });

  test("async callbacks are awaited in order", async () => {
    const m = await probe();
    const events: string[] = [];
    await m.fit(probeData([1, 2, 3]), {
      epochs: 2, batchSize: 2, shuffle: false,
      onBatchEnd: async (step) => {
        await new Promise((r) => setTimeout(r, 1));
        events.push(`b${step}`);
      },
      onEpochEnd: async (epoch) => void events.push(`e${epoch}`),
    });
    expect(events).toEqual(["b0", "b1", "e0", "b2", "b3", "e1"]);
  });

  test("fit yields to the event loop between batches", async () => {
    const m = await probe();
    let timerRan = false;
    let sawTimer = false;
    setTimeout(() => (timerRan = true), 0);
    await m.fit(probeData(Array.from({ length: 8 }, (_, i) => i)), {
      batchSize: 1, yieldEvery: 0, onBatchEnd: (step) => void (step === 7 && (sawTimer = timerRan)),
    });
    expect(sawTimer).toBe(true);
  });
});

describe("stops and option checks", () => {
  test("a non-finite loss stops fit with a KilnError naming the step and epoch", async () => {
    const m = await probe();
    const err = await m.fit(probeData([1, 2, 3, -1, 5]), { epochs: 3, batchSize: 2, shuffle: false }).catch((e) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect(err.diagnostics[0]).toMatchObject({ code: "diverged", path: "fit" });
    expect(err.message).toMatch(/the loss became NaN at step 2 of this fit \(epoch 1, batch 2; counting from 1\); training stopped and that step was undone/);
    expect(steps(m.saveWeights())).toBe(1); // the failing step was undone, and nothing ran after it
  });

  test("the step count runs on across epochs", async () => {
    const m = await probe();
    const data = probeData([1, 2, 3]);
    const err = await m
      .fit(data, { epochs: 3, batchSize: 2, shuffle: false, onEpochEnd: () => void (data.a[0] = -1) })
      .catch((e) => e);
    expect(err.message).toMatch(/the loss became NaN at step 3 of this fit \(epoch 2, batch 1; counting from 1\)/);
  });

  test.each([
    [{ batchSize: 5 }, /batchSize must be an integer in \[1, 4\], got 5/],
    [{ batchSize: 1.5 }, /batchSize must be an integer in \[1, 4\], got 1.5/],
    [{ epochs: 0 }, /epochs must be an integer ≥ 1, got 0/],
    [{ validationData: { a: new Float32Array(2) } }, /input or target "ids": missing/],
  ])("bad options %j are rejected before any step", async (opts, message) => {
    const m = await probe();
    await expect(m.fit(probeData([1, 2, 3]), opts as never)).rejects.toThrow(message);
    expect(steps(m.saveWeights())).toBe(0);
  });

  test("bad training data is rejected naming the input", async () => {
    const m = await probe();
    const data = { ...probeData([1, 2]), t: new Float32Array(3) };
    await expect(m.fit(data)).rejects.toThrow(/input or target "t" has 3 examples but "a" has 2/);
  });
});
