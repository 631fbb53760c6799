/**
 * Fused elementwise kernels against a float64 evaluation of the same expressions: odd sizes,
 * runtime rows, every broadcast kind, i32 inputs, accumulate, multi-output, every unary op and
 * comparison. All kernels go into one module compiled once.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitElementwise, type ElementwiseSpec } from "../../compiler/emit/elementwise.js";
import type { EwExpr, EwInput, EwUnary } from "../../compiler/ir/expr.js";
import { bcastIndex, buildModule, evalExpr, randomArray, relErr, rng, type TestModule } from "./ew-harness.js";

const X = (i: number): EwExpr => ({ k: "in", i });
const C = (v: number): EwExpr => ({ k: "const", v });
const un = (op: EwUnary, a: EwExpr): EwExpr => ({ k: "un", op, a });
const bin = (op: "add" | "sub" | "mul" | "div" | "max" | "min", a: EwExpr, b: EwExpr): EwExpr => ({ k: "bin", op, a, b });
const FULL: EwInput = { div: 1 };

interface Case { name: string; spec: ElementwiseSpec; rows: number; ints?: boolean }
const cases: Case[] = [];
const add = (name: string, spec: ElementwiseSpec, rows?: number, ints?: boolean): void => {
  cases.push({ name, spec, rows: rows ?? (spec.rows as number), ints });
};

for (const [r, c] of [[1, 1], [3, 5], [5, 7], [7, 10], [10, 33], [33, 3], [4, 16], [1, 5]]) {
  add(`full ${r}x${c}`, {
    rows: r, cols: c, inputs: [FULL, FULL],
    outputs: [{ expr: bin("sub", bin("mul", bin("add", X(0), X(1)), X(0)), bin("div", X(1), bin("add", un("abs", X(1)), C(0.5)))) }],
  });
  add(`broadcast kinds ${r}x${c}`, {
    rows: r, cols: c, inputs: [FULL, { div: 1, mod: c }, { div: c }, { div: 1, mod: 1 }],
    outputs: [{ expr: bin("sub", bin("add", bin("mul", X(0), X(1)), X(2)), X(3)) }],
  });
}
for (const c of [1, 3, 8, 10, 33]) {
  add(`runtime rows x${c}`, {
    rows: "rows", cols: c, inputs: [FULL, { div: 1, mod: c }, { div: c }],
    outputs: [{ expr: bin("max", bin("mul", X(0), X(1)), X(2)) }],
  }, 13);
  add(`runtime rows full-only x${c}`, { rows: "rows", cols: c, inputs: [FULL, FULL], outputs: [{ expr: bin("min", X(0), X(1)) }] }, 7);
}
for (const [C0, inner] of [[5, 6], [4, 8], [3, 2], [7, 1]]) {
  add(`per-channel C=${C0} inner=${inner}`, {
    rows: 3, cols: C0 * inner, inputs: [FULL, { div: inner, mod: C0 }, { div: inner * C0 }],
    outputs: [{ expr: bin("add", bin("mul", X(0), X(1)), X(2)) }],
  });
}
add("i32 inputs (full, per-row, scalar)", {
  rows: "rows", cols: 12, inputs: [FULL, { div: 1, dtype: "i32" }, { div: 12, dtype: "i32" }, { div: 1, mod: 1, dtype: "i32" }],
  outputs: [{ expr: bin("add", bin("mul", X(0), X(1)), bin("sub", X(2), X(3))) }],
}, 5);
add("runtime rows named n (no clash with kernel locals)", { rows: "n", cols: 10, inputs: [FULL, FULL], outputs: [{ expr: bin("add", X(0), X(1)), accumulate: true }] }, 6);
add("accumulate", { rows: 5, cols: 7, inputs: [FULL, { div: 1, mod: 7 }], outputs: [{ expr: bin("mul", X(0), X(1)), accumulate: true }] });
const sig = (e: EwExpr) => un("sigmoid", e);
const cNew = bin("add", bin("mul", sig(X(0)), un("tanh", X(2))), bin("mul", sig(X(1)), X(4)));
add("multi-output LSTM cell (c, h)", {
  rows: "rows", cols: 10, inputs: [FULL, FULL, FULL, FULL, FULL],
  outputs: [{ expr: cNew }, { expr: bin("mul", sig(X(3)), un("tanh", cNew)) }, { expr: cNew, accumulate: true }],
}, 3);
const UNARIES: EwUnary[] = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "square", "recip", "tanh", "sigmoid", "erf", "relu", "gelu", "leaky_relu", "elu", "silu", "softplus"];
const POS = bin("add", un("abs", X(0)), C(0.1));
add("every unary op", {
  rows: 3, cols: 11, inputs: [FULL],
  outputs: UNARIES.map((op) => ({ expr: un(op, ["log", "sqrt", "rsqrt", "recip"].includes(op) ? POS : bin("mul", X(0), C(3))) })),
});
add("every comparison in select", {
  rows: 6, cols: 9, inputs: [FULL, FULL],
  outputs: (["gt", "ge", "lt", "le", "eq"] as const).map((cmp) => ({
    expr: { k: "sel", cmp, a: X(0), b: X(1), then: bin("mul", X(0), C(2)), else: bin("sub", X(1), C(1)) } as EwExpr,
  })),
}, undefined, true);
add("constant and scalar-only expressions", {
  rows: "rows", cols: 6, inputs: [{ div: 1, mod: 1 }],
  outputs: [{ expr: C(-2.5) }, { expr: un("exp", X(0)) }, { expr: bin("add", un("exp", C(1)), X(0)) }],
}, 4);

let mod: TestModule;
beforeAll(async () => {
  const kernels = Object.fromEntries(cases.map((c, i) => [`k${i}`, emitElementwise(c.spec)]));
  mod = await buildModule(kernels);
});

function inputLength(m: EwInput, n: number): number {
  let max = 0;
  for (let e = 0; e < n; e++) max = Math.max(max, bcastIndex(m, e));
  return max + 1;
}

describe("emitElementwise matches float64", () => {
  cases.forEach((c, ci) => {
    it(c.name, () => {
      mod.reset();
      const n = c.rows * c.spec.cols;
      const r = rng(100 + ci);
      const data = c.spec.inputs.map((m) => {
        const len = inputLength(m, n);
        return Float32Array.from({ length: len }, () => (c.ints || m.dtype === "i32" ? Math.round(r(-3, 3)) : r(-2, 2)));
      });
      const ptrs = c.spec.inputs.map((m, i) => mod.put(data[i], m.dtype ?? "f32"));
      const prior = c.spec.outputs.map((_, k) => randomArray(n, 900 + k));
      const outs = c.spec.outputs.map((_, k) => mod.put(prior[k]));
      const args = [...ptrs, ...outs, ...(typeof c.spec.rows === "string" ? [c.rows] : [])];
      mod.fns[`k${ci}`](...args);
      c.spec.outputs.forEach((o, k) => {
        const ref = Array.from({ length: n }, (_, e) =>
          evalExpr(o.expr, (i) => data[i][bcastIndex(c.spec.inputs[i], e)]) + (o.accumulate ? prior[k][e] : 0));
        expect(relErr(mod.f32(outs[k], n), ref), `output ${k}`).toBeLessThan(1e-5);
      });
    });
  });
});

describe("emitElementwise code shape", () => {
  it("computes a common subexpression once", () => {
    const e = un("exp", X(0));
    const def = emitElementwise({ rows: 4, cols: 8, inputs: [FULL], outputs: [{ expr: bin("add", e, bin("mul", e, un("exp", X(0)))) }] });
    expect(def.body.match(/exp4\(/g)?.length).toBe(1);
    expect(def.needs).toContain("exp4");
  });

  it("uses f32x4 when every input is contiguous or a splat, and hoists splat inputs out of the loop", () => {
    const def = emitElementwise({ rows: "n", cols: 16, inputs: [FULL, { div: 1, mod: 16 }, { div: 16 }], outputs: [{ expr: bin("mul", bin("add", X(0), X(1)), X(2)) }] });
    expect(def.body).toContain("v128.load(_p0");
    expect(def.body).toContain("v128.load(_p1");
    expect(def.body).toMatch(/const _h\d+: f32 = load<f32>\(in2/);
    expect(def.params.map((p) => `${p.name}:${p.type}`)).toEqual(["in0:usize", "in1:usize", "in2:usize", "out0:usize", "n:i32"]);
  });

  it("falls back to scalar code when runs are shorter than a vector", () => {
    const def = emitElementwise({ rows: 3, cols: 6, inputs: [FULL, { div: 2, mod: 3 }], outputs: [{ expr: bin("add", X(0), X(1)) }] });
    expect(def.body).not.toContain("v128.load");
  });

  it("keys differ when the kernels differ and agree when they do not", () => {
    const s = (v: number): ElementwiseSpec => ({ rows: 2, cols: 4, inputs: [FULL], outputs: [{ expr: bin("mul", X(0), C(v)) }] });
    expect(emitElementwise(s(2)).key).toBe(emitElementwise(s(2)).key);
    expect(emitElementwise(s(2)).key).not.toBe(emitElementwise(s(3)).key);
  });

  it("rejects non-identifier dims and malformed expressions", () => {
    expect(() => emitElementwise({ rows: "rows; abort()", cols: 4, inputs: [FULL], outputs: [{ expr: X(0) }] })).toThrow(/identifier/);
    expect(() => emitElementwise({ rows: "_n", cols: 4, inputs: [FULL], outputs: [{ expr: X(0) }] })).toThrow(/collides with a kernel local/);
    expect(() => emitElementwise({ rows: "in0", cols: 4, inputs: [FULL], outputs: [{ expr: X(0) }] })).toThrow(/collides with a tensor parameter/);
    expect(() => emitElementwise({ rows: 2, cols: 4, inputs: [FULL], outputs: [{ expr: X(1) }] })).toThrow(/input 1/);
    expect(() => emitElementwise({ rows: 2, cols: 4, inputs: [{ div: 0 }], outputs: [{ expr: X(0) }] })).toThrow(/div/);
  });
});
