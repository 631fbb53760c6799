// Depthwise convolution kernels (compiler/emit/depthwise.ts) A/B between two builds of the compiler
// in one process: forward, input gradient and filter gradient of MobileNetV2-like shapes, each
// kernel compiled alone (asc -O0, as the bench compiles), CPU ms per call (process.cpuUsage, so
// time descheduled on the shared machine does not count), median of alternating blocks, and
// GFLOP/s of its 2·(multiply-adds). Checks both builds' outputs agree first. Not a test. Usage:
//   npx tsc -p tsconfig.build.json; node bench/depthwise-kernels.mjs <base dist dir | -> [filter]
import os from "node:os";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const builds = [["new", new URL("../dist/", import.meta.url).href]];
if (process.argv[2] && process.argv[2] !== "-") builds.unshift(["base", pathToFileURL(resolve(process.argv[2])).href + "/"]);
const filter = process.argv[3] ?? "";
const libs = await Promise.all(builds.map(async ([name, d]) => ({
  name, asc: (await import(d + "compiler/assemble/asc.js")).compileAssemblyScript, dw: await import(d + "compiler/emit/depthwise.js"),
})));

const geo = (h, c, m, s, n) => {
  const oh = Math.ceil(h / s), pad = Math.floor(Math.max((oh - 1) * s + 3 - h, 0) / 2);
  return { spec: { h, w: h, c, m, kh: 3, kw: 3, sh: s, sw: s, dh: 1, dw: 1, padTop: pad, padLeft: pad, oh, ow: oh }, n };
};
const CASES = [
  ["m=1 56x56x144 s1 b4", geo(56, 144, 1, 1, 4)],
  ["m=1 56x56x144 s1 b1", geo(56, 144, 1, 1, 1)],
  ["m=1 56x56x128 s1 b1", geo(56, 128, 1, 1, 1)],
  ["m=1 112x112x96 s2 b2", geo(112, 96, 1, 2, 2)],
  ["m=1 14x14x576 s1 b8", geo(14, 576, 1, 1, 8)],
  ["m=1 112x112x32 s1 b1", geo(112, 32, 1, 1, 1)],
  ["m=1 56x56x144 s2 b1", geo(56, 144, 1, 2, 1)],
  ["m=1 28x28x192 s2 b1", geo(28, 192, 1, 2, 1)],
  ["m=1 14x14x576 s2 b1", geo(14, 576, 1, 2, 1)],
  ["m=1 28x28x192 s1 b4", geo(28, 192, 1, 1, 4)],
  ["m=1 7x7x960 s1 b8", geo(7, 960, 1, 1, 8)],
  // the batch of the fine-tuning row's frozen forward (b32) reaches past the caches like these
  ["m=1 112x112x32 s1 b16", geo(112, 32, 1, 1, 16)],
  ["m=1 112x112x96 s2 b16", geo(112, 96, 1, 2, 16)],
  ["m=1 56x56x144 s1 b16", geo(56, 144, 1, 1, 16)],
  ["m=1 56x56x144 s2 b16", geo(56, 144, 1, 2, 16)],
  ["m=1 28x28x192 s1 b16", geo(28, 192, 1, 1, 16)],
  ["m=1 56x56x144 s1 b2", geo(56, 144, 1, 1, 2)],
  ["m=1 28x28x192 s1 b8", geo(28, 192, 1, 1, 8)],
  ["m=1 14x14x384 s1 b32", geo(14, 384, 1, 1, 32)],
  ["m=1 14x14x576 s1 b32", geo(14, 576, 1, 1, 32)],
  ["m=1 7x7x960 s1 b32", geo(7, 960, 1, 1, 32)],
  ["m=1 112x112x32 s1 b4", geo(112, 32, 1, 1, 4)],
  ["m=2 28x28x32 s1 b8", geo(28, 32, 2, 1, 8)],
  ["m=3 28x28x32 s1 b8", geo(28, 32, 3, 1, 8)],
];
const KERNELS = [
  ["forward", (dw, s) => dw.emitDepthwiseConv2d(s), (s) => [s.h * s.w * s.c, 9 * s.c * s.m, s.oh * s.ow * s.c * s.m]],
  // as MobileNetV2's layers run: a folded batch normalization's scale and bias, then relu6
  ["forward-fused", (dw, s) => dw.emitDepthwiseConv2d({ ...s, bias: true, scale: true, activation: "relu6" }), (s) => [s.h * s.w * s.c, 9 * s.c * s.m, s.oh * s.ow * s.c * s.m, s.c * s.m, s.c * s.m]],
  ["grad-input", (dw, s) => dw.emitDepthwiseConv2dGradInput(s), (s) => [s.oh * s.ow * s.c * s.m, 9 * s.c * s.m, s.h * s.w * s.c]],
  ["grad-filter", (dw, s) => dw.emitDepthwiseConv2dGradFilter(s), (s) => [s.h * s.w * s.c, s.oh * s.ow * s.c * s.m, 9 * s.c * s.m, 16]],
];

async function instance(lib, def, sizes, n) {
  const sig = def.params.map((p) => `${p.name}: ${p.type}`).join(", ");
  const wasm = await lib.asc(`export function run(${sig}): void {\n${def.body}\n}`, { optimizeLevel: 0, initialPages: 1 });
  const bytes = 65536 + sizes.reduce((a, k) => a + k * n * 4 + 64, 0);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const { instance } = await WebAssembly.instantiate(wasm, { env: { memory } });
  let top = 65536, seed = 3;
  const ptrs = sizes.map((k) => {
    const p = top, v = new Float32Array(memory.buffer, p, k * n);
    top += Math.ceil((k * n * 4) / 64) * 64;
    for (let i = 0; i < v.length; i++) v[i] = ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
    return p;
  });
  return { run: () => instance.exports.run(...ptrs, n), out: () => new Float32Array(memory.buffer, ptrs[2], sizes[2] * (sizes.length === 4 ? 1 : n)).slice() };
}
function cpuBlock(run, ms) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  let k = 0;
  while (performance.now() - t0 < ms) { run(); k++; }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / k;
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (const [cname, { spec, n }] of CASES) {
  for (const [kname, emit, sizesOf] of KERNELS) {
    const name = `${kname} ${cname}`;
    if (!name.includes(filter)) continue;
    const sizes = sizesOf(spec);
    const inst = await Promise.all(libs.map((l) => instance(l, emit(l.dw, spec), sizes, n)));
    inst.forEach((i) => i.run());
    const outs = inst.map((i) => i.out());
    const same = outs.every((o) => o.every((v, k) => Object.is(v, outs[0][k])));
    const times = inst.map(() => []);
    for (let r = 0; r < 7; r++) inst.forEach((i, k) => times[k].push(cpuBlock(i.run, 150)));
    const flops = 2 * 9 * spec.oh * spec.ow * spec.c * spec.m * n;
    const cells = libs.map((l, k) => `${l.name} ${median(times[k]).toFixed(3)} ms ${(flops / median(times[k]) / 1e6).toFixed(2)} GFLOP/s`);
    const ratio = libs.length > 1 ? `  base/new ${(median(times[0]) / median(times[1])).toFixed(2)}x${same ? ", bit-identical" : ", OUTPUTS DIFFER"}` : "";
    console.log(`${name.padEnd(32)} ${cells.join("  |  ")}${ratio}  load ${os.loadavg()[0].toFixed(2)}`);
  }
}
