/**
 * Reference recurrent layers (spec §2.1), unrolled step by step on the tape: simple_rnn,
 * lstm (gates i, f, c, o; sigmoid recurrent activation) and gru (Keras reset_after=true,
 * bias [2, 3u] = input bias, recurrent bias). Inputs [B, T, F]; h₀ = c₀ = 0.
 */

import { activate } from "./activations.js";
import { bool, fail, int, str } from "./attrs.js";
import { LayerContext, LayerFn, single } from "./layers.js";
import { Tensor, add, affine, concat, matmul, mul, reshape, sigmoid, slice, tanh, tensor } from "./tensor.js";

interface Unrolled {
  x: Tensor;
  batch: number;
  steps: number;
  units: number;
  /** x·W (+ input bias) for step t: [B, gates·units]. */
  projected(t: number): Tensor;
}

/** Projects every time step at once: one matmul of [B·T, F] by the kernel. */
function unroll(ctx: LayerContext, gates: number, inputBias: Tensor | undefined): Unrolled {
  const x = single(ctx);
  if (x.shape.length !== 3) fail(ctx.layer, `expects [T, F] inputs, got [${x.shape.slice(1)}]`);
  const [b, t, f] = x.shape;
  const units = int(ctx.layer, "units");
  const g = gates * units;
  let proj = matmul(reshape(x, [b * t, f]), ctx.weight("kernel", [f, g]));
  if (inputBias) proj = add(proj, inputBias);
  const all = reshape(proj, [b, t, g]);
  return { x, batch: b, steps: t, units, projected: (s) => reshape(slice(all, 1, s, s + 1), [b, g]) };
}

function zeros(b: number, u: number): Tensor {
  return tensor([b, u], new Float64Array(b * u));
}

function finish(ctx: LayerContext, hs: Tensor[], u: Unrolled): Tensor {
  if (!bool(ctx.layer, "return_sequences", false)) return hs[hs.length - 1];
  return concat(hs.map((h) => reshape(h, [u.batch, 1, u.units])), 1);
}

const gate = (z: Tensor, k: number, u: number) => slice(z, 1, k * u, (k + 1) * u);

function simpleRnn(ctx: LayerContext): Tensor {
  const units = int(ctx.layer, "units");
  const r = unroll(ctx, 1, bool(ctx.layer, "use_bias", true) ? ctx.weight("bias", [units]) : undefined);
  const rec = ctx.weight("recurrent_kernel", [units, units]);
  const act = str(ctx.layer, "activation", "tanh");
  let h = zeros(r.batch, units);
  const hs: Tensor[] = [];
  for (let t = 0; t < r.steps; t++) {
    h = activate(act, add(r.projected(t), matmul(h, rec)));
    hs.push(h);
  }
  return finish(ctx, hs, r);
}

function lstm(ctx: LayerContext): Tensor {
  const u = int(ctx.layer, "units");
  const r = unroll(ctx, 4, bool(ctx.layer, "use_bias", true) ? ctx.weight("bias", [4 * u]) : undefined);
  const rec = ctx.weight("recurrent_kernel", [u, 4 * u]);
  let h = zeros(r.batch, u);
  let c = zeros(r.batch, u);
  const hs: Tensor[] = [];
  for (let t = 0; t < r.steps; t++) {
    const z = add(r.projected(t), matmul(h, rec));
    const i = sigmoid(gate(z, 0, u));
    const f = sigmoid(gate(z, 1, u));
    const cand = tanh(gate(z, 2, u));
    const o = sigmoid(gate(z, 3, u));
    c = add(mul(f, c), mul(i, cand));
    h = mul(o, tanh(c));
    hs.push(h);
  }
  return finish(ctx, hs, r);
}

function gru(ctx: LayerContext): Tensor {
  const u = int(ctx.layer, "units");
  const useBias = bool(ctx.layer, "use_bias", true);
  const bias = useBias ? ctx.weight("bias", [2, 3 * u]) : undefined;
  const inBias = bias && reshape(slice(bias, 0, 0, 1), [3 * u]);
  const recBias = bias && reshape(slice(bias, 0, 1, 2), [3 * u]);
  const r = unroll(ctx, 3, inBias);
  const rec = ctx.weight("recurrent_kernel", [u, 3 * u]);
  let h = zeros(r.batch, u);
  const hs: Tensor[] = [];
  for (let t = 0; t < r.steps; t++) {
    const xz = r.projected(t);
    // reset_after: the recurrent bias belongs to the recurrent product, before r gates it.
    const hu = recBias ? add(matmul(h, rec), recBias) : matmul(h, rec);
    const z = sigmoid(add(gate(xz, 0, u), gate(hu, 0, u)));
    const rg = sigmoid(add(gate(xz, 1, u), gate(hu, 1, u)));
    const cand = tanh(add(gate(xz, 2, u), mul(rg, gate(hu, 2, u))));
    h = add(mul(z, h), mul(affine(z, -1, 1), cand));
    hs.push(h);
  }
  return finish(ctx, hs, r);
}

export const RECURRENT_LAYERS: Record<string, LayerFn> = { simple_rnn: simpleRnn, lstm, gru };
