/**
 * Lowering of the movement ops (frontend/ops/spatial.ts, reshape.ts): zero padding, cropping,
 * nearest and bilinear upsampling, repeat_vector and permute, all as strided `copy` nodes (plus a
 * zero `fill` for padding and an `ew` per phase for bilinear). The copy's gradient is the reverse
 * copy — accumulating where the forward read an element more than once (stride 0) — so none of
 * these needs a gradient rule of its own.
 */
import type { Layer } from "../../frontend/graph-types.js";
import { FULL, X } from "../../ir/expr.js";
import { numel, type Dim, type Tensor } from "../../ir/ir.js";
import type { Builder } from "./builder.js";
import type { Lowering } from "./layers.js";

const a = (layer: Layer) => layer.attrs as any;

/** Row-major strides (in elements) of a shape. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Element offset of an index in a row-major shape. */
const offsetOf = (shape: readonly number[], at: readonly number[]) => stridesOf(shape).reduce((o, s, i) => o + s * at[i]!, 0);

/**
 * Copies the box `box` (per-example sizes) from `src` at `from` to `dst` at `to`, for every example:
 * the batch axis is the copy's first axis, each example's elements one box.
 */
function boxCopy(b: Builder, src: Tensor, dst: Tensor, box: number[], from: number[], to: number[]): void {
  b.copy(src, dst, {
    shape: [{ batch: 1 }, ...box],
    srcStrides: [numel(src.shape), ...stridesOf(src.shape)],
    dstStrides: [numel(dst.shape), ...stridesOf(dst.shape)],
    srcOffset: offsetOf(src.shape, from),
    dstOffset: offsetOf(dst.shape, to),
  });
}

/** [[before, after] per spatial axis] (1-D: [before, after]) → per-axis starts, channel axis 0. */
function starts(amounts: number[] | number[][]): number[] {
  const rows = (typeof amounts[0] === "number" ? [amounts] : amounts) as number[][];
  return [...rows.map((r) => r[0]!), 0];
}

/** Zero padding: the output is zeroed, then the input copied into its interior (gradient: the interior back). */
export const lowerPad: Lowering = (b, layer, [x]) => {
  const y = b.act(layer.shape);
  b.mod.node(b.prog, "fill", [], [y], { n: { batch: numel(y.shape) }, value: 0 }, layer.name);
  boxCopy(b, x!, y, [...x!.shape], x!.shape.map(() => 0), starts(a(layer).padding));
  return y;
};

/** Cropping: the kept box of the input copied out (gradient: zeros with the box copied back). */
export const lowerCrop: Lowering = (b, layer, [x]) => {
  const y = b.act(layer.shape);
  boxCopy(b, x!, y, [...y.shape], starts(a(layer).cropping), y.shape.map(() => 0));
  return y;
};

/**
 * Nearest upsampling of the axes of [R, N₁, (N₂,) Q] views: each input element read `factor`
 * times (stride 0), so the gradient copy sums the repeats. R (rows before) folds into the batch axis.
 */
function nearest(b: Builder, x: Tensor, y: Tensor, factors: number[]): void {
  const q = x.shape.at(-1)!;
  if (factors.length === 1) {
    const [t] = x.shape as [number, number];
    const f = factors[0]!;
    b.copy(x, y, { shape: [{ batch: t }, f, q], srcStrides: [q, 0, 1], dstStrides: [f * q, q, 1] });
    return;
  }
  const [h, w] = x.shape as [number, number, number];
  const [sh, sw] = factors as [number, number];
  b.copy(x, y, {
    shape: [{ batch: h }, sh, w, sw, q],
    srcStrides: [w * q, 0, q, 0, 1],
    dstStrides: [sh * w * sw * q, w * sw * q, sw * q, q, 1],
  });
}

/**
 * Bilinear upsampling by an integer factor s along the middle axis of an [R, N, Q] view (R rows
 * per example): output n·s + j samples the input at n + δⱼ, δⱼ = (j + ½)/s − ½ (half-pixel
 * centres), i.e. (1 − |δⱼ|)·x[n] + |δⱼ|·x[n ± 1], the neighbour clamped at the edges (as
 * TensorFlow's resize and JAX's scale_and_translate do for upsampling). The neighbours are two
 * shifted copies of x; each phase j is one `ew`, copied into every s-th slice of the output.
 */
function bilinearAxis(b: Builder, x: Tensor, r: number, n: number, q: number, s: number): Tensor {
  const view = (t: Tensor) => (t.shape.length === 3 && t.shape[0] === r && t.shape[1] === n ? t : b.alias(t, [r, n, q]));
  const xv = view(x);
  const y = b.act([r, n * s, q]);
  const batch = (k: number): Dim => ({ batch: r * k });
  const shifted = (dir: -1 | 1): Tensor => {
    if (n === 1) return xv;
    const t = b.act([r, n, q]);
    // body: t[i] = x[i + dir] where that exists; edge: the clamped element itself.
    const [from, to, edge] = dir === -1 ? [0, 1, 0] : [1, 0, n - 1];
    b.copy(xv, t, { shape: [batch(1), n - 1, q], srcStrides: [n * q, q, 1], dstStrides: [n * q, q, 1], srcOffset: from * q, dstOffset: to * q });
    b.copy(xv, t, { shape: [batch(1), q], srcStrides: [n * q, 1], dstStrides: [n * q, 1], srcOffset: edge * q, dstOffset: edge * q });
    return t;
  };
  const prev = shifted(-1), next = shifted(1);
  for (let j = 0; j < s; j++) {
    const delta = (j + 0.5) / s - 0.5;
    const weight = Math.abs(delta);
    const phase = weight === 0 ? xv
      : b.ew(X.add(X.mul(X.c(1 - weight), X.in(0)), X.mul(X.c(weight), X.in(1))), [[xv, FULL], [delta < 0 ? prev : next, FULL]], b.act([r, n, q]));
    b.copy(phase, y, { shape: [batch(1), n, q], srcStrides: [n * q, q, 1], dstStrides: [n * s * q, s * q, 1], dstOffset: j * q });
  }
  return y;
}

export const lowerUpsample: Lowering = (b, layer, [x]) => {
  const { size, interpolation } = a(layer);
  const factors: number[] = Array.isArray(size) ? size : [size];
  if (interpolation !== "bilinear") {
    const y = b.act(layer.shape);
    nearest(b, x!, y, factors);
    return y;
  }
  // Separable: rows first ([1, H, W·C]), then columns ([H·sh, W, C]).
  const [h, w, c] = x!.shape as [number, number, number];
  const [sh, sw] = factors as [number, number];
  const rows = sh === 1 ? x! : bilinearAxis(b, x!, 1, h, w * c, sh);
  const cols = sw === 1 ? rows : bilinearAxis(b, rows, h * sh, w, c, sw);
  return b.alias(cols, layer.shape);
};

export const lowerRepeatVector: Lowering = (b, layer, [x]) => {
  const d = x!.shape[0]!, n: number = a(layer).n;
  const y = b.act([n, d]);
  b.copy(x!, y, { shape: [{ batch: 1 }, n, d], srcStrides: [d, 0, 1], dstStrides: [n * d, d, 1] });
  return y;
};

/**
 * The runs of a permutation: maximal groups of input axes that stay adjacent and in order in the
 * output (size-1 axes dropped), as [input axes…] in output order. Each run is one copy loop.
 */
export function permuteRuns(shape: readonly number[], perm: readonly number[]): number[][] {
  const kept = perm.filter((p) => shape[p] !== 1);
  const runs: number[][] = [];
  for (const p of kept) {
    const last = runs.at(-1);
    const prevAxis = last?.at(-1);
    // p follows the run's last axis in the input, skipping size-1 axes in between.
    const adjacent = prevAxis !== undefined && p > prevAxis && shape.slice(prevAxis + 1, p).every((d) => d === 1);
    if (last && adjacent) last.push(p);
    else runs.push([p]);
  }
  return runs;
}

export const lowerPermute: Lowering = (b, layer, [x]) => permuteCopy(b, x!, (a(layer).dims as number[]).map((d) => d - 1));

/** x with its per-example axes permuted (output axis i is input axis perm[i]): one strided copy. */
export function permuteCopy(b: Builder, x: Tensor, perm: readonly number[]): Tensor {
  const y = b.act(perm.map((p) => x.shape[p]!));
  const xs = stridesOf(x.shape);
  const runs = permuteRuns(x.shape, perm);
  // One loop per run: its size, its stride in x (its last axis's), its stride in y (the product of the runs after it).
  const sizes = runs.map((run) => numel(run.map((p) => x.shape[p]!)));
  const dstStrides = stridesOf(sizes);
  const total = numel(x.shape);
  b.copy(x, y, {
    shape: [{ batch: 1 }, ...sizes],
    srcStrides: [total, ...runs.map((run) => xs[run.at(-1)!]!)],
    dstStrides: [total, ...dstStrides],
  });
  return y;
}
