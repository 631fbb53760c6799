/**
 * Golden snapshots of every example graph's compilation: the printed IR after each pass of the
 * pipeline, the generated AssemblyScript and the SHA-256 of the module. A refactoring of the
 * compiler must leave them unchanged; a change of output must be intended and explained in its
 * commit. Update with `KILN_UPDATE_GOLDEN=1 npx vitest run test/golden`.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile, type CompileOptions } from "../../compiler/index.js";

const UPDATE = process.env.KILN_UPDATE_GOLDEN === "1";
const root = new URL("../../", import.meta.url);

/** Each example graph, at the options its run script and the web demo compile it with. */
const CASES: { name: string; graph: string; options: CompileOptions }[] = [
  { name: "linear-regression", graph: "examples/linear-regression/graph.json", options: {} },
  { name: "iris", graph: "examples/iris/graph.json", options: {} },
  { name: "mnist-cnn", graph: "examples/mnist-cnn/graph.json", options: {} },
  { name: "mnist-cnn.threads2", graph: "examples/mnist-cnn/graph.json", options: { threads: 2, maxBatch: 32 } },
  { name: "names-gender", graph: "examples/names-gender/graph.json", options: {} },
  { name: "names-transformer", graph: "examples/names-transformer/graph.json", options: {} },
  { name: "fine-tune", graph: "examples/fine-tune/graph-finetune.json", options: {} },
];

describe.each(CASES)("golden: $name", async ({ name, graph, options }) => {
  const dir = new URL(`test/golden/${name}/`, root);
  const passes: [string, string][] = [];
  const result = await compile(readFileSync(new URL(graph, root), "utf8"), { ...options, afterPass: (pass, ir) => passes.push([pass, ir()]) });
  const files = new Map(passes.map(([pass, ir], i) => [`${String(i).padStart(2, "0")}-${pass}.ir`, ir]));
  files.set("kernels.ts.txt", result.source);
  files.set("module.sha256", createHash("sha256").update(result.wasm).digest("hex") + "\n");
  if (UPDATE) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of files) writeFileSync(new URL(file, dir), text);
  }

  it("has a snapshot for every pass and none for a pass that is gone", () => {
    expect(existsSync(dir), `${dir.pathname} is missing: run with KILN_UPDATE_GOLDEN=1`).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([...files.keys()].sort());
  });

  it.each([...files.keys()])("%s is unchanged", (file) => {
    const path = new URL(file, dir);
    expect(existsSync(path), `${file} is missing: run with KILN_UPDATE_GOLDEN=1`).toBe(true);
    // Compared as text: on a mismatch vitest shows the first differing lines.
    expect(files.get(file)).toBe(readFileSync(path, "utf8"));
  });
});
