/**
 * Data larger than memory (issue 21 item 7): safetensors shards 10× the memory cap stream through
 * fit in flat memory — the stream's arrays stay within the cap (counted by the reader and, from
 * outside, by the largest single read and the process's ArrayBuffer bytes) — and train to the same
 * bits as the same data given whole, in the order the buffered shuffle defines
 * (bufferedShuffleOrder), one fit per epoch with shuffle off. `kiln train --shuffle-buffer` does
 * the same from the command line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { compile } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { openDataStream, openNodeFile, type OpenFile } from "../../compiler/cli/data/stream.js";
import { loadModel } from "../../runtime/index.js";
import { readSafetensors, writeDataFile } from "../../runtime/safetensors.js";
import { bufferedShuffleOrder } from "../../runtime/stream.js";
import type { Model } from "../../runtime/model.js";
import { uniform } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-stream-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FEATURES = 64, BATCH = 32, BUFFER = 256, SEED = 11;
const graph = {
  format: "kiln.graph/v2", name: "streamed", seed: SEED,
  inputs: [{ name: "x", shape: [FEATURES] }], targets: [{ name: "y", shape: [1] }],
  layers: [{ name: "h", op: "dense", units: 8, activation: "tanh" }, { name: "out", op: "dense", units: 1 }],
  training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { type: "adam", learning_rate: 0.01 } },
};
const GRAPH = join(dir, "graph.json");
writeFileSync(GRAPH, JSON.stringify(graph));

/** The memory cap of the stream, and data 10× it (an example is 65 float32s: 260 bytes), in two shards. */
const CAP = 256 * 1024;
const EXAMPLE = 4 * (FEATURES + 1);
const N = Math.ceil((10 * CAP) / EXAMPLE / 2) * 2 + 2;
const SHARDS = [join(dir, "part-0.safetensors"), join(dir, "part-1.safetensors")];
SHARDS.forEach((path, s) => {
  const n = N / 2, x = uniform(n * FEATURES, 100 + s), y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i * FEATURES]! * 0.5 - x[i * FEATURES + 1]! * 0.25; // learnable
  writeFileSync(path, writeDataFile({ x: { shape: [n, FEATURES], data: x }, y: { shape: [n, 1], data: y } }));
});

const model = async () => loadModel((await compile(graph, { maxBatch: BATCH })).wasm);
const slots = [{ name: "x", shape: [FEATURES], dtype: "float32" as const }, { name: "y", shape: [1], dtype: "float32" as const }];

/** The same data whole (shards concatenated), trained epoch by epoch in the buffered-shuffle order with shuffle off. */
async function inMemoryEquivalent(epochs: number): Promise<Model> {
  const files = SHARDS.map((p) => readSafetensors(readFileSync(p)).tensors);
  const whole = (name: string) => {
    const parts = files.map((t) => new Float32Array(t.get(name)!.data.buffer));
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    return all;
  };
  const x = whole("x"), y = whole("y");
  const m = await model();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = bufferedShuffleOrder(N, BUFFER, SEED, epoch);
    const px = new Float32Array(x.length), py = new Float32Array(y.length);
    order.forEach((row, k) => {
      px.set(x.subarray(row * FEATURES, (row + 1) * FEATURES), k * FEATURES);
      py[k] = y[row]!;
    });
    await m.fit({ x: px, y: py }, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: false });
  }
  return m;
}

describe("streamed safetensors shards", () => {
  test("10× the memory cap trains in flat memory and to the same bits as the data given whole", async () => {
    const m = await model();
    // Watched from outside the reader: every read's size and the total.
    let largestRead = 0, totalRead = 0;
    const watched: OpenFile = async (path) => {
      const f = await openNodeFile(path);
      return { ...f, read: async (into, at) => ((largestRead = Math.max(largestRead, into.length)), (totalRead += into.length), f.read(into, at)) };
    };
    const stream = await openDataStream(SHARDS, slots, { batchSize: BATCH, shuffleBuffer: BUFFER, memory: CAP, seed: SEED, openFile: watched });
    expect(stream.count).toBe(N);
    expect(N * EXAMPLE).toBeGreaterThan(10 * CAP);
    const base = process.memoryUsage().arrayBuffers;
    let grew = 0;
    await m.fit((epoch) => stream.batches(epoch), {
      epochs: 2, stepsPerEpoch: Math.ceil(N / BATCH),
      onBatchEnd: () => void (grew = Math.max(grew, process.memoryUsage().arrayBuffers - base)),
    });
    // The reader's own count: buffer, batch and chunk within the cap, allocated once per epoch.
    expect(stream.stats.peakPerEpoch).toBeLessThanOrEqual(CAP);
    expect(stream.stats.allocated).toBeLessThanOrEqual(2 * CAP);
    // From outside: every byte of data went through (twice), never more than the cap in one read,
    // and the process's ArrayBuffers grew by less than half the data (reading it whole would add all of it).
    expect(totalRead).toBeGreaterThanOrEqual(2 * N * EXAMPLE);
    expect(totalRead).toBe(stream.stats.bytesRead);
    expect(largestRead).toBeLessThanOrEqual(CAP);
    expect(grew).toBeLessThan((N * EXAMPLE) / 2);
    const whole = await inMemoryEquivalent(2);
    expect(Buffer.from(m.saveWeights()).equals(Buffer.from(whole.saveWeights()))).toBe(true);
    // And the buffer matters: a fully shuffled in-memory fit differs.
    const shuffled = await model();
    const all = readSafetensors(readFileSync(SHARDS[0]!)).tensors;
    await shuffled.fit({ x: new Float32Array(all.get("x")!.data.buffer), y: new Float32Array(all.get("y")!.data.buffer) }, { epochs: 2, batchSize: BATCH });
    expect(Buffer.from(shuffled.saveWeights()).equals(Buffer.from(whole.saveWeights()))).toBe(false);
  }, 120_000);

  test("kiln train --shuffle-buffer streams the shards and saves the weights of the in-memory equivalent", async () => {
    const out = join(dir, "streamed.safetensors");
    let text = "", err = "";
    const code = await main(["train", GRAPH, "--data", SHARDS[0]!, "--data", SHARDS[1]!, "--shuffle-buffer", String(BUFFER), "--data-memory", `${CAP / 1024}KB`,
      "--epochs", "2", "--batch-size", String(BATCH), "--out", out, "--verbose", "2"], { out: (t) => void (text += t), err: (t) => void (err += t) });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(text).toMatch(new RegExp(`^Epoch 1/2\\n${Math.ceil(N / BATCH)}/${Math.ceil(N / BATCH)} - \\d+s - \\d+[mu]?s/step - loss: `));
    const saved = readSafetensors(readFileSync(out));
    expect(saved.metadata?.["kiln.shuffle_buffer"]).toBe(String(BUFFER));
    const want = readSafetensors((await inMemoryEquivalent(2)).saveWeights()).tensors;
    expect([...saved.tensors.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, t] of want) expect(Buffer.from(saved.tensors.get(k)!.data).equals(Buffer.from(t.data)), k).toBe(true);
  }, 120_000);

  test("a streamed run resumed after epoch 1 ends with the bytes of the uninterrupted one", async () => {
    const cli = (...argv: string[]) => main(["train", GRAPH, "--data", SHARDS[0]!, "--data", SHARDS[1]!, "--shuffle-buffer", "64", "--batch-size", String(BATCH), "--verbose", "0", ...argv], { out: () => {}, err: (t) => void (err += t) });
    let err = "";
    const straight = join(dir, "straight.safetensors"), half = join(dir, "half.safetensors"), resumed = join(dir, "resumed.safetensors");
    expect(await cli("--epochs", "2", "--out", straight)).toBe(0);
    expect(await cli("--epochs", "1", "--out", half)).toBe(0);
    expect(await cli("--epochs", "2", "--resume", half, "--out", resumed)).toBe(0);
    expect(err).toBe("");
    expect(readFileSync(resumed).equals(readFileSync(straight))).toBe(true);
    // Resuming it with the data read whole (another order) says so.
    expect(await main(["train", GRAPH, "--data", SHARDS[0]!, "--data", SHARDS[1]!, "--batch-size", String(BATCH), "--verbose", "0", "--epochs", "2", "--resume", half, "--out", join(dir, "whole.safetensors")], { out: () => {}, err: (t) => void (err += t) })).toBe(0);
    expect(err).toMatch(/was trained with kiln\.shuffle_buffer "64", this run uses "none \(read whole\)"/);
  }, 120_000);

  test("a cap too small for the buffer, a shard missing a tensor and a non-safetensors file are clear errors", async () => {
    let err = "";
    const run = async (...argv: string[]) => {
      err = "";
      return main(["train", GRAPH, ...argv, "--out", join(dir, "x.safetensors")], { out: () => {}, err: (t) => void (err += t) });
    };
    expect(await run("--data", SHARDS[0]!, "--shuffle-buffer", "100000", "--data-memory", "1MB")).toBe(1);
    expect(err).toMatch(/--data-memory: a shuffle buffer of 100000 and a batch of 32 examples of 260 bytes need .* more than the 1,048,576 allowed/);
    const lonely = join(dir, "lonely.safetensors");
    writeFileSync(lonely, writeDataFile({ x: { shape: [2, FEATURES], data: new Float32Array(2 * FEATURES) } }));
    expect(await run("--data", SHARDS[0]!, "--data", lonely, "--shuffle-buffer", "8")).toBe(1);
    expect(err).toContain(`${lonely} has no tensor "y": expected [N, 1] F32`);
    const csv = join(dir, "d.csv");
    writeFileSync(csv, "a\n1\n");
    expect(await run("--data", csv, "--shuffle-buffer", "8")).toBe(2);
    expect(err).toContain(`--shuffle-buffer streams safetensors files`);
  }, 60_000);
});
