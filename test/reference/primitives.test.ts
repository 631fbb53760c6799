/**
 * Proves the reference tape right: every primitive's hand-written backward against central
 * finite differences in float64 (of Σ w⊙f(x) with random w), a meta-test that every primitive
 * in tensor.ts / nn-ops.ts has a case, tie rules, erf precision and gradient accumulation.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { finiteDifferences } from "./gradients.js";
import { Window2d, avgPool2d, conv2d, gather, maxPool2d } from "./nn-ops.js";
import { makeRng } from "./prng.js";
import { erf, erfc, erfSeries, erfcContinuedFraction, gelu } from "./special.js";
import * as T from "./tensor.js";
import { Tensor, backward, tensor } from "./tensor.js";

const rng = makeRng(1234);

interface Case {
  name: string;
  shapes: number[][];
  /** Value range per input (default [-1, 1]). */
  ranges?: [number, number][];
  fn: (xs: Tensor[]) => Tensor;
}

const win = (k: [number, number], s: [number, number], d: [number, number], p: [number, number, number, number]): Window2d => ({
  kernel: k, strides: s, dilation: d, padding: p,
});

const CASES: Case[] = [
  { name: "exp", shapes: [[2, 3]], fn: ([x]) => T.exp(x) },
  { name: "log", shapes: [[2, 3]], ranges: [[0.2, 3]], fn: ([x]) => T.log(x) },
  { name: "tanh", shapes: [[5]], ranges: [[-3, 3]], fn: ([x]) => T.tanh(x) },
  { name: "sigmoid", shapes: [[5]], ranges: [[-6, 6]], fn: ([x]) => T.sigmoid(x) },
  { name: "relu", shapes: [[7]], fn: ([x]) => T.relu(x) },
  { name: "leaky_relu", shapes: [[7]], fn: ([x]) => T.leakyRelu(x, 0.2) },
  { name: "elu", shapes: [[7]], ranges: [[-3, 3]], fn: ([x]) => T.elu(x) },
  { name: "softplus", shapes: [[7]], ranges: [[-30, 30]], fn: ([x]) => T.softplus(x) },
  { name: "erf", shapes: [[9]], ranges: [[-4, 4]], fn: ([x]) => T.erfOp(x) },
  { name: "gelu", shapes: [[9]], ranges: [[-5, 5]], fn: ([x]) => T.geluOp(x) },
  { name: "sqrt", shapes: [[4]], ranges: [[0.1, 4]], fn: ([x]) => T.sqrt(x) },
  { name: "abs", shapes: [[6]], fn: ([x]) => T.abs(x) },
  { name: "square", shapes: [[6]], fn: ([x]) => T.square(x) },
  { name: "affine", shapes: [[6]], fn: ([x]) => T.affine(x, -1.5, 0.25) },
  { name: "clip", shapes: [[12]], ranges: [[-2, 2]], fn: ([x]) => T.clip(x, -1, 1) },
  { name: "broadcast_to", shapes: [[2, 1, 3]], fn: ([x]) => T.broadcastTo(x, [4, 2, 5, 3]) },
  { name: "add", shapes: [[2, 4, 3], [3]], fn: ([a, b]) => T.add(a, b) },
  { name: "sub", shapes: [[2, 1, 3], [4, 1]], fn: ([a, b]) => T.sub(a, b) },
  { name: "mul", shapes: [[3, 4], [3, 4]], fn: ([a, b]) => T.mul(a, b) },
  { name: "div", shapes: [[3, 4], [4]], ranges: [[-1, 1], [0.5, 2]], fn: ([a, b]) => T.div(a, b) },
  { name: "maximum", shapes: [[10], [10]], fn: ([a, b]) => T.maximum(a, b) },
  { name: "minimum", shapes: [[10], [10]], fn: ([a, b]) => T.minimum(a, b) },
  { name: "matmul", shapes: [[3, 4], [4, 5]], fn: ([a, b]) => T.matmul(a, b) },
  { name: "matmul (batched)", shapes: [[2, 3, 3, 4], [2, 3, 4, 2]], fn: ([a, b]) => T.matmul(a, b) },
  { name: "reshape", shapes: [[2, 6]], fn: ([x]) => T.reshape(x, [3, 4]) },
  { name: "permute", shapes: [[2, 3, 4]], fn: ([x]) => T.permute(x, [2, 0, 1]) },
  { name: "slice", shapes: [[3, 5, 2]], fn: ([x]) => T.slice(x, 1, 1, 4) },
  { name: "concat", shapes: [[2, 1, 3], [2, 2, 3], [2, 3, 3]], fn: (xs) => T.concat(xs, 1) },
  { name: "sum", shapes: [[2, 3, 4]], fn: ([x]) => T.sum(x, [0, 2]) },
  { name: "sum (keepDims)", shapes: [[2, 3, 4]], fn: ([x]) => T.sum(x, [1], true) },
  { name: "reduce_max", shapes: [[3, 4, 2]], fn: ([x]) => T.reduceMax(x, 1) },
  { name: "softmax", shapes: [[2, 3, 4]], ranges: [[-3, 3]], fn: ([x]) => T.softmax(x, 1) },
  { name: "log_softmax", shapes: [[2, 3, 4]], ranges: [[-3, 3]], fn: ([x]) => T.logSoftmax(x, 2) },
  { name: "conv2d (stride 2, asymmetric padding)", shapes: [[2, 6, 5, 3], [3, 2, 3, 4]], fn: ([x, k]) => conv2d(x, k, win([3, 2], [2, 2], [1, 1], [0, 1, 1, 0])) },
  { name: "conv2d (dilation 2)", shapes: [[1, 7, 7, 2], [3, 3, 2, 3]], fn: ([x, k]) => conv2d(x, k, win([3, 3], [1, 1], [2, 2], [2, 2, 2, 2])) },
  { name: "max_pool2d", shapes: [[2, 5, 5, 3]], fn: ([x]) => maxPool2d(x, win([2, 2], [2, 2], [1, 1], [0, 1, 0, 1])) },
  { name: "avg_pool2d", shapes: [[2, 5, 4, 3]], fn: ([x]) => avgPool2d(x, win([3, 3], [2, 1], [1, 1], [1, 1, 1, 1])) },
  { name: "gather", shapes: [[5, 3]], fn: ([t]) => gather(t, [4, 0, 4, 2, 1, 4], [2, 3]) },
];

/** Σ w⊙f(xs) as a plain number (forward only). */
function objective(c: Case, xs: Float64Array[], w: Float64Array): number {
  const y = c.fn(xs.map((d, i) => tensor(c.shapes[i], d)));
  let s = 0;
  for (let i = 0; i < y.size; i++) s += w[i] * y.data[i];
  return s;
}

function relErr(a: Float64Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

const seenOps = new Set<string>();

describe("primitive backward vs central finite differences (float64)", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const xs = c.shapes.map((s, i) => {
        const [lo, hi] = c.ranges?.[i] ?? [-1, 1];
        return rng.array(T.sizeOf(s), lo, hi);
      });
      const leaves = xs.map((d, i) => tensor(c.shapes[i], d, true));
      const y = c.fn(leaves);
      seenOps.add(y.op);
      const w = rng.array(y.size, -1, 1);
      backward(y, w);
      xs.forEach((x, i) => {
        const numeric = finiteDifferences((v) => objective(c, xs.map((o, j) => (j === i ? v : o)), w), x.slice(), 1e-5);
        const analytic = leaves[i].grad ?? new Float64Array(x.length);
        expect(numeric.some((v) => v !== 0)).toBe(true);
        expect(relErr(analytic, numeric)).toBeLessThan(1e-6);
      });
    });
  }

  it("covers every primitive defined in tensor.ts and nn-ops.ts (meta-test)", () => {
    const declared = new Set<string>();
    for (const file of ["tensor.ts", "nn-ops.ts"]) {
      const src = readFileSync(new URL(`./${file}`, import.meta.url), "utf8");
      for (const m of src.matchAll(/(?:result|unary|binary)\(\s*"([a-z_0-9]+)"/g)) declared.add(m[1]);
    }
    expect(declared.size).toBeGreaterThan(30);
    const missing = [...declared].filter((op) => !seenOps.has(op));
    expect(missing).toEqual([]);
  });
});

describe("tie rules, accumulation and erf precision", () => {
  it("max pooling sends the gradient to the first maximal element in row-major window order", () => {
    const x = tensor([1, 2, 2, 1], [5, 5, 5, 1], true);
    backward(maxPool2d(x, win([2, 2], [2, 2], [1, 1], [0, 0, 0, 0])));
    expect(Array.from(x.grad!)).toEqual([1, 0, 0, 0]);
  });

  it("maximum / minimum / reduce_max favour the first operand on ties", () => {
    const a = tensor([2], [1, 2], true);
    const b = tensor([2], [1, 3], true);
    backward(T.add(T.sumAll(T.maximum(a, b)), T.sumAll(T.minimum(a, b))));
    expect(Array.from(a.grad!)).toEqual([2, 1]);
    expect(Array.from(b.grad!)).toEqual([0, 1]);
    const r = tensor([3, 1], [4, 4, 1], true);
    backward(T.reduceMax(r, 0));
    expect(Array.from(r.grad!)).toEqual([1, 0, 0]);
  });

  it("sums gradients where a value feeds several consumers", () => {
    const x = tensor([2], [3, -2], true);
    // y = x·x + 3x  → dy/dx = 2x + 3
    backward(T.sumAll(T.add(T.mul(x, x), T.affine(x, 3))));
    expect(Array.from(x.grad!)).toEqual([9, -1]);
  });

  it("erf / erfc / gelu match known values to double precision", () => {
    const known: [number, number][] = [
      [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [-1, -0.8427007929497149],
    ];
    for (const [x, v] of known) expect(Math.abs(erf(x) - v)).toBeLessThan(4e-16);
    expect(Math.abs(erfc(3) / 2.209049699858544e-5 - 1)).toBeLessThan(1e-14);
    expect(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1)).toBeLessThan(1e-14);
    // Φ(1), Φ(0.5), Φ(−2) are tabulated; gelu(x) = x·Φ(x).
    expect(Math.abs(gelu(1) - 0.8413447460685429)).toBeLessThan(1e-15);
    expect(Math.abs(gelu(0.5) - 0.5 * 0.6914624612740131)).toBeLessThan(1e-15);
    expect(Math.abs(gelu(-2) + 2 * 0.022750131948179195)).toBeLessThan(1e-15);
    // The two evaluation methods agree where both are accurate.
    for (const x of [2.6, 2.9, 3.1]) expect(Math.abs(erfSeries(x) - (1 - erfcContinuedFraction(x)))).toBeLessThan(2e-16 * 8);
  });
});
