// Limits checked before parsing work: size, nesting depth, layer count — plus a ~10 MB graph and a
// 10,000-layer graph that must be checked correctly (outcomes asserted, never timings: those are
// `npm run check-limits`, scripts/limits-check.mjs).
import { describe, expect, test } from "vitest";
import { checkGraph, parseGraphText } from "../../compiler/frontend/index.js";
import { errorOf } from "./helpers.js";
import { chain, padded } from "./graphs-gen.js";

describe("limits", () => {
  test("10,000 layers (the maximum) are checked", () => {
    const g = checkGraph(JSON.stringify(chain(10_000)));
    expect(g.layers).toHaveLength(10_000);
    expect(g.layers[9_999].shape).toEqual([4]);
    expect(g.outputs).toEqual(["l00009999"]);
  });

  test("10,001 layers are a limit error, before schema validation", () => {
    const g = chain(10_001);
    (g.layers as Record<string, unknown>[])[5].op = "no_such_op"; // would be a schema error if validated
    const err = errorOf(JSON.stringify(g));
    expect(err.diagnostics).toEqual([{ code: "limit", path: "/layers", message: "the graph has 10001 layers; the limit is 10000" }]);
    expect(errorOf(g).diagnostics[0].code).toBe("limit");
  });

  test("a ~10 MB graph is checked", () => {
    // 10,000 layers with long names, pretty-printed with wide indentation.
    const text = padded(chain(10_000, 60));
    expect(text.length).toBeGreaterThan(9_000_000);
    expect(text.length).toBeLessThan(16 * 1024 * 1024);
    const g = checkGraph(text);
    expect(g.layers).toHaveLength(10_000);
    expect(g.layers[0].inputs).toEqual(["x"]);
  });

  test("a ~10 MB graph with one layer out of order and a typo deep inside is checked correctly", () => {
    const g = chain(10_000, 60);
    const layers = g.layers as Record<string, unknown>[];
    layers.push(layers.shift()!); // the first layer last: order must be recovered
    layers[7000].activation = "rellu";
    const err = errorOf(padded(g));
    expect(err.diagnostics).toHaveLength(1);
    expect(err.diagnostics[0].path).toBe("/layers/7000/activation");
  });

  test("text over maxBytes is rejected without parsing", () => {
    const big = " ".repeat(16 * 1024 * 1024) + "{";
    expect(errorOf(big).diagnostics).toEqual([{ code: "limit", path: "", message: `the graph text is ${big.length} bytes; the limit is 16777216 bytes` }]);
    // Multi-byte characters count as bytes, not characters.
    expect(errorOf(`{"name": "${"é".repeat(60)}"}`, { maxBytes: 100 }).diagnostics[0].code).toBe("limit");
  });

  test("nesting deeper than 64 is a limit error with line and column; 64 is not", () => {
    const deep = (n: number) => `{"format": ${"[".repeat(n)}${"]".repeat(n)}}`;
    expect(errorOf(deep(64)).diagnostics[0].code).toBe("limit");
    expect(errorOf(deep(63)).diagnostics[0].code).toBe("schema");
    expect(errorOf(deep(64)).diagnostics[0].message).toBe("JSON nesting deeper than 64 levels at line 1, column 75");
    // Brackets inside strings do not count.
    expect(() => parseGraphText(`{"a": "${"[".repeat(200)}\\"["}`)).not.toThrow();
  });

  test("parsed values: too deep or cyclic is a limit error", () => {
    let v: unknown = 1;
    for (let i = 0; i < 70; i++) v = [v];
    expect(errorOf({ format: v }).diagnostics[0]).toEqual({ code: "limit", path: "", message: "the graph is nested deeper than 64 levels" });
    const cyclic: Record<string, unknown> = { format: "kiln.graph/v2" };
    cyclic.self = cyclic;
    expect(errorOf(cyclic).diagnostics[0].code).toBe("limit");
  });

  test("limits are configurable", () => {
    expect(errorOf(JSON.stringify(chain(5)), { maxLayers: 4 }).diagnostics[0].message).toBe("the graph has 5 layers; the limit is 4");
    expect(checkGraph(JSON.stringify(chain(5)), { maxLayers: 5 }).layers).toHaveLength(5);
    expect(errorOf("[[[]]]", { maxDepth: 2 }).diagnostics[0].code).toBe("limit");
  });
});
