// `kiln check` through main(): exit codes 0/1/2 and what is printed, with injected writers.
import { describe, expect, test } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../compiler/cli/main.js";

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "kiln-cli-"));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("kiln check", () => {
  test("valid graph: exit 0 and a summary with 93,322 parameters", async () => {
    const r = await run("check", "examples/mnist-cnn/graph.json");
    expect(r.code).toBe(0);
    expect(r.out).toContain("93,322");
    expect(r.out).toContain("(None, 10)");
    expect(r.err).toBe("");
  });

  test("--json prints the same summary as JSON", async () => {
    const r = await run("check", "--json", "examples/mnist-cnn/graph.json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.params.total).toBe(93322);
    expect(s.layers).toHaveLength(8);
    expect(s.outputs).toEqual(["probs"]);
    expect(s.optimizer).toEqual({ type: "adam", learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 });
  });

  test("invalid graph: exit 1, one problem per line with path and layer, schema and shape problems together in graph order", async () => {
    const p = file("bad.json", JSON.stringify({
      format: "kiln.graph/v2", name: "bad", inputs: [{ name: "x", shape: [2, 2, 64] }],
      layers: [{ name: "conv3", op: "conv2d", filters: 8, kernel_size: 3 }, { name: "d", op: "dense", unitz: 2 }, { name: "c", op: "conv2d", filters: 1 }],
    }));
    const r = await run("check", p);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    const lines = r.err.trim().split("\n");
    expect(lines).toEqual([
      `${p}: /layers/0/kernel_size, layer conv3: a 3x3 kernel with padding "valid" does not fit input 2x2x64`,
      `${p}: /layers/1/unitz, layer d: unknown attribute "unitz" for dense; did you mean "units"?`,
      `${p}: /layers/2/kernel_size, layer c: missing required "kernel_size" (a positive integer or a list of 2 positive integers)`,
    ]);
  });

  test("shape error names layer and path", async () => {
    const p = file("shape.json", JSON.stringify({
      format: "kiln.graph/v2", name: "bad", inputs: [{ name: "x", shape: [2, 2, 64] }],
      layers: [{ name: "conv3", op: "conv2d", filters: 8, kernel_size: 3 }],
    }));
    const r = await run("check", p);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${p}: /layers/0/kernel_size, layer conv3: a 3x3 kernel with padding "valid" does not fit input 2x2x64\n`);
  });

  test("malformed JSON: exit 1 with line and column", async () => {
    const r = await run("check", file("broken.json", '{\n  "format": "kiln.graph/v2",\n  "name": x\n}'));
    expect(r.code).toBe(1);
    expect(r.err).toContain("invalid JSON at line 3, column 11");
  });

  test.each([
    [["check"]],
    [["check", "a.json", "b.json"]],
    [["frobnicate"]],
    [["check", "--nope", "examples/mnist-cnn/graph.json"]],
    [["check", "--max-bytes", "-3", "examples/mnist-cnn/graph.json"]],
  ])("usage error %j: exit 2", async (argv) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).not.toBe("");
  });

  test("missing file is a usage error (exit 2)", async () => {
    const r = await run("check", join(dir, "nope.json"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("cannot read");
    expect(r.err).toContain("ENOENT");
  });

  test("--help works and exits 0", async () => {
    const top = await run("--help");
    expect(top.code).toBe(0);
    expect(top.out).toContain("check");
    const sub = await run("check", "--help");
    expect(sub.code).toBe(0);
    expect(sub.out).toContain("--json");
  });

  test("--max-bytes below the file size gives a limit error (exit 1)", async () => {
    const r = await run("check", "--max-bytes", "100", "examples/mnist-cnn/graph.json");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the graph text is \d+ bytes; the limit is 100 bytes/);
  });
});
