/**
 * The bench's own arithmetic and hygiene (issue 15, item 9): FLOP counts of the workloads, the
 * physical-ceiling formula per core kind, and that each start-up child loads only the packages its
 * system needs (traced, as the bench checks them before timing). No timing is asserted.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, test } from "vitest";
// @ts-expect-error -- plain JavaScript modules of the bench
import { forwardFlops, readGraph, mlpGraph } from "../../bench/lib/graphs.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { fpPipes, flopsPerCycle, clockProbe } from "../../bench/lib/ceiling.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { importsOf, packagesOf } from "../../bench/lib/startup.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { buildOnnx } from "../../bench/lib/ort.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { evaluateRealTargets } from "../../bench/lib/targets.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { threadsTable } from "../../bench/lib/report.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { peakProbe } from "../../bench/lib/peak.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { twoThreadPeak } from "../../bench/lib/peak2.js";
import { compileAssemblyScript } from "../../compiler/assemble/asc.js";

describe("bench FLOP counts", () => {
  test("dense, conv, LSTM and attention count 2 FLOP per multiply-add", () => {
    expect(forwardFlops(mlpGraph)).toBe(2 * (784 * 512 + 512 * 512 + 512 * 10));
    // names-gender: embedding 16 → LSTM 32 over 15 steps (4 gates from [x, h]) → dense 1.
    expect(forwardFlops(readGraph("examples/names-gender/graph.json"))).toBe(15 * 2 * 4 * 32 * (16 + 32) + 2 * 32);
    // The seed CNN: three valid 3×3 convs and two dense layers.
    const conv = (o: number, c: number, f: number) => 2 * o * o * f * 9 * c;
    expect(forwardFlops(readGraph("examples/mnist-cnn/graph.json"))).toBe(conv(26, 1, 32) + conv(11, 32, 64) + conv(3, 64, 64) + 2 * 576 * 64 + 2 * 64 * 10);
    const attention = {
      inputs: [{ name: "x", shape: [5, 8] }],
      layers: [{ name: "a", op: "multi_head_attention", num_heads: 2, key_dim: 3 }],
    };
    // Q, K, V: 5×8 → 5×6 each; output 5×6 → 5×8; scores and weighted sums 2 heads × 5×5×3 each.
    expect(forwardFlops(attention)).toBe(3 * 2 * 5 * 8 * 6 + 2 * 5 * 6 * 8 + 2 * (2 * 2 * 5 * 5 * 3));
  });

  test("strided, same-padded and depthwise convs count their output positions; an op the count does not know is refused", () => {
    // 8×8×3, conv 3×3/2 same → 4×4×4; zero padding → 6×6×4; depthwise 3×3 ×2 valid → 4×4×8; concat with itself → 16 channels.
    const g = {
      inputs: [{ name: "x", shape: [8, 8, 3] }],
      layers: [
        { name: "c", op: "conv2d", filters: 4, kernel_size: 3, strides: 2, padding: "same" },
        { name: "p", op: "zero_padding2d", padding: 1 },
        { name: "d", op: "depthwise_conv2d", kernel_size: 3, depth_multiplier: 2 },
        { name: "j", op: "concatenate", inputs: ["d", "d"] },
        { name: "g", op: "global_average_pooling2d" },
        { name: "o", op: "dense", units: 5 },
      ],
    };
    expect(forwardFlops(g)).toBe(2 * 4 * 4 * 4 * 9 * 3 + 2 * 4 * 4 * 8 * 9 + 2 * 16 * 5);
    // Only the layers `include` accepts (a frozen backbone's head).
    expect(forwardFlops(g, (l: { name: string }) => l.name === "o")).toBe(2 * 16 * 5);
    const unknown = { inputs: [{ name: "x", shape: [4] }], layers: [{ name: "q", op: "mystery" }] };
    expect(() => forwardFlops(unknown)).toThrow(/op mystery is not counted/);
  });
});

describe("bench physical ceiling", () => {
  test("FLOP per cycle from the core's FP pipes: Zen 16 for both builds, Intel 8 plain / 16 relaxed", () => {
    const zen = fpPipes({ vendor: "AuthenticAMD", family: 25, model: 17 });
    expect([flopsPerCycle(zen, "plain"), flopsPerCycle(zen, "relaxed"), zen.known]).toEqual([16, 16, true]);
    const intel = fpPipes({ vendor: "GenuineIntel", family: 6, model: 106 });
    expect([flopsPerCycle(intel, "plain"), flopsPerCycle(intel, "relaxed")]).toEqual([8, 16]);
    const other = fpPipes({ vendor: "ARM", family: 0, model: 0 });
    expect(other.known).toBe(false);
    expect(other.why).toMatch(/assumed/);
  });

  test("the clock probe's module validates and runs the chain it counts", async () => {
    const probe = await clockProbe(1e5);
    expect(probe.adds % 128).toBe(0);
    expect(probe.adds).toBeGreaterThanOrEqual(1e5 - 128);
    // y = 3 added `adds` times per step, XOR-ed into the sink over the 9 steps run so far: nonzero.
    expect(probe.sink()).not.toBe(0);
  });
});

describe("bench start-up children load only their system's packages", () => {
  const dir = mkdtempSync(tmpdir() + "/kiln-bench-test-");
  const graph = { inputs: [{ name: "x", shape: [3] }], layers: [{ name: "d", op: "dense", units: 2 }] };
  const weights = { "d/kernel": Float32Array.from([1, 2, 3, 4, 5, 6]), "d/bias": Float32Array.from([0.5, -0.5]) };
  writeFileSync(`${dir}/m.onnx`, buildOnnx(graph, weights));
  writeFileSync(`${dir}/graph.json`, JSON.stringify(graph));
  writeFileSync(`${dir}/weights.json`, JSON.stringify([{ name: "d/kernel", shape: [3, 2] }, { name: "d/bias", shape: [2] }]));
  writeFileSync(`${dir}/weights.bin`, Buffer.concat([weights["d/kernel"], weights["d/bias"]].map((w) => Buffer.from(w.buffer))));

  test("packagesOf names the innermost node_modules package of each path", () => {
    expect(packagesOf(["/r/node_modules/a/x.js", "file:///r/node_modules/@s/b/y.mjs", "/r/node_modules/a/node_modules/c/z.js", "/r/dist/runtime/index.js"])).toEqual(["@s/b", "a", "c"]);
  });

  test("ORT-web: onnxruntime-web without onnx-proto", async () => {
    const packages = await importsOf("ort-web", ["bench/startup/ort.js", `${dir}/m.onnx`, "x", "3"], dir);
    expect(packages).toContain("onnxruntime-web");
    expect(packages).not.toContain("onnx-proto");
  });

  test("TF.js cpu: core, layers and the cpu backend, without the wasm backend or the umbrella", async () => {
    const packages = await importsOf("tfjs-cpu", ["bench/startup/tfjs.js", "cpu", `${dir}/graph.json`, `${dir}/weights.bin`, `${dir}/weights.json`], dir);
    expect(packages).toEqual(expect.arrayContaining(["@tensorflow/tfjs-core", "@tensorflow/tfjs-layers", "@tensorflow/tfjs-backend-cpu"]));
    for (const p of ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-webgl", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-data"]) expect(packages).not.toContain(p);
  });

  test("TF.js wasm: core, layers and the wasm backend, without the umbrella or webgl", async () => {
    const packages = await importsOf("tfjs-wasm", ["bench/startup/tfjs.js", "wasm", `${dir}/graph.json`, `${dir}/weights.bin`, `${dir}/weights.json`], dir);
    expect(packages).toEqual(expect.arrayContaining(["@tensorflow/tfjs-core", "@tensorflow/tfjs-layers", "@tensorflow/tfjs-backend-wasm"]));
    for (const p of ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-webgl", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-data"]) expect(packages).not.toContain(p);
  });

  test("a child that loads a package its system does not need is refused, naming it", async () => {
    // The ORT-web rule applied to the TF.js child, which loads tfjs-core: the check must fail.
    await expect(importsOf("ort-web", ["bench/startup/tfjs.js", "cpu", `${dir}/graph.json`, `${dir}/weights.bin`, `${dir}/weights.json`], dir)).rejects.toThrow(/loaded @tensorflow\/tfjs-core, which ort-web does not need/);
  });
});

describe("bench two-thread rows carry the machine's own two-thread scaling", () => {
  const row = (one: number, two: number, machine?: number) => ({
    id: "resnet20-train-b64",
    systems: [{ name: "kiln", wallMs: one }, { name: "kiln (2 threads)", wallMs: two }],
    ...(machine === undefined ? {} : { machineThreads: { wall: machine, cpu: 1.3 } }),
  });
  const target = (w: object) => evaluateRealTargets({ workloads: [w], real: { deep: undefined } })
    .find((t: { target: string }) => t.target.startsWith("ResNet-20 training b64: kiln 2 threads"));

  test("the verdict is kiln's own figure against 1.7×, whatever the machine gave; the machine's figure is shown beside it", () => {
    // 2026-12-07 17:56: 280.18 → 198.61 ms (1.41×); had the peak loop reached only 1.45×, still a miss.
    expect(target(row(280.18, 198.61, 1.45))).toMatchObject({ wall: "1.41× (the peak loop: 1.45×)", met: "no" });
    expect(target(row(280, 150, 1.97))).toMatchObject({ wall: "1.87× (the peak loop: 1.97×)", met: "yes" });
    // Runs before the control (no machineThreads) read as before.
    expect(target(row(280.18, 198.61))).toMatchObject({ wall: "1.41×", met: "no" });
  });

  test("the two-thread table has the machine's column", () => {
    const w = { ...row(280.18, 198.61, 1.45), title: "ResNet-20", unit: "samples/s" };
    const table: string = threadsTable({ workloads: [w] }, []);
    expect(table).toContain("the machine: peak loop 2 ÷ 1 threads, same rounds");
    expect(table).toContain("1.45× (CPU per loop 1.30×)");
  });

  test("the two-thread peak probe runs the loop on a worker as well as here, and stops", async () => {
    const probe = await peakProbe(compileAssemblyScript, 1e6);
    const two = await twoThreadPeak(probe);
    try {
      expect(two.flops).toBe(2 * probe.flops);
      const before = probe.sink();
      for (let i = 0; i < 3; i++) two.step(); // returns only once the worker has finished its loop too
      expect(probe.sink()).not.toBe(before);
    } finally {
      await two.dispose();
    }
  }, 60_000);
});

describe("bench browser start-up table", () => {
  test("each system's time and CPU over kiln's streaming load, memory in MB, a failed system's error in its row", async () => {
    // @ts-expect-error -- plain JavaScript module of the bench
    const { browserStartupTable } = await import("../../bench/lib/report.js");
    const system = (name: string, ms: number, cpuMs: number, memoryBytes: number) =>
      ({ name, rounds: 5, firstPredictionMs: ms, htmlToPredictionMs: ms - 10, predictMs: 20, cpuMs, memoryBytes, downloadedBytes: 2 * 1048576 });
    const table: string = browserStartupTable({ rows: [{ title: "seed CNN", systems: [
      system("kiln (compileStreaming)", 200, 300, 1114112),
      system("kiln (compile(arrayBuffer))", 250, 330, 1114112),
      system("tfjs-wasm", 500, 900, 16 * 1048576),
      { name: "ort-web", error: "first prediction differs from kiln's in Node by 0.5" },
    ] }] });
    const rows = table.split("\n").slice(2).map((line) => line.split(" | "));
    expect(rows).toHaveLength(4);
    expect(rows[1]!.slice(1, 9)).toEqual(["kiln (compile(arrayBuffer))", "250 ms", "240 ms", "20 ms", "1.25×", "330 ms", "1.10×", "1.06 MB"]);
    expect(rows[2]!.slice(5, 9)).toEqual(["2.50×", "900 ms", "3.00×", "16.00 MB"]);
    expect(rows[3]![2]).toBe("✗ first prediction differs from kiln's in Node by 0.5");
  });
});
