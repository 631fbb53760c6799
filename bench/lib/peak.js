/**
 * This machine's wasm-SIMD peak, measured in the same run as everything else, compiled by the
 * project's AssemblyScript at -O3. Three f32x4 mul+add loops: 12 independent chains in registers
 * (`c = c·m + k`), and GEMM-shaped inner loops (4×2 and 6×2 vectors: splat loads × vector loads
 * from L1-resident panels into 8 or 12 accumulators). The fastest on this machine is the peak
 * that kiln's kernels are reported against.
 */
const CHAINS = 12;
const WRAP = 255; // GEMM panels stay in L1: 256 steps × at most (24 + 32) bytes

/** `peak_chain(n, x)`: n steps of 12 register-resident f32x4 mul+add chains (96 flops a step). */
function chainSource() {
  const accs = Array.from({ length: CHAINS }, (_, i) => `c${i}`);
  const sum = accs.reduce((s, a) => (s ? `f32x4.add(${s}, ${a})` : a), "");
  return [
    `export function peak_chain(n: i32, x: f32): f32 {`,
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

/** `peak_gemm<rows>(n, a, b)`: a rows×2-vector micro-kernel step (rows·2 mul+add on 4 lanes) per loop step. */
function gemmSource(rows) {
  const accs = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < 2; c++) accs.push(`c${r}${c}`);
  const body = [`    const o: usize = <usize>(i & ${WRAP});`, `    const pa = a + o * ${rows * 4}, pb = b + o * 32;`, `    const b0 = v128.load(pb), b1 = v128.load(pb, 16);`];
  for (let r = 0; r < rows; r++) {
    body.push(`    const a${r} = v128.load32_splat(pa, ${r * 4});`);
    for (let c = 0; c < 2; c++) body.push(`    c${r}${c} = f32x4.add(c${r}${c}, f32x4.mul(a${r}, b${c}));`);
  }
  const sum = accs.reduce((s, a) => (s ? `f32x4.add(${s}, ${a})` : a), "");
  return [
    `export function peak_gemm${rows}(n: i32, a: usize, b: usize): f32 {`,
    ...accs.map((a) => `  let ${a} = f32x4.splat(0);`),
    `  for (let i = 0; i < n; i++) {`, ...body, `  }`,
    `  const s = ${sum};`,
    `  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);`,
    `}`,
  ].join("\n");
}

export function peakSource() {
  return [chainSource(), gemmSource(4), gemmSource(6)].join("\n\n");
}

const VARIANTS = [
  { name: "12 register chains", fn: "peak_chain", flopsPerStep: CHAINS * 8, args: () => [0.5] },
  { name: "4×2-vector GEMM step", fn: "peak_gemm4", flopsPerStep: 4 * 2 * 8, args: (b) => [0, b] },
  { name: "6×2-vector GEMM step", fn: "peak_gemm6", flopsPerStep: 6 * 2 * 8, args: (b) => [0, b] },
];

/**
 * Compiles and instantiates the probes, picks the fastest variant here (best of a few CPU-timed
 * runs each), and returns a step function running it for about `flopsTarget` flops.
 */
export async function peakProbe(compileAssemblyScript, flopsTarget) {
  const wasm = await compileAssemblyScript(peakSource(), { optimizeLevel: 3, initialPages: 1 });
  const memory = new WebAssembly.Memory({ initial: 1 });
  const { instance } = await WebAssembly.instantiate(wasm, { env: { memory, abort() { throw new Error("abort"); } } });
  const f = new Float32Array(memory.buffer);
  for (let i = 0; i < f.length; i++) f[i] = 1e-3 * ((i % 7) - 3); // small: no overflow, no denormals
  const bOffset = (WRAP + 1) * 6 * 4;
  let sink = 0;
  const make = (v) => {
    const steps = Math.round(flopsTarget / v.flopsPerStep), args = v.args(bOffset), fn = instance.exports[v.fn];
    return { ...v, steps, flops: steps * v.flopsPerStep, step: () => { sink += fn(steps, ...args); } };
  };
  const timed = VARIANTS.map(make).map((p) => {
    let best = Infinity;
    for (let i = 0; i < 4; i++) {
      const c0 = process.cpuUsage();
      p.step();
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1000);
    }
    return { ...p, gflops: p.flops / best / 1e6 };
  });
  const fastest = timed.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { step: fastest.step, flops: fastest.flops, variant: fastest.name, calibration: timed.map(({ name, gflops }) => ({ name, gflops })), sink: () => sink };
}
