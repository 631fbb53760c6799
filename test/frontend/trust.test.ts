// The public compile() checks every graph it is given (issue 22.7): only a Graph that checkGraph
// returned in this process skips the checks, and nothing a JSON value carries can claim that.
import { describe, expect, test } from "vitest";
import { checkGraph, compile } from "../../compiler/index.js";
import { KilnError } from "../../compiler/frontend/diagnostics.js";

const GRAPH = {
  format: "kiln.graph/v1", name: "t", inputs: [{ name: "x", shape: [3] }],
  layers: [{ name: "d", op: "dense", units: 2, activation: "relu" }],
};

async function compileError(input: unknown): Promise<KilnError> {
  try {
    await compile(input, { maxBatch: 2 });
  } catch (e) {
    expect(e).toBeInstanceOf(KilnError);
    return e as KilnError;
  }
  throw new Error("expected a KilnError");
}

describe("compile(object) always checks", () => {
  test('a Graph-like request body (layers with weights and shape arrays, activation "toString") is a schema error', async () => {
    const body = JSON.parse(JSON.stringify({ ...GRAPH, layers: [{ ...GRAPH.layers[0], activation: "toString", weights: [], shape: [2], inputs: ["x"] }], outputs: ["d"] }));
    const err = await compileError(body);
    expect(err.diagnostics.map((d) => d.path)).toContain("/layers/0/activation");
    expect(err.diagnostics.every((d) => d.code !== "internal")).toBe(true);
  });

  test("a copy of a checked Graph is not trusted: it is checked as a graph file (and is not one)", async () => {
    const copy = { ...checkGraph(JSON.stringify(GRAPH)) };
    const err = await compileError(copy);
    expect(err.diagnostics[0]!.code).toBe("schema");
  });

  test("a Graph from checkGraph compiles as its JSON does", async () => {
    const a = await compile(checkGraph(JSON.stringify(GRAPH)), { maxBatch: 2 });
    const b = await compile(JSON.stringify(GRAPH), { maxBatch: 2 });
    expect(Buffer.from(a.wasm).equals(Buffer.from(b.wasm))).toBe(true);
  });
});
