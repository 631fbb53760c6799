/**
 * Emitters for filter gradients split over fixed chunks of examples (fuse.ts:
 * chunkFilterGradients): a wrapper that runs a filter-gradient kernel once per chunk, writing one
 * partial gradient each, and the sum of the partials in chunk order. The chunks are the same
 * whoever runs them (threads start on chunk boundaries), so the sums' order depends on the batch
 * size only.
 */
import { intlit, kernelParams, locals } from "./code.js";
import type { KernelDef } from "./kernel.js";

/** Locals end with "_" (the GEMM family's convention). */
export const CHUNKS_LOCALS = locals("emitChunkSum", "suffixed");

/**
 * Runs `inner` (params x, dy, dw, scratch, n: a filter-gradient kernel writing dw) on each chunk
 * of `chunk` examples of [x, x + n examples): chunk j of the call writes the partial at
 * dw + j·partialBytes. `xBytes`/`dyBytes`: bytes per example of x and dy. The caller's x and dy
 * start on a chunk boundary, and its dw at that chunk's partial.
 */
export function emitChunkedGradFilter(inner: KernelDef, chunk: number, xBytes: number, dyBytes: number, partialBytes: number): KernelDef {
  const want = ["x", "dy", "dw", "scratch", "n"];
  if (inner.params.map((p) => p.name).join() !== want.join()) throw new Error(`internal: emitChunkedGradFilter: ${inner.label} does not take (${want.join(", ")})`);
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error("internal: emitChunkedGradFilter: chunk must be a positive integer");
  return {
    key: `chunked:${JSON.stringify([chunk, xBytes, dyBytes, partialBytes])}:${inner.key}`,
    label: `${inner.label} per ${chunk} examples`,
    params: inner.params,
    body: [
      `for (let e_: i32 = 0; e_ < n; e_ += ${intlit(chunk)}) {`,
      `  $kernel0(x + <usize>e_ * ${intlit(xBytes)}, dy + <usize>e_ * ${intlit(dyBytes)}, dw + <usize>(e_ / ${intlit(chunk)}) * ${intlit(partialBytes)}, scratch, min<i32>(${intlit(chunk)}, n - e_));`,
      `}`,
    ].join("\n"),
    calls: [inner],
    scratchBytes: inner.scratchBytes,
  };
}

export interface ChunkSumSpec {
  /** Floats per partial (the gradient's size) and how many of them this call sums, from `offset`. */
  n: number;
  cols: number;
  chunk: number;
  accumulate?: boolean;
}

/**
 * out[i] (=|+=) Σ_{j < ⌈batch / chunk⌉} p[j·n + i] for i < cols: the partials added in chunk order
 * (a batch of 0 gives 0). Params p, out (at the same column), batch. 16 columns per pass, then 4,
 * then single floats.
 */
export function emitChunkSum(spec: ChunkSumSpec): KernelDef {
  const { n, cols, chunk } = spec;
  if (![n, cols, chunk].every((v) => Number.isInteger(v) && v > 0) || cols > n) throw new Error("internal: emitChunkSum: bad sizes");
  const stride = intlit(n * 4);
  const pass = (width: number, vectors: number) => {
    const lanes = Array.from({ length: vectors }, (_, v) => v);
    const vec = width > 1;
    const zero = vec ? "f32x4.splat(0)" : "<f32>0";
    const load = (at: string, off: number) => (vec ? `v128.load(${at}, ${off * 16})` : `load<f32>(${at})`);
    const add = (a: string, b: string) => (vec ? `f32x4.add(${a}, ${b})` : `${a} + ${b}`);
    const store = (at: string, off: number, v: string) => (vec ? `v128.store(${at}, ${v}, ${off * 16});` : `store<f32>(${at}, ${v});`);
    return [
      `for (; i_ + ${intlit(width * vectors)} <= ${intlit(cols)}; i_ += ${intlit(width * vectors)}) {`,
      ...lanes.map((v) => `  let s${v}_ = ${zero};`),
      `  let src_ = p + (<usize>i_ << 2);`,
      `  for (let j_: i32 = 0; j_ < chunks_; j_++) {`,
      ...lanes.map((v) => `    s${v}_ = ${add(`s${v}_`, load("src_", v))};`),
      `    src_ += ${stride};`,
      `  }`,
      `  const dst_ = out + (<usize>i_ << 2);`,
      ...lanes.map((v) => `  ${store("dst_", v, spec.accumulate ? add(load("dst_", v), `s${v}_`) : `s${v}_`)}`),
      `}`,
    ];
  };
  return {
    key: `chunk_sum:${JSON.stringify(spec)}`,
    label: `sum of per-${chunk}-example partials (${cols} of ${n})`,
    params: kernelParams(CHUNKS_LOCALS, ["p", "out"], "batch"),
    body: [
      `const chunks_ = (batch + ${intlit(chunk - 1)}) / ${intlit(chunk)};`,
      `let i_: i32 = 0;`,
      ...pass(4, 4), ...pass(4, 1), ...pass(1, 1),
    ].join("\n"),
  };
}
