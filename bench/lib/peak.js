/**
 * This machine's wasm-SIMD peak, measured in the same run as everything else: 12 independent
 * f32x4 mul+add chains (`c = c·m + k`; 12 is the most V8 keeps in its 16 xmm registers next to
 * the two constants), compiled by the project's AssemblyScript at -O3. No memory traffic, so it
 * is the ceiling, not a GEMM: kiln's kernels are reported as a fraction of it.
 */
const CHAINS = 12;

/** AssemblyScript source of `peak(n, x)`: n steps of 12 f32x4 mul+add (96 flops each). */
export function peakSource() {
  const accs = Array.from({ length: CHAINS }, (_, i) => `c${i}`);
  const sum = accs.reduce((s, a) => (s ? `f32x4.add(${s}, ${a})` : a), "");
  return [
    `export function peak(n: i32, x: f32): f32 {`,
    `  const m = f32x4.splat(x), k = f32x4.splat(x * 0.5);`, // runtime values: nothing folds
    ...accs.map((a, i) => `  let ${a} = f32x4.splat(${i}.0);`),
    `  for (let i = 0; i < n; i++) {`,
    ...accs.map((a) => `    ${a} = f32x4.add(f32x4.mul(${a}, m), k);`),
    `  }`,
    `  const s = ${sum};`,
    `  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);`,
    `}`,
  ].join("\n");
}

export const FLOPS_PER_STEP = CHAINS * 4 * 2;

/** Compiles and instantiates the probe; returns a step function doing `steps` loop steps. */
export async function peakProbe(compileAssemblyScript, steps) {
  const wasm = await compileAssemblyScript(peakSource(), { optimizeLevel: 3, initialPages: 1 });
  const memory = new WebAssembly.Memory({ initial: 1 });
  const { instance } = await WebAssembly.instantiate(wasm, { env: { memory, abort() { throw new Error("abort"); } } });
  let sink = 0;
  // m = 0.5 keeps every chain bounded (c → 2k): no overflow, no denormals.
  const step = () => { sink += instance.exports.peak(steps, 0.5); };
  return { step, flops: steps * FLOPS_PER_STEP, sink: () => sink };
}
