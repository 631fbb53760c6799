/**
 * Streamed data (runtime/stream.ts): fit, evaluate and predict on iterables, async iterables and
 * functions of the epoch give bit-identical results to the same batches as whole arrays;
 * stepsPerEpoch runs one iterator across epochs and stops when it runs out (Keras); a used-up
 * generator, an oversized or misnamed batch are clear KilnErrors; the buffered shuffle's order
 * does not depend on chunking and equals bufferedShuffleOrder, its in-memory definition.
 */
import { describe, expect, test } from "vitest";
import { loadModel } from "../../runtime/index.js";
import { bufferedShuffleOrder, predictBatches, shuffledBatches } from "../../runtime/stream.js";
import { linearManifest, moduleBytes } from "./fixtures.js";
import { rejects } from "../util/errors.js";

const linear = async () => loadModel(await moduleBytes(linearManifest()));
const ramp = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
const bits = (w: Record<string, Float32Array>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Array.from(new Uint32Array(v.buffer))]));

const N = 22;
const data = { x: ramp(3 * N, (i) => Math.sin(i * 1.3)), y: ramp(2 * N, (i) => Math.cos(i) * 0.5) };
/** Batches of `size` in order (the last partial), as fresh arrays. */
const batchesOf = (size: number) =>
  Array.from({ length: Math.ceil(N / size) }, (_, b) => ({ x: data.x.slice(3 * b * size, 3 * Math.min(N, (b + 1) * size)), y: data.y.slice(2 * b * size, 2 * Math.min(N, (b + 1) * size)) }));


describe("fit on streamed batches", () => {
  test("an array, a generator function of the epoch and an async iterable all train as the whole arrays unshuffled", async () => {
    const whole = await linear();
    const want = await whole.fit(data, { epochs: 3, batchSize: 4, shuffle: false });
    const epochsSeen: number[] = [];
    const forms = [
      batchesOf(4),
      function* (epoch: number) {
        epochsSeen.push(epoch);
        yield* batchesOf(4);
      },
      { async *[Symbol.asyncIterator]() { for (const b of batchesOf(4)) yield b; } },
    ];
    for (const form of forms) {
      const m = await linear();
      const got = await m.fit(form, { epochs: 3 });
      expect(bits(m.getWeights())).toEqual(bits(whole.getWeights()));
      expect(got).toEqual(want);
    }
    expect(epochsSeen).toEqual([0, 1, 2]);
  });

  test("stepsPerEpoch runs one generator across epochs and stops training when it runs out", async () => {
    const m = await linear();
    const gen = (function* () {
      for (let k = 0; k < 5; k++) yield batchesOf(4)[k % 6];
    })();
    const seen: number[] = [];
    const h = await m.fit(gen, { epochs: 4, stepsPerEpoch: 2, onBatchEnd: (s) => void seen.push(s) });
    // 5 batches: epochs 1 and 2 whole, epoch 3 one batch, then the input ran out.
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(h.epoch).toEqual([0, 1, 2]);
  });

  test("a used-up generator, an oversized batch and a misnamed one are KilnErrors naming the problem", async () => {
    const m = await linear();
    const once = (function* () { yield* batchesOf(4); })();
    const used = await rejects(m.fit(once, { epochs: 2 }));
    expect(used.message).toMatch(/epoch 2 got no batches/);
    const big = await rejects((await linear()).fit([data], { epochs: 1 }));
    expect(big.message).toMatch(/batch 0.*22 examples.*maxBatch = 4/);
    const named = await rejects((await linear()).fit([batchesOf(4)[0], { x: data.x.slice(0, 3), z: data.y.slice(0, 2) }], { epochs: 1 }));
    expect(named.diagnostics.map((d) => d.path)).toContain("batch 1.z");
    const split = await rejects((await linear()).fit(batchesOf(4), { validationSplit: 0.2 }));
    expect(split.diagnostics[0].path).toBe("validationSplit");
  });

  test("evaluate and predict on batches equal them on the whole arrays; streamed validation data validates", async () => {
    const m = await linear();
    await m.fit(data, { epochs: 1 });
    const e = m.evaluate(data, { batchSize: 4 });
    expect(await m.evaluate(batchesOf(4))).toEqual(e);
    // Other batch sizes: the same means up to float rounding (evaluate's chunks differ).
    const es = await m.evaluate(batchesOf(3));
    expect(Math.abs(es.loss - e.loss)).toBeLessThan(1e-6 * Math.abs(e.loss));
    const p = m.predict({ x: data.x });
    expect(await predictBatches(m, (function* () { for (const b of batchesOf(5)) yield { x: b.x }; })())).toEqual(p);
    expect(await predictBatches(m, { async *[Symbol.asyncIterator]() { yield { x: data.x.slice(0, 9) }; yield { x: data.x.slice(9) }; } })).toEqual(p);
    const h = await m.fit(batchesOf(4), { epochs: 1, validationData: batchesOf(6) });
    expect(Number.isFinite(h.history.val_loss[0])).toBe(true);
  });
});

describe("buffered shuffle", () => {
  const slots = [{ name: "x", shape: [3], dtype: "float32" as const }, { name: "id", shape: [], dtype: "int32" as const }];
  /** Streams examples 0 … n−1 (x = [i, i, i], id = i) in chunks of `chunk` rows; returns the ids in the order they come out. */
  async function streamOrder(n: number, chunk: number, opts: { batchSize: number; shuffleBuffer: number; seed: number; epoch: number }) {
    const chunks = function* () {
      for (let s = 0; s < n; s += chunk) {
        const rows = Math.min(chunk, n - s);
        yield [ramp(3 * rows, (i) => s + Math.floor(i / 3)), Int32Array.from({ length: rows }, (_, i) => s + i)];
      }
    };
    const ids: number[] = [];
    const sizes: number[] = [];
    for await (const b of shuffledBatches(slots, chunks(), opts)) {
      const x = b.x as Float32Array, id = b.id as Int32Array;
      id.forEach((v, i) => expect(x.subarray(3 * i, 3 * i + 3)).toEqual(Float32Array.of(v, v, v))); // rows stay whole
      ids.push(...id);
      sizes.push(id.length);
    }
    return { ids, sizes };
  }

  test("the order is a permutation fixed by (count, buffer, seed, epoch), whatever the chunks, equal to bufferedShuffleOrder", async () => {
    for (const [n, buffer] of [[50, 8], [50, 64], [7, 0], [33, 1]]) {
      const want = Array.from(bufferedShuffleOrder(n, buffer, 3, 2));
      expect([...want].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      for (const chunk of [1, 5, 64]) {
        const { ids, sizes } = await streamOrder(n, chunk, { batchSize: 4, shuffleBuffer: buffer, seed: 3, epoch: 2 });
        expect(ids).toEqual(want);
        expect(sizes.slice(0, -1).every((s) => s === 4)).toBe(true);
      }
    }
    expect(Array.from(bufferedShuffleOrder(7, 0, 3, 2))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(bufferedShuffleOrder(50, 8, 3, 2)).not.toEqual(bufferedShuffleOrder(50, 8, 3, 3));
    expect(bufferedShuffleOrder(50, 8, 3, 2)).not.toEqual(bufferedShuffleOrder(50, 8, 4, 2));
    // A buffer of 8 moves no example more than 8 places earlier than it arrives.
    bufferedShuffleOrder(50, 8, 3, 2).forEach((id, k) => expect(k).toBeGreaterThanOrEqual(id - 8));
  });
});
