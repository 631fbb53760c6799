// Speed probe for the matmul and conv kernels (not a test): GFLOP/s at asc -O3, plain and relaxed SIMD.
// Build first: `npx tsc -p tsconfig.build.json`, then `node bench/kernels.mjs [filter]`
// (KILN_DIST=<dir> reads the compiled compiler from another output directory than dist/).
import v8 from "node:v8";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const dist = process.env.KILN_DIST ? pathToFileURL(resolve(process.env.KILN_DIST)).href + "/" : new URL("../dist/", import.meta.url).href;
const { compileAssemblyScript } = await import(dist + "compiler/assemble/asc.js");
const { emitMatmul } = await import(dist + "compiler/emit/matmul.js");
const conv = await import(dist + "compiler/emit/conv.js").catch(() => null);

const filter = process.argv[2] ?? "";
const cases = [
  { name: "matmul 512^3 NN", flops: 2 * 512 ** 3, def: (r) => emitMatmul({ m: "m", n: 512, k: 512, relaxed: r }), sizes: [512 * 512, 512 * 512, 512 * 512], dims: [512] },
  { name: "matmul 512^3 TN (dW, runtime k)", flops: 2 * 512 ** 3, def: (r) => emitMatmul({ m: 512, n: 512, k: "k", transA: true, relaxed: r }), sizes: [512 * 512, 512 * 512, 512 * 512], dims: [512] },
  { name: "matmul 512^3 NT (dX)", flops: 2 * 512 ** 3, def: (r) => emitMatmul({ m: "m", n: 512, k: 512, transB: true, relaxed: r }), sizes: [512 * 512, 512 * 512, 512 * 512], dims: [512] },
  { name: "dense fwd 32x784 -> 128, relu", flops: 2 * 784 * 128 * 32, def: (r) => emitMatmul({ m: "m", n: 128, k: 784, bias: true, activation: "relu", relaxed: r }), sizes: [32 * 784, 784 * 128, 32 * 128, 128], dims: [32] },
  { name: "dense dX 32x128 . W^T -> 784", flops: 2 * 784 * 128 * 32, def: (r) => emitMatmul({ m: "m", n: 784, k: 128, transB: true, relaxed: r }), sizes: [32 * 128, 784 * 128, 32 * 784], dims: [32] },
  { name: "dense dW 784x128, 32 rows", flops: 2 * 784 * 128 * 32, def: (r) => emitMatmul({ m: 784, n: 128, k: "k", transA: true, relaxed: r }), sizes: [32 * 784, 32 * 128, 784 * 128], dims: [32] },
];
if (conv) {
  const s = { h: 28, w: 28, c: 32, f: 64, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 0, padLeft: 0, oh: 26, ow: 26 };
  const fl = 2 * 32 * 26 * 26 * 64 * 9 * 32, x = 32 * 28 * 28 * 32, wt = 9 * 32 * 64, y = 32 * 26 * 26 * 64;
  cases.push({ name: "conv3x3 fwd b32 28x28x32->26x26x64", flops: fl, def: (r) => conv.emitConv2d({ ...s, relaxed: r }), sizes: [x, wt, y], dims: [32] });
  const s1 = { ...s, c: 1, f: 32 }, fl1 = 2 * 32 * 26 * 26 * 32 * 9;
  cases.push({ name: "conv1 3x3 b32 28x28x1->26x26x32 relu", flops: fl1, def: (r) => conv.emitConv2d({ ...s1, bias: true, activation: "relu", relaxed: r }), sizes: [32 * 784, 9 * 32, 32 * 676 * 32, 32], dims: [32] });
  cases.push({ name: "conv1 grad-filter", flops: fl1, def: (r) => conv.emitConv2dGradFilter({ ...s1, relaxed: r }), sizes: [32 * 784, 32 * 676 * 32, 9 * 32], dims: [32] });
  cases.push({ name: "conv3x3 grad-input", flops: fl, def: (r) => conv.emitConv2dGradInput({ ...s, relaxed: r }), sizes: [y, wt, x], dims: [32] });
  cases.push({ name: "conv3x3 grad-filter", flops: fl, def: (r) => conv.emitConv2dGradFilter({ ...s, relaxed: r }), sizes: [x, y, wt], dims: [32] });
  // Issue 19: a 1x1 stride-1 conv (MobileNetV2's expand/project layers, 28x28x64 -> 64 at batch 8) through
  // the im2col GEMM against the same product as a plain matmul of [N*H*W, C] x [C, F] (no im2col pass).
  const p1 = { h: 28, w: 28, c: 64, f: 64, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 0, padLeft: 0, oh: 28, ow: 28 };
  const rows1 = 8 * 28 * 28, fl1x1 = 2 * rows1 * 64 * 64;
  cases.push({ name: "conv1x1 b8 28x28x64->64 im2col", flops: fl1x1, def: (r) => conv.emitConv2d({ ...p1, relaxed: r }), sizes: [rows1 * 64, 64 * 64, rows1 * 64], dims: [8] });
  cases.push({ name: "conv1x1 b8 28x28x64->64 as matmul", flops: fl1x1, def: (r) => emitMatmul({ m: "m", n: 64, k: 64, relaxed: r }), sizes: [rows1 * 64, 64 * 64, rows1 * 64], dims: [rows1] });
}

for (const c of cases.filter((c) => c.name.includes(filter))) {
  const row = [];
  for (const relaxed of [false, true]) {
    const def = c.def(relaxed);
    const sig = def.params.map((p) => `${p.name}: ${p.type}`).join(", ");
    const src = `export function run(${sig}): void {\n${def.body}\n}`;
    const wasm = await compileAssemblyScript(src, { optimizeLevel: 3, initialPages: 1, relaxedSimd: relaxed });
    const bytes = 65536 + (def.scratchBytes ?? 0) + c.sizes.reduce((a, n) => a + n * 4 + 64, 0) + 4096;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
    const { instance } = await WebAssembly.instantiate(wasm, { env: { memory } });
    let top = 65536 + Math.ceil((def.scratchBytes ?? 0) / 64) * 64;
    const ptrs = c.sizes.map((n) => { const p = top; top += Math.ceil(n * 4 / 64) * 64; const v = new Float32Array(memory.buffer, p, n); for (let i = 0; i < n; i++) v[i] = Math.random() - 0.5; return p; });
    const args = [...ptrs, 65536, ...c.dims];
    const run = instance.exports.run;
    run(...args);
    // Best wall time, and CPU time per call (process.cpuUsage): on a shared, oversubscribed machine
    // the CPU figure excludes time the process was descheduled.
    let best = Infinity, reps = 0;
    const cpu0 = process.cpuUsage(), deadline = performance.now() + 2000;
    while (performance.now() < deadline) { const t = performance.now(); run(...args); reps++; best = Math.min(best, performance.now() - t); }
    const cpu = process.cpuUsage(cpu0), cpuMs = (cpu.user + cpu.system) / 1000 / reps;
    row.push(`${relaxed ? "relaxed" : "plain"} ${(c.flops / best / 1e6).toFixed(1)} wall / ${(c.flops / cpuMs / 1e6).toFixed(1)} cpu GFLOP/s`);
  }
  console.log(`${c.name.padEnd(40)} ${row.join("   ")}`);
}
