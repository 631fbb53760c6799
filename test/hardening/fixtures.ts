/**
 * A hand-made module for the trap and NaN-finder tests, shaped like compiled kiln output: kernels
 * k0..k3 and exports that call them in order, writing the index of each call to a progress cell.
 * Layers: "scale" h1 = x ⊙ w (k0), "root" h2 = sqrt(h1) (k1), "total" out = Σ h2 (k2); MSE loss (k3);
 * train_step then does w −= 0.5. Traps: x[0] = 7 → unreachable in k1; x[0] = 9 (h2 = 3) → out-of-bounds load in k2.
 */
import { compileAssemblyScript, finishModule } from "../../compiler/assemble/asc.js";
import type { Manifest } from "../../runtime/manifest.js";

const X = 1024, T = 1088, H1 = 1152, H2 = 1216, OUT = 1280, W = 1344, R = 1408, STEP = 1416, SEED = 1420, PROGRESS = 1424;
const PAGES = 1;

const SOURCE = `
function k0(x: usize, w: usize, y: usize, n: i32): void {
  for (let i = 0; i < n * 2; i++) store<f32>(y + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * load<f32>(w + (<usize>(i & 1) << 2)));
}
function k1(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n * 2; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v == 7) unreachable();
    store<f32>(y + (<usize>i << 2), sqrt<f32>(v));
  }
}
function k2(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const a = load<f32>(x + (<usize>i << 3));
    const far: usize = a == 3 ? 0x100000 : 0; // 1 MB: past the one-page memory
    store<f32>(y + (<usize>i << 2), a + load<f32>(x + far + (<usize>i << 3) + 4));
  }
}
function k3(o: usize, t: usize, r: usize, n: i32): void {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) { const e = load<f32>(o + (<usize>i << 2)) - load<f32>(t + (<usize>i << 2)); s += e * e; }
  store<f32>(r, s / <f32>n);
}
function forward(batch: i32): void {
  store<i32>(${PROGRESS}, 0); k0(${X}, ${W}, ${H1}, batch);
  store<i32>(${PROGRESS}, 1); k1(${H1}, ${H2}, batch);
  store<i32>(${PROGRESS}, 2); k2(${H2}, ${OUT}, batch);
}
export function predict(batch: i32): void { forward(batch); }
export function evaluate(batch: i32): void { forward(batch); store<i32>(${PROGRESS}, 3); k3(${OUT}, ${T}, ${R}, batch); }
export function train_step(batch: i32): void {
  forward(batch);
  store<i32>(${PROGRESS}, 3); k3(${OUT}, ${T}, ${R}, batch);
  store<f32>(${W}, load<f32>(${W}) - 0.5);
  store<f32>(${W + 4}, load<f32>(${W + 4}) - 0.5);
  store<i32>(${STEP}, load<i32>(${STEP}) + 1);
}
// Two layers sharing one kernel, and no progress cell: only the stack can tell where it trapped.
export function twice(batch: i32): void { k1(${X}, ${H1}, batch); k1(${H1}, ${H2}, batch); }
`;

const FORWARD: [string, string][] = [["k0", "scale"], ["k1", "root"], ["k2", "total"]];

export function trapManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: "kiln.module/v1", name: "nanny", seed: 3, maxBatch: 4, canTrain: true, simd: "simd128", threads: false,
    memory: { pages: PAGES, weightsBytes: 8, arenaBytes: 0 },
    inputs: [{ name: "x", shape: [2], dtype: "float32", offset: X }],
    targets: [{ name: "t", shape: [1], dtype: "float32", offset: T }],
    outputs: [{ name: "total", shape: [1], dtype: "float32", offset: OUT }],
    weights: [{ name: "scale/kernel", shape: [2], trainable: true, offset: W, initializer: { name: "ones", fanIn: 1, fanOut: 1 } }],
    exports: { predict: "predict", trainStep: "train_step", evaluate: "evaluate" },
    training: {
      loss: { type: "mean_squared_error", output: "total", target: "t", from_logits: false },
      metrics: [], optimizer: { type: "sgd" }, resultOffset: R, stepOffset: STEP, seedOffset: SEED, slots: [],
      layerOutputs: [
        { layer: "scale", offset: H1, shape: [2] },
        { layer: "root", offset: H2, shape: [2] },
        { layer: "total", offset: OUT, shape: [1] },
      ],
    },
    kernels: {
      progressOffset: PROGRESS,
      calls: { predict: FORWARD, evaluate: [...FORWARD, ["k3", "loss"]], train_step: [...FORWARD, ["k3", "loss"]], twice: [["k1", "first"], ["k1", "second"]] },
    },
    ...overrides,
  };
}

let wasm: Promise<Uint8Array> | undefined;

/** Module bytes with `manifest` attached; `names: false` strips the name section (as -O3 builds may). */
export async function trapModule(manifest: unknown, { names = true } = {}): Promise<Uint8Array> {
  const bytes = await (wasm ??= compileAssemblyScript(SOURCE, { optimizeLevel: 0, initialPages: PAGES }));
  const out = finishModule(bytes, { "kiln.manifest": new TextEncoder().encode(JSON.stringify(manifest)) });
  return names ? out : withoutSection(out, "name");
}

/** The module without the custom section `name` (sections: id byte, LEB128 size, payload). */
export function withoutSection(bytes: Uint8Array, name: string): Uint8Array {
  const keep: number[] = [...bytes.subarray(0, 8)];
  let p = 8;
  const leb = () => {
    let v = 0, shift = 0, b: number;
    do { b = bytes[p++]; v |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    return v;
  };
  while (p < bytes.length) {
    const start = p, id = bytes[p++], size = leb(), body = p;
    p = body + size;
    if (id === 0) {
      const q = p; p = body;
      const len = leb();
      const n = new TextDecoder().decode(bytes.subarray(p, p + len));
      p = q;
      if (n === name) continue;
    }
    keep.push(...bytes.subarray(start, p));
  }
  return new Uint8Array(keep);
}

/**
 * kernels.functions for this module: asc numbers functions in the order it compiles them (k0, k1,
 * k2, forward, predict, k3, …; no imported functions). The compiler would read these from binaryen
 * before names are dropped; the trap tests check them against real stack traces.
 */
export const FUNCTIONS: Record<string, string> = { 0: "k0", 1: "k1", 2: "k2", 5: "k3" };
