/**
 * Memory at the compiled batch (issue 15 item 5): a module's declared memory (the plan at the max
 * batch plus what compile adds) is checked against wasm32's 4 GiB and the --max-memory cap; over
 * it, a KilnError names the layer, the bytes per region and the largest batch that fits.
 * Nothing here allocates more than a few MB: the 4 GiB cases only plan (and compile, which
 * declares pages without allocating them); only the capped module is loaded.
 */
import { describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, plannedMemory } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { loadModel } from "../../runtime/index.js";
import { rejects } from "../util/errors.js";

const GiB = 1024 ** 3;

/** 256 KiB of input and 64 MiB of `wide` output per example: under 0.1 GiB at batch 1, past 4 GiB well before 64. */
const wide = {
  format: "kiln.graph/v1", name: "wide", inputs: [{ name: "x", shape: [1024, 64] }],
  layers: [{ name: "wide", op: "dense", units: 16384, activation: "relu" }, { name: "narrow", op: "dense", units: 8 }],
};

const largestIn = (message: string) => Number(/the largest batch that fits is (\d+)/.exec(message)?.[1]);

describe("memory at the compiled batch", () => {
  test("a graph that fits at batch 1 but not at 64: a KilnError names the layer and the largest batch, which plans under 4 GiB (the next does not) and compiles", async () => {
    const err = await rejects(compile(wide));
    expect(err.diagnostics).toHaveLength(1);
    const [d] = err.diagnostics;
    expect(d!.code).toBe("memory");
    expect(d!.layer).toBe("wide");
    expect(d!.path).toBe("/layers/0");
    expect(d!.message).toMatch(/^at max batch 64 the module needs \d+(\.\d+)? GiB of memory \(activations /);
    expect(d!.message).toContain("WebAssembly (wasm32) memory holds at most 4 GiB");
    const largest = largestIn(d!.message);
    expect(largest).toBeGreaterThan(1);
    expect(largest).toBeLessThan(64);
    expect(plannedMemory(wide, { maxBatch: 1 }).fits).toBe(true);
    const at = plannedMemory(wide, { maxBatch: largest });
    expect(at.fits).toBe(true);
    expect(at.bytes).toBeLessThanOrEqual(4 * GiB);
    expect(plannedMemory(wide, { maxBatch: largest + 1 }).bytes).toBeGreaterThan(4 * GiB);
    // Compiling declares the pages but allocates none of them.
    const { manifest } = await compile(wide, { maxBatch: largest });
    expect(manifest.memory.pages * 65536).toBe(at.bytes);
    expect(manifest.memory.pages).toBeLessThanOrEqual(65536);
  }, 60_000);

  test("a graph whose weights, gradients and optimizer slots exceed 4 GiB at any batch says so", async () => {
    // 1.5 GiB of weights pass the front end's batch-1 check; with their gradients and adam's two slots it is 6 GiB.
    const heavy = {
      format: "kiln.graph/v1", name: "heavy", inputs: [{ name: "x", shape: [16384] }], targets: [{ name: "y", shape: [24576] }],
      layers: [{ name: "big", op: "dense", units: 24576, use_bias: false }],
      training: { loss: { type: "mean_squared_error", output: "big", target: "y" }, optimizer: { type: "adam" } },
    };
    const err = await rejects(compile(heavy));
    const [d] = err.diagnostics;
    expect(d!.code).toBe("memory");
    expect(d!.layer).toBe("big");
    expect(d!.message).toContain("weights 1.50 GiB");
    expect(d!.message).toContain("optimizer slots 3.00 GiB");
    expect(d!.message).toMatch(/it does not fit at any batch: at batch 1 it needs \d\.\d+ GiB$/);
    expect(plannedMemory(heavy, { maxBatch: 1 }).fits).toBe(false);
  });

  test("maxMemory must be a whole number of bytes of at least two pages", async () => {
    for (const maxMemory of [1000, 1.5e6 + 0.5, -1]) {
      const err = await rejects(compile(wide, { maxMemory }));
      expect(err.diagnostics[0]!.code).toBe("options");
      expect(err.diagnostics[0]!.message).toContain(`got ${maxMemory}`);
    }
  });
});

describe("--max-memory", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-memory-"));
  const graphFile = join(dir, "capped.json");
  // 16 KiB of input and 64 KiB of `hidden` activations per example: ~5.4 MiB at batch 64.
  writeFileSync(graphFile, JSON.stringify({
    format: "kiln.graph/v1", name: "capped", inputs: [{ name: "x", shape: [64, 64] }],
    layers: [{ name: "hidden", op: "dense", units: 256, activation: "relu" }, { name: "out", op: "dense", units: 4 }],
  }));

  async function run(...argv: string[]) {
    let out = "", err = "";
    const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  }

  test("kiln compile over the cap: exit 1 naming the layer and the largest batch; at that batch the module fits the cap, loads and predicts", async () => {
    const wasmFile = join(dir, "capped.wasm");
    const over = await run("compile", graphFile, "--max-memory", "2MB", "-o", wasmFile);
    expect(over.code).toBe(1);
    expect(over.err).toContain(`${graphFile}: /layers/0, layer hidden: at max batch 64 the module needs`);
    expect(over.err).toContain("the memory cap (--max-memory, maxMemory) is 2.00 MiB");
    const largest = largestIn(over.err);
    expect(largest).toBeGreaterThan(1);
    expect(largest).toBeLessThan(64);

    const fits = await run("compile", graphFile, "--max-memory", "2MB", "--max-batch", String(largest), "-o", wasmFile);
    expect(fits.code).toBe(0);
    const model = await loadModel(new Uint8Array(readFileSync(wasmFile)));
    expect(model.manifest.memory.pages * 65536).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(model.manifest.maxBatch).toBe(largest);
    const x = Float32Array.from({ length: largest * 64 * 64 }, (_, i) => Math.sin(i));
    const y = model.predict({ x }).out!;
    expect(y.length).toBe(largest * 64 * 4);
    expect(y.every(Number.isFinite)).toBe(true);
    // One more example per call and it would not fit: the planner agrees with the CLI.
    const next = plannedMemory(readFileSync(graphFile, "utf8"), { maxBatch: largest + 1, maxMemory: 2 * 1024 * 1024 });
    expect(next.fits).toBe(false);
    expect(next.largestBatch).toBe(largest);
  }, 60_000);

  test("kiln predict takes --max-memory too (its --batch-size is the compiled batch)", async () => {
    const r = await run("predict", graphFile, "--data", join(dir, "unused.safetensors"), "--max-memory", "2097152");
    expect(r.code).toBe(1);
    expect(r.err).toContain("layer hidden: at max batch 64");
    expect(r.err).toContain("the memory cap (--max-memory, maxMemory) is 2.00 MiB");
  });

  test("kiln check shows the memory the compiled module declares at max batch 64, and what fits when it is over 4 GiB", async () => {
    const json = await run("check", "--json", graphFile);
    expect(json.code).toBe(0);
    const { memory } = JSON.parse(json.out);
    const { manifest } = await compile(readFileSync(graphFile, "utf8"));
    expect(memory.maxBatch).toBe(64);
    expect(memory.bytes).toBe(manifest.memory.pages * 65536);
    expect(memory.fits).toBe(true);
    const text = await run("check", graphFile);
    expect(text.out).toMatch(/\n Memory at max batch 64: 5\.\d\d MiB \(activations 4\.00 MiB; /);
    const wideFile = join(dir, "wide.json");
    writeFileSync(wideFile, JSON.stringify(wide));
    const over = await run("check", wideFile);
    expect(over.code).toBe(0);
    expect(over.out).toMatch(/over WebAssembly's 4 GiB: compile with --max-batch \d+ or less\n$/);
  }, 60_000);

  test.each([["12XB"], ["-5MB"], ["0"], ["0.1KB"], ["lots"]])("--max-memory %s is a usage error (exit 2)", async (size) => {
    const r = await run("compile", graphFile, "--max-memory", size);
    expect(r.code).toBe(2);
    expect(r.err).toContain("expected a size in bytes");
  });
});
