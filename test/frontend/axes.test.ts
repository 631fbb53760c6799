// Axis attributes count as Keras counts them (kiln.graph/v2): 0 is the batch axis, 1 the first axis
// of a shape written in the graph, -1 the last. kiln.graph/v1 files (axes counted within one
// example) are still read, their non-negative axes one higher, and `kiln check` says so.
import { describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkGraph } from "../../compiler/frontend/index.js";
import { main } from "../../compiler/cli/main.js";
import { errorOf, input, type Obj } from "./helpers.js";

const twoInputs = (format: string, layer: Obj): Obj => ({
  format, name: "t",
  inputs: [input([5, 3], "a"), input([2, 3], "b")],
  layers: [{ name: "cat", op: "concatenate", inputs: ["a", "b"], ...layer }],
});

describe("kiln.graph/v2 axes (Keras counting)", () => {
  test("concatenate axis 1 on [T, F] joins along T; axis 2 and -1 along F", () => {
    expect(checkGraph(twoInputs("kiln.graph/v2", { axis: 1 })).layers[0].shape).toEqual([7, 3]);
    const f = { format: "kiln.graph/v2", name: "t", inputs: [input([2, 3], "a"), input([2, 4], "b")] };
    for (const axis of [2, -1]) {
      expect(checkGraph({ ...f, layers: [{ name: "cat", op: "concatenate", inputs: ["a", "b"], axis }] }).layers[0].shape).toEqual([2, 7]);
    }
  });

  test("every axis attribute normalizes axis k and k − 3 of a [batch, 4, 6] input to the same per-example index", () => {
    const layers = (axis: number): Obj[] => [
      { name: "s", op: "softmax", axis },
      { name: "bn", op: "batch_normalization", axis },
    ];
    for (const [pos, neg] of [[1, -2], [2, -1]]) {
      const a = checkGraph({ format: "kiln.graph/v2", name: "t", inputs: [input([4, 6])], layers: layers(pos) });
      const b = checkGraph({ format: "kiln.graph/v2", name: "t", inputs: [input([4, 6])], layers: layers(neg) });
      expect(a.layers.map((l) => l.attrs.axis)).toEqual([pos - 1, pos - 1]);
      expect(b.layers.map((l) => l.attrs.axis)).toEqual([pos - 1, pos - 1]);
      expect(a.layers[1].weights[0].shape).toEqual([[4, 6][pos - 1]]);
    }
  });

  test("an axis that would span examples is an error naming the layer, for every op with an axis", () => {
    const g = {
      format: "kiln.graph/v2", name: "t", inputs: [input([4, 6], "a"), input([4, 6], "b")],
      layers: [
        { name: "s", op: "softmax", axis: 0, inputs: ["a"] },
        { name: "bn", op: "batch_normalization", axis: -3, inputs: ["a"] },
        { name: "ln", op: "layer_normalization", axis: 0, inputs: ["a"] },
        { name: "cat", op: "concatenate", axis: -3, inputs: ["a", "b"] },
      ],
    };
    const err = errorOf(g);
    expect(err.diagnostics.map((d) => [d.path, d.layer])).toEqual([
      ["/layers/0/axis", "s"], ["/layers/1/axis", "bn"], ["/layers/2/axis", "ln"], ["/layers/3/axis", "cat"],
    ]);
    for (const d of err.diagnostics) expect(d.message).toMatch(/is the batch axis of input shape \[batch, 4, 6\]: an axis may not span examples; expected an axis of one example \(valid: 1\.\.2 or -2\.\.-1\)/);
  });

  test("a v2 graph has no notes", () => {
    expect(checkGraph(twoInputs("kiln.graph/v2", { axis: 1 })).notes).toBeUndefined();
  });
});

describe("kiln.graph/v1 files are still read", () => {
  test("non-negative axes mean the v2 axis one higher; negative ones are unchanged", () => {
    const v1 = checkGraph(twoInputs("kiln.graph/v1", { axis: 0 }));
    const v2 = checkGraph(twoInputs("kiln.graph/v2", { axis: 1 }));
    expect(v1.layers).toEqual(v2.layers);
    expect(v1.format).toBe("kiln.graph/v1");
    const neg = checkGraph({ ...twoInputs("kiln.graph/v1", { axis: -2 }) });
    expect(neg.layers[0].shape).toEqual([7, 3]);
  });

  test("a note says the file is v1 and how each axis was read; the value passed in is not changed", () => {
    const g = twoInputs("kiln.graph/v1", { axis: 0 });
    const before = structuredClone(g);
    const notes = checkGraph(g).notes ?? [];
    expect(g).toEqual(before);
    expect(notes).toHaveLength(1);
    expect(notes[0].path).toBe("/format");
    expect(notes[0].message).toContain("the file is kiln.graph/v1");
    expect(notes[0].message).toContain('"cat" axis 0 (v2: 1)');
  });

  test("the note lists axis lists too (prelu shared_axes, dot axes), each read one higher, as the layers were", () => {
    const layers = (f: string, shared: number[], axes: number[]): Obj => ({
      format: f, name: "t", inputs: [input([4, 6], "a"), input([4, 6], "b")],
      layers: [
        { name: "p", op: "prelu", inputs: ["a"], shared_axes: shared },
        { name: "d", op: "dot", inputs: ["p", "b"], axes },
      ],
    });
    const v1 = checkGraph(layers("kiln.graph/v1", [0], [1, -1]));
    expect(v1.layers).toEqual(checkGraph(layers("kiln.graph/v2", [1], [2, -1])).layers);
    const note = v1.notes?.[0].message ?? "";
    expect(note).toContain('"p" shared_axes [0] (v2: [1])');
    expect(note).toContain('"d" axes [1, -1] (v2: [2, -1])');
  });

  test("a v1 file without axis attributes gets a note too, and compiles to the same layers as v2", () => {
    const text = readFileSync("examples/mnist-cnn/graph.json", "utf8");
    const v2 = checkGraph(text);
    const v1 = checkGraph(text.replace('"kiln.graph/v2"', '"kiln.graph/v1"'));
    expect(v1.layers).toEqual(v2.layers);
    expect(v1.notes?.[0].message).toContain(`This file sets no axis attribute: writing "format": "kiln.graph/v2" updates it.`);
  });

  test("kiln check prints the note on stderr and still exits 0 with the summary on stdout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-axes-"));
    const path = join(dir, "v1.json");
    writeFileSync(path, JSON.stringify({ ...twoInputs("kiln.graph/v1", { axis: 0 }), layers: [{ name: "cat", op: "concatenate", inputs: ["a", "b"], axis: 0 }, { name: "sm", op: "softmax", axis: -1 }] }));
    let out = "";
    let err = "";
    const code = await main(["check", path], { out: (t) => void (out += t), err: (t) => void (err += t) });
    expect(code).toBe(0);
    expect(out).toContain("(None, 7, 3)");
    const lines = err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: note: /format: the file is kiln.graph/v1: `));
    expect(lines[0]).toContain('"cat" axis 0 (v2: 1), "sm" axis -1.');
  });
});
