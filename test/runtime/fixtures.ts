/**
 * Hand-made kiln modules for the runtime tests (there is no compiler in these tests): one
 * AssemblyScript source holds two models, told apart by the export names their manifests give.
 *  - linear: y = x·W + b (3 → 2), MSE loss, MAE metric, sgd with momentum 0.9 and lr 0.1.
 *  - probe: echoes what the runtime wrote (sums, the seed), traps on id 7, and reports
 *    controllable losses (mean of a[:,0] in train_step, NaN for −1; mean of a[:,1] in evaluate).
 */
import { compileAssemblyScript, finishModule } from "../../compiler/assemble/asc.js";
import type { Manifest } from "../../runtime/manifest.js";

const L = 65536; // linear model region
const P = 131072; // probe model region
const PAGES = 3;

const SOURCE = `
// ---- linear: x [4,3] y [4,2] out [4,2] W [3,2] b [2] mW mb result step seed
const LX: usize = ${L}; const LY: usize = ${L + 256}; const LO: usize = ${L + 512};
const LW: usize = ${L + 768}; const LB: usize = ${L + 1024};
const LMW: usize = ${L + 1280}; const LMB: usize = ${L + 1536};
const LR: usize = ${L + 1792}; const LS: usize = ${L + 2048};

function linForward(n: i32): void {
  for (let i = 0; i < n; i++) for (let u = 0; u < 2; u++) {
    let acc = load<f32>(LB + u * 4);
    for (let d = 0; d < 3; d++) acc += load<f32>(LX + (i * 3 + d) * 4) * load<f32>(LW + (d * 2 + u) * 4);
    store<f32>(LO + (i * 2 + u) * 4, acc);
  }
}
function linLoss(n: i32): void {
  let se: f32 = 0, ae: f32 = 0;
  for (let k = 0; k < n * 2; k++) {
    const e = load<f32>(LO + k * 4) - load<f32>(LY + k * 4);
    se += e * e; ae += abs<f32>(e);
  }
  store<f32>(LR, se / <f32>(n * 2));
  store<f32>(LR + 4, ae / <f32>(n * 2));
}
function sgd(w: usize, m: usize, g: f32): void {
  const v = <f32>0.9 * load<f32>(m) - <f32>0.1 * g;
  store<f32>(m, v);
  store<f32>(w, load<f32>(w) + v);
}
export function lin_predict(n: i32): void { linForward(n); }
export function lin_eval(n: i32): void { linForward(n); linLoss(n); }
export function lin_train(n: i32): void {
  linForward(n); linLoss(n);
  const scale = <f32>2 / <f32>(n * 2);
  for (let u = 0; u < 2; u++) {
    for (let d = 0; d < 3; d++) {
      let g: f32 = 0;
      for (let i = 0; i < n; i++) g += load<f32>(LX + (i * 3 + d) * 4) * (load<f32>(LO + (i * 2 + u) * 4) - load<f32>(LY + (i * 2 + u) * 4));
      sgd(LW + (d * 2 + u) * 4, LMW + (d * 2 + u) * 4, g * scale);
    }
    let gb: f32 = 0;
    for (let i = 0; i < n; i++) gb += load<f32>(LO + (i * 2 + u) * 4) - load<f32>(LY + (i * 2 + u) * 4);
    sgd(LB + u * 4, LMB + u * 4, gb * scale);
  }
  store<i32>(LS, load<i32>(LS) + 1);
}

// ---- probe: a [4,2] f32, ids [4,3] i32, t [4,1], sum [4,1], seedout [4,1], weights, result, step, seed
const PA: usize = ${P}; const PI: usize = ${P + 128}; const PSUM: usize = ${P + 384};
const PSEEDOUT: usize = ${P + 512}; const PW: usize = ${P + 640};
const PR: usize = ${P + 896}; const PS: usize = ${P + 960}; const PSEED: usize = ${P + 1024};

store<f32>(PW, 1.5); // "embedded" weight data: kept only when the manifest says weightsEmbedded

export function probe_predict(n: i32): void {
  for (let i = 0; i < n; i++) {
    let s = load<f32>(PA + i * 8) + load<f32>(PA + i * 8 + 4);
    for (let k = 0; k < 3; k++) {
      const id = load<i32>(PI + (i * 3 + k) * 4);
      if (id == 7) unreachable();
      s += <f32>id;
    }
    store<f32>(PSUM + i * 4, s);
    store<f32>(PSEEDOUT + i * 4, <f32>load<u32>(PSEED));
  }
}
export function probe_train(n: i32): void {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const a = load<f32>(PA + i * 8);
    s += a == -1 ? NaN : a;
  }
  store<f32>(PR, s / <f32>n);
  store<f32>(PR + 4, <f32>load<u32>(PSEED));
  store<i32>(PS, load<i32>(PS) + 1);
}
export function probe_eval(n: i32): void {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) s += load<f32>(PA + i * 8 + 4);
  store<f32>(PR, s / <f32>n);
  store<f32>(PR + 4, <f32>n);
}
`;

const init = (name: string, fanIn = 1, fanOut = 1) => ({ name, fanIn, fanOut });

export function linearManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: "kiln.module/v1", name: "linear", seed: 7, maxBatch: 4, canTrain: true,
    simd: "simd128", threads: false,
    memory: { pages: PAGES, weightsBytes: 32, arenaBytes: 0 },
    inputs: [{ name: "x", shape: [3], dtype: "float32", offset: L }],
    targets: [{ name: "y", shape: [2], dtype: "float32", offset: L + 256 }],
    outputs: [{ name: "out", shape: [2], dtype: "float32", offset: L + 512 }],
    weights: [
      { name: "dense/kernel", shape: [3, 2], trainable: true, offset: L + 768, initializer: init("glorot_uniform", 3, 2) },
      { name: "dense/bias", shape: [2], trainable: true, offset: L + 1024, initializer: init("zeros") },
    ],
    exports: { predict: "lin_predict", trainStep: "lin_train", evaluate: "lin_eval" },
    training: {
      loss: { type: "mean_squared_error", output: "out", target: "y", from_logits: false },
      metrics: ["mean_absolute_error"],
      optimizer: { type: "sgd", learning_rate: 0.1, momentum: 0.9 },
      resultOffset: L + 1792, stepOffset: L + 2048, seedOffset: L + 2304,
      slots: [
        { slot: "momentum", weight: "dense/kernel", offset: L + 1280 },
        { slot: "momentum", weight: "dense/bias", offset: L + 1536 },
      ],
    },
    ...overrides,
  };
}

export function probeManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: "kiln.module/v1", name: "probe", seed: 42, maxBatch: 4, canTrain: true,
    simd: "simd128", threads: false,
    memory: { pages: PAGES, weightsBytes: 128, arenaBytes: 0 },
    inputs: [
      { name: "a", shape: [2], dtype: "float32", offset: P },
      { name: "ids", shape: [3], dtype: "int32", offset: P + 128, range: [0, 10] },
    ],
    targets: [{ name: "t", shape: [1], dtype: "float32", offset: P + 256 }],
    outputs: [
      { name: "sum", shape: [1], dtype: "float32", offset: P + 384 },
      { name: "seed", shape: [1], dtype: "float32", offset: P + 512 },
    ],
    weights: [
      { name: "dense/kernel", shape: [4, 3], trainable: true, offset: P + 640, initializer: init("glorot_uniform", 4, 3) },
      { name: "dense/bias", shape: [3], trainable: true, offset: P + 704, initializer: init("zeros") },
      { name: "lstm/bias", shape: [8], trainable: true, offset: P + 768, initializer: { ...init("zeros"), onesRange: [2, 4] } },
    ],
    exports: { predict: "probe_predict", trainStep: "probe_train", evaluate: "probe_eval" },
    training: {
      loss: { type: "mean_squared_error", output: "sum", target: "t", from_logits: false },
      metrics: ["accuracy"],
      optimizer: { type: "sgd" },
      resultOffset: P + 896, stepOffset: P + 960, seedOffset: P + 1024,
      slots: [],
    },
    ...overrides,
  };
}

let wasm: Promise<Uint8Array> | undefined;

/** The compiled source (one asc run per test process). */
export function kernels(): Promise<Uint8Array> {
  return (wasm ??= compileAssemblyScript(SOURCE, { optimizeLevel: 0, initialPages: PAGES }));
}

const finished = new Map<string, Uint8Array>();

/** Module bytes with `manifest` attached (any JSON value, to test bad manifests too); cached. */
export async function moduleBytes(manifest: unknown): Promise<Uint8Array> {
  const json = JSON.stringify(manifest);
  let bytes = finished.get(json);
  if (!bytes) finished.set(json, (bytes = finishModule(await kernels(), { "kiln.manifest": new TextEncoder().encode(json) })));
  return bytes.slice();
}
