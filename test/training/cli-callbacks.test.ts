/**
 * `kiln train`'s callback flags: early stopping with restored weights, checkpoints per epoch
 * (loadable, recording their epoch), reduce-LR-on-plateau (compiled with a settable rate),
 * CSV/JSON logs, validation split/frequency, and the usage errors of flags that need each other.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../compiler/cli/main.js";
import { readSafetensors, writeDataFile } from "../../runtime/safetensors.js";
import { uniform } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-cb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GRAPH = join(dir, "graph.json");
writeFileSync(GRAPH, JSON.stringify({
  format: "kiln.graph/v2", name: "cli_cb", seed: 2,
  inputs: [{ name: "x", shape: [3] }], targets: [{ name: "y", shape: [1] }],
  layers: [{ name: "d", op: "dense", units: 1 }],
  training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.05 } },
}));
const DATA = join(dir, "data.safetensors");
// y is noise: validation loss soon stops improving, so early stopping and reduce-LR act.
writeFileSync(DATA, writeDataFile(new Map([["x", { shape: [40, 3], data: uniform(120, 1) }], ["y", { shape: [40, 1], data: uniform(40, 2) }]])));

async function cli(...argv: string[]) {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe("kiln train callback flags", () => {
  it("early stopping + checkpoints + reduce-LR + logs on a validation split", async () => {
    const out = join(dir, "out.safetensors");
    const r = await cli("train", GRAPH, "--data", DATA, "--epochs", "60", "--batch-size", "8", "--validation-split", "0.25",
      "--early-stopping-patience", "3", "--restore-best-weights", "--reduce-lr-patience", "1", "--reduce-lr-factor", "0.5",
      "--checkpoint", join(dir, "ck-{epoch}.safetensors"), "--csv-log", join(dir, "log.csv"), "--json-log", join(dir, "log.jsonl"), "--out", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const stopped = /stopped after epoch (\d+)/.exec(r.out);
    expect(stopped, r.out).not.toBeNull();
    const epochs = Number(stopped![1]);
    expect(epochs).toBeLessThan(60);
    const csv = readFileSync(join(dir, "log.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("epoch,learning_rate,loss,val_loss");
    expect(csv.length).toBe(epochs + 1);
    const rates = csv.slice(1).map((l) => Number(l.split(",")[1]));
    expect(rates[0]).toBe(Math.fround(0.05));
    expect(Math.min(...rates)).toBeLessThan(0.05); // reduced at least once
    expect(readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").length).toBe(epochs);
    const ck = readSafetensors(readFileSync(join(dir, `ck-${epochs}.safetensors`)));
    expect(ck.metadata?.["kiln.epochs"]).toBe(String(epochs));
    // The reduced rate travels in the metadata (for --resume), not in the weights.
    const recorded = Number(ck.metadata?.["kiln.learning_rate"]);
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThanOrEqual(rates.at(-1)!);
    expect(readSafetensors(readFileSync(out)).metadata?.["kiln.epochs"]).toBe(String(epochs));
  });

  it("--resume starts at the reduced learning rate the checkpoint recorded (kiln.learning_rate)", async () => {
    // min_delta 1: no epoch counts as an improvement, so the rate halves after every epoch from the second.
    const flags = ["--data", DATA, "--batch-size", "8", "--validation-split", "0.25", "--reduce-lr-patience", "1", "--reduce-lr-factor", "0.5", "--reduce-lr-min-delta", "1"];
    const half = join(dir, "half.safetensors"), csv = join(dir, "resumed.csv");
    expect((await cli("train", GRAPH, ...flags, "--epochs", "4", "--out", half)).code).toBe(0);
    const recorded = Number(readSafetensors(readFileSync(half)).metadata?.["kiln.learning_rate"]);
    expect(recorded).toBe(Math.fround(0.05 / 8)); // reduced after epochs 2, 3 and 4
    const r = await cli("train", GRAPH, ...flags, "--epochs", "6", "--resume", half, "--csv-log", csv, "--out", join(dir, "resumed.safetensors"));
    expect(r.err).toBe("");
    const rows = readFileSync(csv, "utf8").trim().split("\n");
    expect(rows[1]!.split(",").slice(0, 2)).toEqual(["4", String(recorded)]);
  });

  it("refuses flags that watch val_ logs without validation data, and flags that go with another", async () => {
    const r = await cli("train", GRAPH, "--data", DATA, "--early-stopping-patience", "2", "--out", join(dir, "never.safetensors"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--early-stopping-patience watches val_loss, which needs --validation or --validation-split/);
    const r2 = await cli("train", GRAPH, "--data", DATA, "--restore-best-weights", "--out", join(dir, "never.safetensors"));
    expect(r2.err).toMatch(/--restore-best-weights goes with --early-stopping-patience/);
  });

  it("--help lists the callback flags", async () => {
    const r = await cli("train", "--help");
    for (const flag of ["--early-stopping-patience", "--restore-best-weights", "--checkpoint", "--reduce-lr-patience", "--terminate-on-nan", "--csv-log", "--json-log", "--validation-split", "--validation-freq"]) {
      expect(r.out + r.err).toContain(flag);
    }
  });
});
