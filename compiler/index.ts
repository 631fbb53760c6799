/**
 * kiln's compiler: graph JSON → one self-describing WebAssembly module.
 *
 * The pipeline, as one flat list of stages (each in its own file):
 *   checkGraph (parse, validate, build, infer shapes) → lower (layers → IR programs, autodiff,
 *   optimizer) → verify → fuse → verify → planMemory → selectKernel → assembleModule →
 *   compileAssemblyScript (asc) → finishModule (binaryen validate + kiln.manifest section)
 */
import type { Graph } from "./graph-types.js";
import { checkGraph, isCheckedGraph } from "./frontend.js";
import { lower } from "./lower/index.js";
import { verify } from "./verify.js";
import { chunkFilterGradients, fuse } from "./fuse.js";
import { bytesOf, planMemory } from "./plan.js";
import { selectKernel, type KernelCall } from "./emit/kernels.js";
import { assembleModule, type EntryPoint, type ThreadStep } from "./emit/module.js";
import { accessesOf, barriersAfter, segmentsOf, splitAlignment, splitOf, type Access } from "./threads.js";
import type { Module, Program, Tensor } from "./ir.js";
import { compileAssemblyScript, finishModule } from "./asc.js";
import { buildManifest, type Manifest } from "./manifest.js";
import { printModule } from "./print.js";
import { KilnError, type Diagnostic } from "./diagnostics.js";
import { readSafetensors } from "../runtime/safetensors.js";

export { KilnError } from "./diagnostics.js";
export { checkGraph } from "./frontend.js";
export type { Graph } from "./graph-types.js";
export type { Manifest } from "./manifest.js";

export interface CompileOptions {
  /** The largest batch the module runs at once (the runtime splits larger predict calls). Default 64. */
  maxBatch?: number;
  /**
   * asc optimization level. Default 0: measured on the seed CNN, kernels run as fast as at -O3
   * (V8's optimizing tier does the work; kiln's kernels are already specialized and inlined) and
   * the module compiles in about half the time (2.7-3.9 s against 6.2-7.7 s cold, loaded machine).
   */
  optimizeLevel?: 0 | 1 | 2 | 3;
  /**
   * Also build a relaxed-SIMD variant (f32x4.relaxed_madd) and carry it in the module's
   * `kiln.relaxed` section; loadModel runs it where the host validates relaxed SIMD (Chrome 114+,
   * Node 22+) and the plain-SIMD build elsewhere. Default false.
   */
  relaxedSimd?: boolean;
  /** Safetensors bytes of trained weights to embed (custom section `kiln.weights`). */
  weights?: Uint8Array;
  /**
   * Debug build: a 64-byte guard after every buffer, listed in `manifest.debug.guards`; the
   * runtime steps through each program call by call and checks every guard after every kernel.
   */
  debug?: boolean;
  /**
   * Threaded build for up to this many workers (shared memory, atomics): `loadModel(src,
   * { threads: n })` with n ≤ it. Results are bit-identical for every n. Default: none.
   */
  threads?: number;
}

export interface CompileResult {
  wasm: Uint8Array<ArrayBuffer>;
  manifest: Manifest;
  /** The IR after fusion (`--emit ir`). */
  ir: string;
  /** The generated AssemblyScript (`--emit as`). */
  source: string;
  stats: { kernels: number; calls: number; compileMs: number };
}

const PAGE = 65536;
const GUARD_BYTES = 64;

/**
 * Compiles a graph (JSON text, parsed JSON, or a Graph that checkGraph returned) to a WebAssembly
 * module. Anything else is checked in full (limits, schema, shapes) first, however Graph-like.
 */
export async function compile(input: string | unknown, options: CompileOptions = {}): Promise<CompileResult> {
  if (!options.relaxedSimd) return build(input, options, false);
  // The plain build is the module; the relaxed build rides along for hosts that validate it.
  const relaxed = await build(input, options, true);
  const plain = await build(input, { ...options, relaxedSimd: false }, false, { "kiln.relaxed": relaxed.wasm });
  return { ...plain, stats: { ...plain.stats, compileMs: plain.stats.compileMs + relaxed.stats.compileMs } };
}

async function build(input: string | unknown, options: CompileOptions, relaxedSimd: boolean, extraSections: Record<string, Uint8Array> = {}): Promise<CompileResult> {
  options = { ...options, relaxedSimd };
  const started = performance.now();
  const maxBatch = options.maxBatch ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 65536) throw new Error(`maxBatch must be an integer in 1..65536, got ${maxBatch}`);
  const graph: Graph = isCheckedGraph(input) ? input : checkGraph(input);
  if (options.weights) checkEmbeddedWeights(graph, options.weights);
  const lw = lower(graph);
  verify(lw.mod, "lower");
  // Layer outputs the runtime reads (the NaN finder) keep their buffers through fusion.
  fuse(lw.mod, new Set(lw.trainLayerOutputs.map((o) => o.tensor.id)));
  chunkFilterGradients(lw.mod, maxBatch);
  verify(lw.mod, "fuse");
  // Trainable weights (and their gradients and slots) first, so an optimizer can sweep them.
  const trainable = new Map(graph.layers.flatMap((l) => l.weights.map((w) => [w.fullName, w.trainable] as const)));
  const trainableRank = (t: Tensor) => (trainable.get(t.kind === "slot" ? (t.name ?? "").replace(/^[a-z]+\//, "") : t.name ?? "") ? 0 : 1);
  const keepAlive = new Map([["train_step", new Set(lw.trainLayerOutputs.map((o) => lw.mod.storage(o.tensor).id))]]);
  const threads = options.threads ?? 0;
  if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new Error(`threads must be an integer in 0..64, got ${threads}`);
  // Threaded builds give every activation its own bytes: with no arena reuse, threads never meet
  // in memory between batch-split calls and most barriers go (threads.ts: barriersAfter). Costs
  // memory (seed CNN at maxBatch 64: 42 MB instead of 35).
  const plan = planMemory(lw.mod, maxBatch, trainableRank, options.debug ? GUARD_BYTES : 0, keepAlive, !threads);
  const addr = (t: Tensor) => plan.offsets.get(lw.mod.storage(t).id)!;
  const ctx = { mod: lw.mod, addr, relaxed: !!options.relaxedSimd };
  // After the plan: 64 control bytes (barrier words, thread control, the progress cell), then
  // one kernel scratch region per thread.
  const sync = Math.ceil(plan.end / 64) * 64;
  const progress = sync + 48;
  // Threaded builds: then where each thread's share of the batch starts (threads + 1 i32s, set
  // by the runtime before every call, so it can give a slower core fewer examples).
  const splits = sync + 64;
  const scratch = splits + (threads ? Math.ceil((4 * (threads + 1)) / 64) * 64 : 0);
  const entries: EntryPoint[] = lw.mod.programs.map((p) => ({ name: p.name, calls: p.nodes.map((n) => selectKernel(n, { ...ctx, scratch, training: p.name === "train_step" })) }));
  const scratchBytes = Math.ceil(Math.max(0, ...entries.flatMap((e) => e.calls.map((c: KernelCall) => c.def.scratchBytes ?? 0))) / 64) * 64;
  if (threads) entries.forEach((e, i) => (e.threaded = threadSteps(lw.mod, lw.mod.programs[i]!, threads, { ...ctx, training: e.name === "train_step" }, maxBatch)));
  const { source, kernels, names } = assembleModule(entries, threads ? { sync, splits, scratch, scratchBytes } : undefined, progress);
  const pages = Math.ceil((scratch + scratchBytes * Math.max(1, threads)) / PAGE) + 1;
  const level = options.optimizeLevel ?? 0;
  const wasm = await compileAssemblyScript(source, {
    optimizeLevel: level, initialPages: pages, relaxedSimd: options.relaxedSimd,
    ...(threads ? { threads: true, maximumPages: pages } : {}),
  });
  const manifest = buildManifest(lw, plan, { maxBatch, pages, relaxed: !!options.relaxedSimd, weightsEmbedded: !!options.weights });
  if (threads) Object.assign(manifest, { threads: true, maxThreads: threads, threadControl: sync + 16, threadSplits: splits, threadSegments: Object.fromEntries(entries.map((e, i) => [e.name, { ...segmentsOf(e.threaded!), align: splitAlignment(lw.mod.programs[i]!) }])) });
  if (options.debug) (manifest as any).debug = { guards: plan.guards };
  manifest.kernels = {
    progressOffset: progress,
    calls: Object.fromEntries(lw.mod.programs.map((p, i) => [p.name, p.nodes.map((n, j) => [names.get(entries[i]!.calls[j]!.def.key)!, n.layer] as [string, string])])),
  };
  if (manifest.training) {
    // Outputs that fusion kept in registers (a dense output feeding an activation layer) have no buffer.
    manifest.training.layerOutputs = lw.trainLayerOutputs.filter((o) => addr(o.tensor) !== undefined)
      .map((o) => ({ layer: o.layer, offset: addr(o.tensor), shape: o.tensor.shape }));
  }
  const sections: Record<string, Uint8Array> = { "kiln.manifest": new TextEncoder().encode(JSON.stringify(manifest)), ...extraSections };
  if (options.weights) sections["kiln.weights"] = options.weights;
  // A threaded module carries the single-threaded build for hosts without shared memory.
  if (threads) sections["kiln.fallback"] = (await build(graph, { ...options, threads: 0 }, relaxedSimd)).wasm;
  const bytes = finishModule(wasm, sections);
  return {
    wasm: bytes, manifest, ir: printModule(lw.mod), source,
    stats: { kernels, calls: entries.reduce((s, e) => s + e.calls.length, 0), compileMs: performance.now() - started },
  };
}

/** Trained weights to embed must be exactly the graph's: every weight, its shape, F32. */
function checkEmbeddedWeights(graph: Graph, bytes: Uint8Array): void {
  const { tensors } = readSafetensors(bytes);
  const problems: Diagnostic[] = [];
  for (const w of graph.layers.flatMap((l) => l.weights)) {
    const t = tensors.get(w.fullName);
    if (!t) problems.push({ code: "weights", path: w.fullName, message: `the weights file has no tensor "${w.fullName}" (expected F32 [${w.shape.join(", ")}])` });
    else if (t.dtype !== "F32" || t.shape.join() !== w.shape.join()) {
      problems.push({ code: "weights", path: w.fullName, message: `expected F32 [${w.shape.join(", ")}], got ${t.dtype} [${t.shape.join(", ")}]` });
    }
  }
  if (problems.length) throw new KilnError(problems);
}

/** The steps of a program's threaded entry point: each call with its share of the work, and where barriers go. */
function threadSteps(mod: Module, prog: Program, parts: number, ctx: { mod: Module; addr: (t: Tensor) => number; relaxed: boolean; training: boolean }, maxBatch: number): ThreadStep[] {
  const splits = prog.nodes.map((n) => splitOf(mod, n, parts));
  const access = (id: number, write: boolean): Access => {
    const s = mod.storage(mod.t(id)), start = ctx.addr(s);
    return { storage: s.id, start, end: start + Math.max(bytesOf(s, maxBatch), 4), write };
  };
  const barrier = barriersAfter(splits.map((s) => s.kind), prog.nodes.map((n) => accessesOf(n, access)));
  return prog.nodes.map((n, i) => {
    const split = splits[i]!, after = barrier[i]!;
    if (split.kind === "batch") return { kind: "batch", barrier: after, calls: [selectKernel(n, { ...ctx, scratch: "scr_", batch: "nb_", batchOffset: "lo_" })] };
    if (split.kind === "serial") return { kind: "serial", barrier: after, calls: [selectKernel(n, { ...ctx, scratch: "scr_" })] };
    return { kind: "parts", barrier: after, calls: split.parts.map((p) => selectKernel(p, { ...ctx, scratch: "scr_" })) };
  });
}
