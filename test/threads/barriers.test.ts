/**
 * Where threaded programs wait (threads.ts: barriersAfter): a predict made of batch-split calls
 * waits once, at its end; a train step only where one thread's share needs another's results.
 * (Whether the waits left out are safe is determinism.test.ts's job: it fails without them.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { barriersAfter, type Access } from "../../compiler/passes/threads.js";

const cnn = JSON.parse(readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));

/** The body of `<program>_t` and how many barriers it calls. */
function waits(source: string, program: string): { calls: number; barriers: number } {
  const body = source.slice(source.indexOf(`export function ${program}_t(`)).split("\n}\n")[0]!;
  return { calls: (body.match(/^ {2}if \(/gm) ?? []).length, barriers: (body.match(/barrier_\(nt, \d+\);/g) ?? []).length };
}

describe("barriers of the threaded seed CNN", () => {
  it("predict waits once; train_step five times", async () => {
    const { source } = await compile(JSON.stringify(cnn), { maxBatch: 8, threads: 2 });
    const predict = waits(source, "predict");
    expect(predict.calls).toBeGreaterThan(3);
    expect(predict.barriers).toBe(1);
    const train = waits(source, "train_step");
    // after the logits (the loss reads every row), after the loss (its gradient feeds every
    // example), before the weight gradients (column parts read every example), before the
    // optimizer (its parts read gradients other threads wrote), at the end
    expect(train.barriers).toBe(5);
    expect(train.calls).toBeGreaterThan(30);
  });
});

describe("barriersAfter", () => {
  const buf = (storage: number, write: boolean, start = storage * 1000, end = start + 100): Access => ({ storage, start, end, write });
  it("lets serial steps follow each other and batch steps follow each other through the same buffers", () => {
    expect(barriersAfter(["serial", "serial"], [[buf(1, true)], [buf(1, false), buf(2, true)]])).toEqual([false, true]);
    expect(barriersAfter(["batch", "batch"], [[buf(1, true)], [buf(1, false), buf(2, true)]])).toEqual([false, true]);
  });
  it("waits where a step reads or overwrites what another thread may have written", () => {
    expect(barriersAfter(["batch", "serial"], [[buf(1, true)], [buf(1, false)]])).toEqual([true, true]);
    expect(barriersAfter(["parts", "parts"], [[buf(1, true)], [buf(1, false)]])).toEqual([true, true]);
    expect(barriersAfter(["serial", "parts"], [[buf(1, false)], [buf(1, true)]])).toEqual([true, true]);
    // batch steps through two buffers that share bytes (laid out differently)
    expect(barriersAfter(["batch", "batch"], [[buf(1, true, 0, 100)], [buf(2, false, 50, 150)]])).toEqual([true, true]);
  });
  it("goes on without waiting where steps only share what they read", () => {
    expect(barriersAfter(["parts", "serial", "parts"], [[buf(1, false), buf(2, true)], [buf(1, false), buf(3, true)], [buf(1, false), buf(4, true)]]))
      .toEqual([false, false, true]);
  });
  it("remembers every step since the last barrier, not just the previous one", () => {
    // step 2 reads what step 0 wrote on any thread; step 1 in between touches something else
    expect(barriersAfter(["parts", "serial", "serial"], [[buf(1, true)], [buf(2, true)], [buf(1, false)]])).toEqual([false, true, true]);
  });
});
