/**
 * Where threaded programs wait (threads.ts: barriersAfter): a predict made of batch-split calls
 * waits once, at its end; a train step waits around its serial and column-part calls only.
 * (Whether the waits left out are safe is determinism.test.ts's job: it fails without them.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";

const cnn = JSON.parse(readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));

/** The body of `<program>_t` and how many barriers it calls. */
function waits(source: string, program: string): { calls: number; barriers: number } {
  const body = source.slice(source.indexOf(`export function ${program}_t(`)).split("\n}\n")[0]!;
  return { calls: (body.match(/^ {2}if \(/gm) ?? []).length, barriers: (body.match(/barrier_\(nt\);/g) ?? []).length };
}

describe("barriers of the threaded seed CNN", () => {
  it("predict waits once; train_step waits far less often than it calls", async () => {
    const { source } = await compile(JSON.stringify(cnn), { maxBatch: 8, threads: 2 });
    const predict = waits(source, "predict");
    expect(predict.calls).toBeGreaterThan(3);
    expect(predict.barriers).toBe(1);
    const train = waits(source, "train_step");
    expect(train.barriers).toBeGreaterThan(5); // around the loss, the weight gradients and the optimizer
    expect(train.barriers).toBeLessThan(train.calls / 2);
  });
});
