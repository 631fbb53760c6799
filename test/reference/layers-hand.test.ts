/**
 * Reference layers TF.js cannot check (GRU reset_after, MultiHeadAttention, dropout masks,
 * position_embedding) against independent scalar loops written here from the Keras formulas,
 * plus one GRU step worked out by hand.
 */

import { describe, expect, it } from "vitest";
import { RawLayer } from "./attrs.js";
import { RefGraph, runReference } from "./interpret.js";
import { makeRng } from "./prng.js";

const rng = makeRng(7);
const sig = (v: number) => 1 / (1 + Math.exp(-v));

function runOne(layer: Omit<RawLayer, "name">, shapes: number[][], batch: number, weights: Record<string, Float64Array>, inputs: Float64Array[], training = false, masks?: Record<string, Float64Array>) {
  const names = shapes.map((_s, i) => `x${i}`);
  const graph: RefGraph = {
    inputs: shapes.map((shape, i) => ({ name: names[i], shape })),
    layers: [{ ...layer, name: "l", inputs: names } as RawLayer],
  };
  const feed = Object.fromEntries(names.map((n, i) => [n, inputs[i]]));
  return runReference(graph, weights, feed, batch, { training, dropoutMasks: masks }).outputs.l;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(tol * Math.max(1, Math.abs(b[i])));
}

/** Keras GRU (reset_after) for one sequence, plain loops. Returns every h_t. */
function gruScalar(x: number[][], W: Float64Array, U: Float64Array, bias: Float64Array, u: number): number[][] {
  let h = new Array<number>(u).fill(0);
  const hs: number[][] = [];
  for (const xt of x) {
    const xw = (g: number, j: number) => xt.reduce((s, xv, f) => s + xv * W[f * 3 * u + g * u + j], 0) + bias[g * u + j];
    const hu = (g: number, j: number) => h.reduce((s, hv, k) => s + hv * U[k * 3 * u + g * u + j], 0) + bias[3 * u + g * u + j];
    const next: number[] = [];
    for (let j = 0; j < u; j++) {
      const z = sig(xw(0, j) + hu(0, j));
      const r = sig(xw(1, j) + hu(1, j));
      const cand = Math.tanh(xw(2, j) + r * hu(2, j));
      next.push(z * h[j] + (1 - z) * cand);
    }
    h = next;
    hs.push(h);
  }
  return hs;
}

describe("gru (reset_after) vs a scalar loop", () => {
  it("one step by hand: u=1, F=1", () => {
    // kernel [1,3] = [wz, wr, wh], recurrent [1,3], bias [[bz, br, bh], [cz, cr, ch]].
    const W = Float64Array.from([0.5, -0.25, 1]);
    const U = Float64Array.from([0.3, 0.2, -0.4]);
    const b = Float64Array.from([0.1, 0, 0.2, 0, 0.1, 0.5]);
    const out = runOne({ op: "gru", units: 1, return_sequences: true }, [[2, 1]], 1, { "l/kernel": W, "l/recurrent_kernel": U, "l/bias": b }, [Float64Array.from([2, -1])]);
    // t=1, h0=0: z=σ(1.1), r=σ(−0.5+0.1), h̃=tanh(2.2 + r·0.5), h1=(1−z)·h̃
    const z1 = sig(1.1), r1 = sig(-0.4), c1 = Math.tanh(2.2 + r1 * 0.5);
    const h1 = (1 - z1) * c1;
    // t=2, x=−1: z=σ(−0.5+0.1+0.3h1), r=σ(0.25+0.2h1+0.1), h̃=tanh(−1+0.2+r(−0.4h1+0.5))
    const z2 = sig(-0.4 + 0.3 * h1), r2 = sig(0.35 + 0.2 * h1), c2 = Math.tanh(-0.8 + r2 * (-0.4 * h1 + 0.5));
    expectClose(out.data, [h1, z2 * h1 + (1 - z2) * c2]);
  });

  for (const rs of [false, true]) {
    it(`batch 2, T=3, F=2, u=3, return_sequences=${rs}`, () => {
      const [T, F, u, B] = [3, 2, 3, 2];
      const W = rng.array(F * 3 * u), U = rng.array(u * 3 * u), b = rng.array(6 * u);
      const x = rng.array(B * T * F, -2, 2);
      const out = runOne({ op: "gru", units: u, return_sequences: rs }, [[T, F]], B, { "l/kernel": W, "l/recurrent_kernel": U, "l/bias": b }, [x]);
      const expected: number[] = [];
      for (let n = 0; n < B; n++) {
        const seq = [...Array(T).keys()].map((t) => Array.from(x.slice((n * T + t) * F, (n * T + t + 1) * F)));
        const hs = gruScalar(seq, W, U, b, u);
        expected.push(...(rs ? hs.flat() : hs[T - 1]));
      }
      expect(out.shape).toEqual(rs ? [B, T, u] : [B, u]);
      expectClose(out.data, expected);
    });
  }
});

interface MhaCase {
  label: string;
  T: number; S: number; Dq: number; Dv: number; Dk: number; H: number; dk: number; dv: number;
  inputs: 1 | 2 | 3;
  causal: boolean;
}

/** Keras MultiHeadAttention for one example, plain loops. q [T][Dq], v [S][Dv], k [S][Dk]. */
function mhaScalar(c: MhaCase, q: number[][], v: number[][], k: number[][], w: Record<string, Float64Array>): number[][] {
  const proj = (x: number[][], name: string, h: number, dim: number) =>
    x.map((row) => [...Array(dim).keys()].map((e) =>
      row.reduce((s, xv, i) => s + xv * w[`l/${name}/kernel`][(i * c.H + h) * dim + e], 0) + w[`l/${name}/bias`][h * dim + e]));
  const out = q.map(() => new Array<number>(c.Dq).fill(0));
  for (let h = 0; h < c.H; h++) {
    const Q = proj(q, "query", h, c.dk).map((r) => r.map((e) => e / Math.sqrt(c.dk)));
    const K = proj(k, "key", h, c.dk);
    const V = proj(v, "value", h, c.dv);
    for (let t = 0; t < c.T; t++) {
      const visible = [...Array(c.S).keys()].filter((s) => !c.causal || s <= t);
      const scores = visible.map((s) => Q[t].reduce((acc, qe, e) => acc + qe * K[s][e], 0));
      const m = Math.max(...scores);
      const ex = scores.map((sc) => Math.exp(sc - m));
      const z = ex.reduce((a, b) => a + b, 0);
      const ctx = new Array<number>(c.dv).fill(0);
      visible.forEach((s, i) => V[s].forEach((ve, e) => (ctx[e] += (ex[i] / z) * ve)));
      for (let o = 0; o < c.Dq; o++) {
        for (let e = 0; e < c.dv; e++) out[t][o] += ctx[e] * w["l/attention_output/kernel"][(h * c.dv + e) * c.Dq + o];
      }
    }
  }
  return out.map((row) => row.map((vv, o) => vv + w["l/attention_output/bias"][o]));
}

describe("multi_head_attention vs a scalar loop", () => {
  const cases: MhaCase[] = [
    { label: "self-attention, 2 heads", T: 2, S: 2, Dq: 3, Dv: 3, Dk: 3, H: 2, dk: 2, dv: 2, inputs: 1, causal: false },
    { label: "self-attention, causal", T: 3, S: 3, Dq: 4, Dv: 4, Dk: 4, H: 2, dk: 3, dv: 3, inputs: 1, causal: true },
    { label: "query + value (T≠S), value_dim≠key_dim", T: 2, S: 3, Dq: 3, Dv: 2, Dk: 2, H: 3, dk: 2, dv: 1, inputs: 2, causal: false },
    { label: "query + value + key, causal with T>S", T: 3, S: 2, Dq: 2, Dv: 3, Dk: 4, H: 1, dk: 2, dv: 3, inputs: 3, causal: true },
  ];
  for (const c of cases) {
    it(c.label, () => {
      const B = 2;
      const w: Record<string, Float64Array> = {
        "l/query/kernel": rng.array(c.Dq * c.H * c.dk), "l/query/bias": rng.array(c.H * c.dk),
        "l/key/kernel": rng.array(c.Dk * c.H * c.dk), "l/key/bias": rng.array(c.H * c.dk),
        "l/value/kernel": rng.array(c.Dv * c.H * c.dv), "l/value/bias": rng.array(c.H * c.dv),
        "l/attention_output/kernel": rng.array(c.H * c.dv * c.Dq), "l/attention_output/bias": rng.array(c.Dq),
      };
      const shapes = [[c.T, c.Dq], [c.S, c.Dv], [c.S, c.Dk]].slice(0, c.inputs);
      const xs = shapes.map((s) => rng.array(B * s[0] * s[1], -2, 2));
      const layer = { op: "multi_head_attention", num_heads: c.H, key_dim: c.dk, ...(c.dv !== c.dk ? { value_dim: c.dv } : {}), causal: c.causal };
      const out = runOne(layer, shapes, B, w, xs);
      const rows = (d: Float64Array, n: number, r: number, cols: number) =>
        [...Array(r).keys()].map((i) => Array.from(d.slice((n * r + i) * cols, (n * r + i + 1) * cols)));
      const expected: number[] = [];
      for (let n = 0; n < B; n++) {
        const q = rows(xs[0], n, c.T, c.Dq);
        const v = c.inputs >= 2 ? rows(xs[1], n, c.S, c.Dv) : q;
        const k = c.inputs === 3 ? rows(xs[2], n, c.S, c.Dk) : v;
        expected.push(...mhaScalar(c, q, v, k, w).flat());
      }
      expect(out.shape).toEqual([B, c.T, c.Dq]);
      expectClose(out.data, expected);
    });
  }
});

describe("dropout and position_embedding", () => {
  it("dropout scales kept elements by 1/(1−rate) in training and is the identity otherwise", () => {
    const x = rng.array(6);
    const mask = Float64Array.from([1, 0, 1, 1, 0, 1]);
    const train = runOne({ op: "dropout", rate: 0.25 }, [[3]], 2, {}, [x], true, { l: mask });
    expectClose(train.data, Array.from(x, (v, i) => (v * mask[i]) / 0.75));
    expectClose(runOne({ op: "dropout", rate: 0.25 }, [[3]], 2, {}, [x]).data, x);
    expect(() => runOne({ op: "dropout", rate: 0.25 }, [[3]], 2, {}, [x], true)).toThrow(/layer "l".*dropout mask of 6/);
  });

  it("position_embedding returns rows 0..T−1 for every example, and rejects T > sequence_length", () => {
    const table = rng.array(5 * 2);
    const x = rng.array(2 * 3 * 2);
    const out = runOne({ op: "position_embedding", sequence_length: 5 }, [[3, 2]], 2, { "l/embeddings": table }, [x]);
    expectClose(out.data, [...table.slice(0, 6), ...table.slice(0, 6)]);
    expect(() => runOne({ op: "position_embedding", sequence_length: 2 }, [[3, 2]], 2, { "l/embeddings": rng.array(4) }, [x]))
      .toThrow(/sequence of 3 is longer than sequence_length 2/);
  });
});
