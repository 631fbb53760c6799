/**
 * Float64 tensors with a reverse-mode tape (micrograd style) — the core of the test oracle.
 * Every op records its parents and a hand-written backward that ADDS into their gradients, so a
 * value feeding several consumers gets the sum. `backward(root)` sorts topologically and walks
 * in reverse. Shapes are plain row-major arrays; nothing here knows about layers or graphs.
 */

import { erf, erfDerivative, gelu, geluDerivative } from "./special.js";

export class Tensor {
  grad?: Float64Array;
  /** Pushes this tensor's gradient into its parents; absent for leaves. */
  backwardFn?: (g: Float64Array) => void;

  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
    readonly requiresGrad = false,
    readonly parents: Tensor[] = [],
    readonly op = "leaf",
  ) {
    if (data.length !== sizeOf(shape)) {
      throw new Error(`tensor data has ${data.length} elements, shape [${shape}] needs ${sizeOf(shape)}`);
    }
  }

  get size(): number {
    return this.data.length;
  }

  /** Lazily allocated gradient buffer (zeros). */
  gradBuffer(): Float64Array {
    if (!this.grad) this.grad = new Float64Array(this.data.length);
    return this.grad;
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** A leaf. `requiresGrad` marks weights and inputs whose gradients we want. */
export function tensor(shape: number[], data: ArrayLike<number>, requiresGrad = false): Tensor {
  return new Tensor([...shape], Float64Array.from(data), requiresGrad);
}

export function scalar(v: number): Tensor {
  return tensor([], [v]);
}

/** Builds an op's result; the backward is only kept when some parent needs a gradient. */
export function result(
  op: string,
  shape: number[],
  data: Float64Array,
  parents: Tensor[],
  backward: (g: Float64Array) => void,
): Tensor {
  const needs = parents.some((p) => p.requiresGrad);
  const t = new Tensor(shape, data, needs, parents, op);
  if (needs) t.backwardFn = backward;
  return t;
}

/** Reverse walk from `root`; the seed defaults to ones (d root / d root). */
export function backward(root: Tensor, seed?: ArrayLike<number>): void {
  const order = topoSort(root);
  const g = root.gradBuffer();
  if (seed) {
    if (seed.length !== root.size) throw new Error(`seed has ${seed.length} elements, root has ${root.size}`);
    for (let i = 0; i < g.length; i++) g[i] += seed[i];
  } else {
    for (let i = 0; i < g.length; i++) g[i] += 1;
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    if (t.backwardFn && t.grad) t.backwardFn(t.grad);
  }
}

// Iterative DFS post-order: RNNs unrolled over long sequences would overflow a recursive one.
function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i < t.parents.length) {
      top[1]++;
      const p = t.parents[i];
      if (p.requiresGrad && !seen.has(p)) {
        seen.add(p);
        stack.push([p, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

// ---------------------------------------------------------------- elementwise, unary

/** An elementwise function f with derivative df(x, f(x)) as a tape op. */
export function unary(op: string, x: Tensor, f: (v: number) => number, df: (v: number, y: number) => number): Tensor {
  const xd = x.data;
  const y = new Float64Array(xd.length);
  for (let i = 0; i < y.length; i++) y[i] = f(xd[i]);
  return result(op, [...x.shape], y, [x], (g) => {
    const gx = x.gradBuffer();
    for (let i = 0; i < g.length; i++) gx[i] += g[i] * df(xd[i], y[i]);
  });
}

function stableSigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export const exp = (x: Tensor) => unary("exp", x, Math.exp, (_v, y) => y);
export const log = (x: Tensor) => unary("log", x, Math.log, (v) => 1 / v);
export const tanh = (x: Tensor) => unary("tanh", x, Math.tanh, (_v, y) => 1 - y * y);
export const sigmoid = (x: Tensor) => unary("sigmoid", x, stableSigmoid, (_v, y) => y * (1 - y));
// NOTE: the gradient at exactly 0 is 0, as TensorFlow's ReluGrad (x > 0).
export const relu = (x: Tensor) => unary("relu", x, (v) => (v > 0 ? v : 0), (v) => (v > 0 ? 1 : 0));
export const leakyRelu = (x: Tensor, alpha: number) =>
  unary("leaky_relu", x, (v) => (v > 0 ? v : alpha * v), (v) => (v > 0 ? 1 : alpha));
export const elu = (x: Tensor) =>
  unary("elu", x, (v) => (v > 0 ? v : Math.expm1(v)), (v) => (v > 0 ? 1 : Math.exp(v)));
// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x.
export const softplus = (x: Tensor) =>
  unary("softplus", x, (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))), stableSigmoid);
export const erfOp = (x: Tensor) => unary("erf", x, erf, erfDerivative);
export const geluOp = (x: Tensor) => unary("gelu", x, gelu, geluDerivative);
export const sqrt = (x: Tensor) => unary("sqrt", x, Math.sqrt, (_v, y) => 0.5 / y);
export const abs = (x: Tensor) => unary("abs", x, Math.abs, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
export const square = (x: Tensor) => unary("square", x, (v) => v * v, (v) => 2 * v);
/** a·x + b with constants a, b. */
export const affine = (x: Tensor, a: number, b = 0) => unary("affine", x, (v) => a * v + b, () => a);
// Gradient passes on the closed interval, zero outside it (TensorFlow's clip_by_value rule).
export const clip = (x: Tensor, lo: number, hi: number) =>
  unary("clip", x, (v) => Math.min(Math.max(v, lo), hi), (v) => (v >= lo && v <= hi ? 1 : 0));

// ---------------------------------------------------------------- broadcasting

/** numpy-style broadcast of two shapes; throws when they are incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Repeats x along size-1 or missing leading axes; backward sums the copies. */
export function broadcastTo(x: Tensor, shape: number[]): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const outShape = broadcastShapes(x.shape, shape);
  if (!sameShape(outShape, shape)) throw new Error(`cannot broadcast [${x.shape}] to [${shape}]`);
  const n = sizeOf(shape);
  const src = new Int32Array(n);
  const xs = stridesOf(x.shape);
  const lead = shape.length - x.shape.length;
  const idx = new Array<number>(shape.length).fill(0);
  const suffix = x.shape.every((d, i) => d === shape[lead + i]);
  for (let i = 0; i < n; i++) {
    if (suffix) {
      src[i] = i % x.size; // the common bias case: x repeats as a whole
      continue;
    }
    let off = 0;
    for (let d = lead; d < shape.length; d++) if (x.shape[d - lead] !== 1) off += idx[d] * xs[d - lead];
    src[i] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = x.data[src[i]];
  return result("broadcast_to", [...shape], y, [x], (g) => {
    const gx = x.gradBuffer();
    for (let i = 0; i < n; i++) gx[src[i]] += g[i];
  });
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---------------------------------------------------------------- elementwise, binary

type Binary = (a: number, b: number) => number;

function binary(op: string, a: Tensor, b: Tensor, f: Binary, da: Binary, db: Binary): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const A = broadcastTo(a, shape);
  const B = broadcastTo(b, shape);
  const ad = A.data;
  const bd = B.data;
  const y = new Float64Array(ad.length);
  for (let i = 0; i < y.length; i++) y[i] = f(ad[i], bd[i]);
  return result(op, shape, y, [A, B], (g) => {
    if (A.requiresGrad) {
      const ga = A.gradBuffer();
      for (let i = 0; i < g.length; i++) ga[i] += g[i] * da(ad[i], bd[i]);
    }
    if (B.requiresGrad) {
      const gb = B.gradBuffer();
      for (let i = 0; i < g.length; i++) gb[i] += g[i] * db(ad[i], bd[i]);
    }
  });
}

export const add = (a: Tensor, b: Tensor) => binary("add", a, b, (x, y) => x + y, () => 1, () => 1);
export const sub = (a: Tensor, b: Tensor) => binary("sub", a, b, (x, y) => x - y, () => 1, () => -1);
export const mul = (a: Tensor, b: Tensor) => binary("mul", a, b, (x, y) => x * y, (_x, y) => y, (x) => x);
export const div = (a: Tensor, b: Tensor) =>
  binary("div", a, b, (x, y) => x / y, (_x, y) => 1 / y, (x, y) => -x / (y * y));
// Ties go to the FIRST operand, so a left fold over several inputs favours the earliest one.
export const maximum = (a: Tensor, b: Tensor) =>
  binary("maximum", a, b, (x, y) => (x >= y ? x : y), (x, y) => (x >= y ? 1 : 0), (x, y) => (x >= y ? 0 : 1));
export const minimum = (a: Tensor, b: Tensor) =>
  binary("minimum", a, b, (x, y) => (x <= y ? x : y), (x, y) => (x <= y ? 1 : 0), (x, y) => (x <= y ? 0 : 1));

// ---------------------------------------------------------------- matmul

/** [..., m, k] × [..., k, n] with identical leading (batch) axes. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const r = a.shape.length;
  if (r < 2 || b.shape.length !== r) throw new Error(`matmul needs equal ranks ≥ 2, got [${a.shape}] and [${b.shape}]`);
  const lead = a.shape.slice(0, r - 2);
  if (!sameShape(lead, b.shape.slice(0, r - 2))) throw new Error(`matmul batch axes differ: [${a.shape}] vs [${b.shape}]`);
  const [m, k] = a.shape.slice(r - 2);
  const [k2, n] = b.shape.slice(r - 2);
  if (k !== k2) throw new Error(`matmul inner sizes differ: [${a.shape}] × [${b.shape}]`);
  const batches = sizeOf(lead);
  const ad = a.data;
  const bd = b.data;
  const y = new Float64Array(batches * m * n);
  for (let p = 0; p < batches; p++) {
    const ao = p * m * k, bo = p * k * n, yo = p * m * n;
    for (let i = 0; i < m; i++)
      for (let q = 0; q < k; q++) {
        const av = ad[ao + i * k + q];
        if (av === 0) continue;
        for (let j = 0; j < n; j++) y[yo + i * n + j] += av * bd[bo + q * n + j];
      }
  }
  return result("matmul", [...lead, m, n], y, [a, b], (g) => {
    const ga = a.requiresGrad ? a.gradBuffer() : undefined;
    const gb = b.requiresGrad ? b.gradBuffer() : undefined;
    for (let p = 0; p < batches; p++) {
      const ao = p * m * k, bo = p * k * n, yo = p * m * n;
      for (let i = 0; i < m; i++)
        for (let q = 0; q < k; q++) {
          let s = 0;
          const av = ad[ao + i * k + q];
          for (let j = 0; j < n; j++) {
            const gv = g[yo + i * n + j];
            s += gv * bd[bo + q * n + j];
            if (gb) gb[bo + q * n + j] += av * gv;
          }
          if (ga) ga[ao + i * k + q] += s;
        }
    }
  });
}

// ---------------------------------------------------------------- movement

export function reshape(x: Tensor, shape: number[]): Tensor {
  if (sizeOf(shape) !== x.size) throw new Error(`cannot reshape [${x.shape}] to [${shape}]`);
  return result("reshape", [...shape], x.data.slice(), [x], (g) => {
    const gx = x.gradBuffer();
    for (let i = 0; i < g.length; i++) gx[i] += g[i];
  });
}

/** Output axis i is input axis perm[i]. */
export function permute(x: Tensor, perm: number[]): Tensor {
  const r = x.shape.length;
  if (perm.length !== r || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new Error(`bad permutation [${perm}] for rank ${r}`);
  }
  const shape = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  const n = x.size;
  const src = new Int32Array(n);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < r; d++) off += idx[d] * xs[perm[d]];
    src[i] = off;
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = x.data[src[i]];
  return result("permute", shape, y, [x], (g) => {
    const gx = x.gradBuffer();
    for (let i = 0; i < n; i++) gx[src[i]] += g[i];
  });
}

/** Elements [start, end) along `axis`. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const { outer, len, inner } = splitAt(x.shape, axis);
  if (start < 0 || end > len || start >= end) throw new Error(`bad slice [${start}, ${end}) of axis ${axis} (size ${len})`);
  const w = end - start;
  const y = new Float64Array(outer * w * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < w * inner; j++) y[o * w * inner + j] = x.data[(o * len + start) * inner + j];
  const shape = [...x.shape];
  shape[axis] = w;
  return result("slice", shape, y, [x], (g) => {
    const gx = x.gradBuffer();
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < w * inner; j++) gx[(o * len + start) * inner + j] += g[o * w * inner + j];
  });
}

export function concat(xs: Tensor[], axis: number): Tensor {
  const base = xs[0].shape;
  for (const t of xs) {
    if (t.shape.length !== base.length || t.shape.some((d, i) => i !== axis && d !== base[i])) {
      throw new Error(`concat on axis ${axis}: [${t.shape}] does not fit [${base}]`);
    }
  }
  const { outer, inner } = splitAt(base, axis);
  const lens = xs.map((t) => t.shape[axis]);
  const total = lens.reduce((p, q) => p + q, 0);
  const y = new Float64Array(outer * total * inner);
  const offsets: number[] = [];
  let acc = 0;
  for (const l of lens) {
    offsets.push(acc);
    acc += l;
  }
  xs.forEach((t, k) => {
    const w = lens[k] * inner;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < w; j++) y[(o * total + offsets[k]) * inner + j] = t.data[o * w + j];
  });
  const shape = [...base];
  shape[axis] = total;
  return result("concat", shape, y, xs, (g) => {
    xs.forEach((t, k) => {
      if (!t.requiresGrad) return;
      const gx = t.gradBuffer();
      const w = lens[k] * inner;
      for (let o = 0; o < outer; o++)
        for (let j = 0; j < w; j++) gx[o * w + j] += g[(o * total + offsets[k]) * inner + j];
    });
  });
}

/** Views a shape as [outer, shape[axis], inner]. */
export function splitAt(shape: readonly number[], axis: number): { outer: number; len: number; inner: number } {
  if (axis < 0 || axis >= shape.length) throw new Error(`axis ${axis} out of range for rank ${shape.length}`);
  return { outer: sizeOf(shape.slice(0, axis)), len: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

// ---------------------------------------------------------------- reductions

/** Sums over `axes`; keepDims leaves them as size 1. */
export function sum(x: Tensor, axes: number[], keepDims = false): Tensor {
  const r = x.shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + r : a)));
  const keptShape = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const ks = stridesOf(keptShape);
  const n = x.size;
  const dst = new Int32Array(n);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < r; d++) if (!reduced.has(d)) off += idx[d] * ks[d];
    dst[i] = off;
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  const y = new Float64Array(sizeOf(keptShape));
  for (let i = 0; i < n; i++) y[dst[i]] += x.data[i];
  const shape = keepDims ? keptShape : x.shape.filter((_d, i) => !reduced.has(i));
  return result("sum", shape, y, [x], (g) => {
    const gx = x.gradBuffer();
    for (let i = 0; i < n; i++) gx[i] += g[dst[i]];
  });
}

export function sumAll(x: Tensor): Tensor {
  return sum(x, x.shape.map((_d, i) => i));
}

export function mean(x: Tensor, axes: number[], keepDims = false): Tensor {
  const r = x.shape.length;
  const count = axes.reduce((p, a) => p * x.shape[a < 0 ? a + r : a], 1);
  return affine(sum(x, axes, keepDims), 1 / count);
}

export function meanAll(x: Tensor): Tensor {
  return affine(sumAll(x), 1 / x.size);
}

/** Max along one axis (removed); the gradient goes to the FIRST maximal element. */
export function reduceMax(x: Tensor, axis: number): Tensor {
  const { outer, len, inner } = splitAt(x.shape, axis);
  const y = new Float64Array(outer * inner);
  const arg = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      let best = -Infinity;
      let at = o * len * inner + j;
      for (let l = 0; l < len; l++) {
        const p = (o * len + l) * inner + j;
        if (x.data[p] > best) {
          best = x.data[p];
          at = p;
        }
      }
      y[o * inner + j] = best;
      arg[o * inner + j] = at;
    }
  return result("reduce_max", x.shape.filter((_d, i) => i !== axis), y, [x], (g) => {
    const gx = x.gradBuffer();
    for (let i = 0; i < g.length; i++) gx[arg[i]] += g[i];
  });
}

// ---------------------------------------------------------------- softmax

/** softmax along `axis`; backward y ⊙ (g − Σ g⊙y). */
export function softmax(x: Tensor, axis: number): Tensor {
  const { outer, len, inner } = splitAt(x.shape, axis);
  const y = new Float64Array(x.size);
  forEachLine(outer, len, inner, (at) => {
    let m = -Infinity;
    for (let l = 0; l < len; l++) m = Math.max(m, x.data[at(l)]);
    let s = 0;
    for (let l = 0; l < len; l++) s += y[at(l)] = Math.exp(x.data[at(l)] - m);
    for (let l = 0; l < len; l++) y[at(l)] /= s;
  });
  return result("softmax", [...x.shape], y, [x], (g) => {
    const gx = x.gradBuffer();
    forEachLine(outer, len, inner, (at) => {
      let dot = 0;
      for (let l = 0; l < len; l++) dot += g[at(l)] * y[at(l)];
      for (let l = 0; l < len; l++) gx[at(l)] += y[at(l)] * (g[at(l)] - dot);
    });
  });
}

/** log-softmax along `axis`, x − max − log Σ e^(x−max); backward g − softmax·Σ g. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  const { outer, len, inner } = splitAt(x.shape, axis);
  const y = new Float64Array(x.size);
  forEachLine(outer, len, inner, (at) => {
    let m = -Infinity;
    for (let l = 0; l < len; l++) m = Math.max(m, x.data[at(l)]);
    let s = 0;
    for (let l = 0; l < len; l++) s += Math.exp(x.data[at(l)] - m);
    const lse = m + Math.log(s);
    for (let l = 0; l < len; l++) y[at(l)] = x.data[at(l)] - lse;
  });
  return result("log_softmax", [...x.shape], y, [x], (g) => {
    const gx = x.gradBuffer();
    forEachLine(outer, len, inner, (at) => {
      let gs = 0;
      for (let l = 0; l < len; l++) gs += g[at(l)];
      for (let l = 0; l < len; l++) gx[at(l)] += g[at(l)] - Math.exp(y[at(l)]) * gs;
    });
  });
}

function forEachLine(outer: number, len: number, inner: number, fn: (at: (l: number) => number) => void): void {
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) fn((l) => (o * len + l) * inner + j);
}
