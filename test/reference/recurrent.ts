/**
 * Reference recurrent layers (spec §2.1), unrolled step by step on the tape: simple_rnn,
 * lstm (gates i, f, c, o; sigmoid recurrent activation) and gru (Keras reset_after=true,
 * bias [2, 3u] = input bias, recurrent bias; or reset_after=false, bias [3u]), each with
 * go_backwards (input step T−1−k at step k, states returned in step order), and bidirectional
 * (Keras's wrapper: forward and backward copies, the backward sequence flipped, then merged).
 * Inputs [B, T, F]; h₀ = c₀ = 0.
 */

import { activate } from "./activations.js";
import { bool, fail, int, str } from "./attrs.js";
import { LayerContext, LayerFn, single } from "./layers.js";
import { Tensor, add, affine, concat, matmul, mul, reshape, sigmoid, slice, tanh, tensor } from "./tensor.js";
import type { RawLayer } from "./attrs.js";

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
  // go_backwards: step s reads input step t−1−s.
  const at = (s: number) => (bool(ctx.layer, "go_backwards", false) ? t - 1 - s : s);
  return { x, batch: b, steps: t, units, projected: (s) => reshape(slice(all, 1, at(s), at(s) + 1), [b, g]) };
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
  if (!bool(ctx.layer, "reset_after", true)) return gruResetBefore(ctx);
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

/** GRU reset_after=false (TF.js's GRU, Keras 2's default): bias [3u]; h̃ = tanh(x·W_h + b_h + (r ⊙ h)·U_h). */
function gruResetBefore(ctx: LayerContext): Tensor {
  const u = int(ctx.layer, "units");
  const r = unroll(ctx, 3, bool(ctx.layer, "use_bias", true) ? ctx.weight("bias", [3 * u]) : undefined);
  const rec = ctx.weight("recurrent_kernel", [u, 3 * u]);
  const recZR = slice(rec, 1, 0, 2 * u);
  const recH = slice(rec, 1, 2 * u, 3 * u);
  let h = zeros(r.batch, u);
  const hs: Tensor[] = [];
  for (let t = 0; t < r.steps; t++) {
    const xz = r.projected(t);
    const hzr = matmul(h, recZR);
    const z = sigmoid(add(gate(xz, 0, u), gate(hzr, 0, u)));
    const rg = sigmoid(add(gate(xz, 1, u), gate(hzr, 1, u)));
    const cand = tanh(add(gate(xz, 2, u), matmul(mul(rg, h), recH)));
    h = add(mul(z, h), mul(affine(z, -1, 1), cand));
    hs.push(h);
  }
  return finish(ctx, hs, r);
}

const CELLS: Record<string, LayerFn> = { simple_rnn: simpleRnn, lstm, gru };

/** The time axis (1) of [B, T, u] reversed. */
function flipTime(y: Tensor): Tensor {
  const steps = y.shape[1];
  return concat(Array.from({ length: steps }, (_, s) => slice(y, 1, steps - 1 - s, steps - s)), 1);
}

/**
 * Keras Bidirectional: `layer` is the inner config (name defaults to its op); weights
 * `forward_<name>/…` and `backward_<name>/…`; the backward copy has go_backwards flipped and,
 * with return_sequences, its output flipped back along T; merge_mode concat (last axis), sum, mul, ave.
 */
function bidirectional(ctx: LayerContext): Tensor {
  const inner = ctx.layer.layer as RawLayer | undefined;
  if (!inner || typeof inner !== "object" || !Object.hasOwn(CELLS, inner.op)) fail(ctx.layer, `attribute layer must be a simple_rnn, lstm or gru config, got ${JSON.stringify(inner)}`);
  const innerName = typeof inner.name === "string" ? inner.name : inner.op;
  const mode = str(ctx.layer, "merge_mode", "concat");
  const run = (dir: "forward" | "backward"): Tensor => {
    const goBackwards = bool(inner, "go_backwards", false) !== (dir === "backward");
    return CELLS[inner.op]!({
      ...ctx,
      layer: { ...inner, name: `${ctx.layer.name}/${dir}_${innerName}`, go_backwards: goBackwards },
      weight: (name, shape) => ctx.weight(`${dir}_${innerName}/${name}`, shape),
    });
  };
  const fwd = run("forward");
  let bwd = run("backward");
  if (bool(inner, "return_sequences", false)) bwd = flipTime(bwd);
  switch (mode) {
    case "concat": return concat([fwd, bwd], fwd.shape.length - 1);
    case "sum": return add(fwd, bwd);
    case "mul": return mul(fwd, bwd);
    case "ave": return affine(add(fwd, bwd), 0.5, 0);
    default: return fail(ctx.layer, `merge_mode must be concat, sum, mul or ave, got ${JSON.stringify(mode)}`);
  }
}

export const RECURRENT_LAYERS: Record<string, LayerFn> = { ...CELLS, bidirectional };
