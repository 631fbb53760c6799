/**
 * `kiln train`'s progress as Keras 3 prints it (issue 21 item 9): "Epoch k/N" and the closing
 * "steps/steps ━━━ 0s 3ms/step - loss: …" line piped with --verbose 1, a live line on a terminal,
 * "steps/steps - 0s - 3ms/step - …" with --verbose 2, nothing with 0; Keras's number, ETA and
 * time formats. `kiln train --help` lists every flag the command has; `kiln --version` prints
 * package.json's version.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createProgram, main, type CliIO } from "../../compiler/cli/main.js";
import { epochLine, eta, kerasValue, liveLine, perStep } from "../../compiler/cli/progress.js";
import { writeDataFile } from "../../runtime/safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-progress-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const GRAPH = join(dir, "graph.json"), DATA = join(dir, "data.safetensors");
writeFileSync(GRAPH, JSON.stringify({
  format: "kiln.graph/v2", name: "progress", seed: 3,
  inputs: [{ name: "x", shape: [2] }], targets: [{ name: "y", shape: [1] }],
  layers: [{ name: "d", op: "dense", units: 1, activation: "sigmoid" }],
  training: { loss: { type: "binary_crossentropy", output: "d", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.1 }, metrics: ["accuracy"] },
}));
writeFileSync(DATA, writeDataFile({ x: { shape: [20, 2], data: Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)) }, y: { shape: [20, 1], data: Float32Array.from({ length: 20 }, (_, i) => i % 2) } }));

async function run(argv: string[], extra: Partial<CliIO> = {}) {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t), ...extra });
  return { code, out, err };
}
const train = (...flags: string[]) => run(["train", GRAPH, "--data", DATA, "--epochs", "2", "--batch-size", "4", "--out", join(dir, "w.safetensors"), ...flags]);

describe("Keras's progress", () => {
  test("--verbose 1 piped: Epoch k/N, then the closing bar line with time, time per step, metrics and validation", async () => {
    const r = await train("--validation-split", "0.2");
    expect(r.err).toBe("");
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe("Epoch 1/2");
    expect(lines[1]).toMatch(/^4\/4 ━{20} \d+s \d+(us|ms|s)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$/);
    expect(lines[2]).toBe("Epoch 2/2");
    expect(lines[4]).toMatch(/^saved /);
    expect(lines.length).toBe(5);
  });

  test("--verbose 2: one line per epoch; --verbose 0: none; a bad level is a usage error", async () => {
    const two = await train("--verbose", "2");
    expect(two.out).toMatch(/^Epoch 1\/2\n5\/5 - \d+s - \d+(us|ms|s)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}\nEpoch 2\/2\n5\/5 - .*\nsaved /);
    const zero = await train("--verbose", "0");
    expect(zero.out).toMatch(/^saved [^\n]*\n$/);
    const bad = await train("--verbose", "3");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("expected 0 (silent), 1 (progress bar) or 2 (one line per epoch)");
  });

  test("on a terminal the line is live (cli-progress): steps, the bar, ETA, time per step and running logs", async () => {
    let drawn = "";
    const terminal = Object.assign(new (await import("node:stream")).Writable({ write: (chunk, _e, done) => ((drawn += String(chunk)), done()) }), { isTTY: true, columns: 120 });
    const r = await run(["train", GRAPH, "--data", DATA, "--epochs", "1", "--batch-size", "4", "--out", join(dir, "w.safetensors")], { terminal });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Epoch 1\/1\n5\/5 ━{20} /);
    expect(drawn).toMatch(/0\/5 ─{20}/); // drawn at the epoch's start
    expect(drawn).toMatch(/\d\/5 ━*─* \d+s \d+(us|ms|s)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}/); // and the last update, when it stops
  });

  test("Keras's formats: 4 decimals or a 4-digit exponent, ETA m:ss and h:mm:ss, time per step in s, ms or us", () => {
    expect(kerasValue(0.48031)).toBe("0.4803");
    expect(kerasValue(12.5)).toBe("12.5000");
    expect(kerasValue(0.0001234)).toBe("1.2340e-04");
    expect(kerasValue(0)).toBe("0.0000e+00");
    expect(eta(7.9)).toBe("7s");
    expect(eta(65)).toBe("1:05");
    expect(eta(3725)).toBe("1:02:05");
    expect(perStep(2.4)).toBe("2s/step");
    expect(perStep(0.0042)).toBe("4ms/step");
    expect(perStep(0.000042)).toBe("42us/step");
    expect(epochLine(2, 469, 469, 2.4, { loss: 0.3, accuracy: 0.9 })).toBe("469/469 - 2s - 5ms/step - accuracy: 0.9000 - loss: 0.3000");
    expect(epochLine(1, 469, 469, 2.4, { loss: 0.3 })).toBe(`469/469 ${"━".repeat(20)} 2s 5ms/step - loss: 0.3000`);
    expect(liveLine(47, 469, 1, { loss: 1 })).toBe(` 47/469 ━━${"─".repeat(18)} 8s 21ms/step - loss: 1.0000`);
  });
});

describe("help and version", () => {
  test("kiln train --help lists every flag of the command", async () => {
    const r = await run(["train", "--help"]);
    expect(r.code).toBe(0);
    const trainCommand = createProgram({ io: { out: () => {}, err: () => {} }, setExitCode: () => {} }).commands.find((c) => c.name() === "train")!;
    const flags = trainCommand.options.map((o) => o.long!);
    expect(flags.length).toBeGreaterThan(35);
    for (const flag of [...flags, "--shuffle-buffer", "--data-memory", "--verbose", "--columns", "--data"]) expect(r.out, flag).toContain(flag);
  });

  test("kiln --version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ["--version", "-V"]) {
      const r = await run([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${version}\n`);
    }
  });
});
