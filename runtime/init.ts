/**
 * Runtime stage 2: initial weight values, computed at load. Each weight draws from its own
 * xoshiro128** stream seeded by (manifest.seed, weight index), so values are deterministic and
 * independent of the other weights. Distributions are Keras's (spec §2): truncated normals cut at
 * ±2σ after Keras's 0.8796 stddev correction; orthogonal via a float64 QR with positive diag(R).
 */
import { isInt, isObject, KilnError, size } from "./core.js";
import type { WeightEntry } from "./manifest.js";
import type { Predictor } from "./predictor.js";
import { Rng } from "./rng.js";

// The generator lives in rng.ts so fit.ts can shuffle without pulling the initializers into the
// core bundle (they are loaded with the model, by dynamic import).
export { Rng } from "./rng.js";

/** Keras's VarianceScaling divides the stddev by this so the ±2σ-truncated normal keeps the variance. */
const TRUNC = 0.87962566103423978;

/** [kind, scale, fan mode] of the VarianceScaling initializers. */
const SCALING: Record<string, ["u" | "n", number, "in" | "avg"]> = {
  glorot_uniform: ["u", 1, "avg"],
  glorot_normal: ["n", 1, "avg"],
  he_uniform: ["u", 2, "in"],
  he_normal: ["n", 2, "in"],
  lecun_normal: ["n", 1, "in"],
};

/** The initializers initialValues computes. */
const KNOWN = [...Object.keys(SCALING), "random_normal", "random_uniform", "uniform", "orthogonal", "ones", "zeros"];

/**
 * Checks every weight's initializer in the manifest (a known name, integer fans, a onesRange inside
 * the weight) before any is computed, so a crafted manifest is refused with nothing written. Only a
 * load that initializes runs it: a model given its weights never reads its initializers.
 */
export function checkInitializers(weights: WeightEntry[]): void {
  for (const w of weights) {
    const i: Partial<WeightEntry["initializer"]> = w.initializer;
    const ones = i?.onesRange === undefined || (Array.isArray(i.onesRange) && isInt(i.onesRange[0]) && isInt(i.onesRange[1], i.onesRange[0], size(w.shape)));
    if (!isObject(i) || !KNOWN.includes(i.name!) || !isInt(i.fanIn) || !isInt(i.fanOut) || !ones) {
      throw new KilnError({ code: "manifest", path: "kiln.manifest", message: `weight "${w.name}": bad initializer ${String(JSON.stringify(i)).slice(0, 80)}` });
    }
  }
}

/** Writes every weight's initial values into the model's memory, once every initializer is checked (loadModel, for a model given no weights). */
export function initialize(model: Predictor): void {
  const m = model.manifest;
  checkInitializers(m.weights);
  m.weights.forEach((w, i) => model.f32(w.offset, size(w.shape)).set(initialValues(w, m.seed, i)));
}

/** Initial values of weight `index` of a manifest (row-major, the weight's shape). */
export function initialValues(w: WeightEntry, seed: number, index: number): Float32Array {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const rng = new Rng(seed, index);
  const { name, fanIn, fanOut, onesRange } = w.initializer;
  const scaling = SCALING[name];
  if (scaling) {
    const [kind, scale, mode] = scaling;
    const variance = scale / Math.max(1, mode === "in" ? fanIn : (fanIn + fanOut) / 2);
    if (kind === "u") fillUniform(out, rng, Math.sqrt(3 * variance));
    else fillTruncated(out, rng, Math.sqrt(variance) / TRUNC);
  } else if (name === "random_normal") {
    for (let i = 0; i < n; i++) out[i] = 0.05 * rng.normal();
  } else if (name === "random_uniform" || name === "uniform") {
    fillUniform(out, rng, 0.05);
  } else if (name === "orthogonal") {
    const cols = w.shape[w.shape.length - 1] ?? 1;
    out.set(orthogonal(n / cols, cols, rng));
  } else if (name === "ones") {
    out.fill(1);
  } else if (name !== "zeros") {
    throw new KilnError({ code: "manifest", path: w.name, message: `unknown initializer "${name}"` });
  }
  if (onesRange) out.fill(1, onesRange[0], onesRange[1]);
  return out;
}

function fillUniform(out: Float32Array, rng: Rng, limit: number): void {
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * limit;
}

/** Normal with stddev `sd`, redrawing values outside ±2·sd as Keras's truncated_normal does. */
function fillTruncated(out: Float32Array, rng: Rng, sd: number): void {
  for (let i = 0; i < out.length; i++) {
    let z: number;
    do z = rng.normal(); while (z < -2 || z > 2);
    out[i] = z * sd;
  }
}

/**
 * Keras's Orthogonal: QR of a normal [max(r,c), min(r,c)] matrix, Q's columns signed by diag(R),
 * transposed when rows < cols. Modified Gram–Schmidt gives that Q (its R has a positive diagonal,
 * which is what the sign fix produces); it loses orthogonality only in proportion to cond(A), which
 * is small for Gaussian matrices, so one pass stays orthonormal far below float32 rounding.
 */
export function orthogonal(rows: number, cols: number, rng: Rng): Float64Array {
  const m = Math.max(rows, cols), k = Math.min(rows, cols);
  const q = new Float64Array(m * k); // column-major: column j at j*m
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) q[j * m + i] = rng.normal();
  for (let j = 0; j < k; j++) {
    const cj = q.subarray(j * m, (j + 1) * m);
    for (let p = 0; p < j; p++) {
      const cp = q.subarray(p * m, (p + 1) * m);
      const dot = dot4(cp, cj);
      for (let i = 0; i < m; i++) cj[i] -= dot * cp[i];
    }
    const norm = Math.sqrt(dot4(cj, cj));
    for (let i = 0; i < m; i++) cj[i] /= norm;
  }
  // Row-major [rows, cols]: Q itself when rows ≥ cols, else Qᵀ.
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = rows >= cols ? q[c * m + r] : q[r * m + c];
  }
  return out;
}

/** Dot product with four accumulators, to shorten the chain of dependent adds. */
function dot4(a: Float64Array, b: Float64Array): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  for (; i + 3 < a.length; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < a.length; i++) s0 += a[i] * b[i];
  return s0 + s1 + (s2 + s3);
}
