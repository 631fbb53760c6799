/**
 * kiln's compiler: graph JSON → one self-describing WebAssembly module. `compile` runs the flat
 * list of named passes in pipeline.ts, then writes the manifest and the custom sections
 * (kiln.manifest, and kiln.relaxed / kiln.weights / kiln.fallback when asked for).
 */
import { PIPELINE, kernelScratchBytes, runPipeline, runPipelineSync, type Build, type PassName } from "./pipeline.js";
import { PAGE, largestBatch, memoryLimit, regionsOf, type Regions as MemoryRegions } from "./passes/memory.js";
import { segmentsOf, splitAlignment } from "./passes/threads.js";
import { finishModule } from "./assemble/asc.js";
import { buildManifest, type Manifest } from "./assemble/manifest.js";
import { printModule } from "./ir/print.js";
import type { Module, Program } from "./ir/ir.js";

export { KilnError } from "./frontend/diagnostics.js";
export { checkGraph } from "./frontend/index.js";
export type { Graph } from "./frontend/graph-types.js";
export type { Manifest } from "./assemble/manifest.js";
export type { Regions as MemoryRegions } from "./passes/memory.js";

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
  /**
   * Called after every pass with its name and a printer of the IR at that point (tests' golden
   * snapshots, `kiln compile --dump-ir-after`). Not called for the fallback and relaxed builds.
   */
  afterPass?: (pass: PassName, printIR: () => string) => void;
  /**
   * The most memory the module may declare, in bytes (at least 128 KiB). Default and upper bound:
   * wasm32's 4 GiB. A module over it fails with a KilnError naming the layer that tips it over,
   * what each region takes and the largest batch that fits (`kiln compile --max-memory`).
   */
  maxMemory?: number;
  /**
   * Fold each batch_normalization that follows a conv2d or dense into that layer's kernel
   * epilogue (a per-channel scale and bias) in predict and evaluate (spec §2.1 "Batch
   * normalization folding"). Default true; false keeps the separate normalization pass (to compare).
   */
  foldBatchNorm?: boolean;
  /**
   * Fuse each inverted-residual block (expand 1×1 conv → depthwise → project 1×1 conv, as
   * MobileNetV2's) where no gradient passes through it into one kernel that computes it by bands
   * of output rows (the expanded tensor stays in cache). Default true; false keeps the three
   * kernels (to compare).
   */
  fuseInvertedResidual?: boolean;
  /**
   * Training modules only: the learning rate can be changed between steps (`model.learningRate`,
   * the runtime's reduce-LR-on-plateau callback), as Keras's optimizer variable can. The graph's
   * number stays the rate until one is set. Not with a schedule (the schedule owns the rate).
   * Default false: the rate is a constant of the update kernels.
   */
  settableLearningRate?: boolean;
  /**
   * Also compile the `decode` program (spec §7 "Generation"): the graph for one new position per
   * example against key/value caches kept in the module's memory, so generating a token costs one
   * position instead of the whole sequence (`model.decode`, `model.generate`). The graph must be a
   * causal language model: one int32 input [T] (T is the cache length) and layers that work
   * position by position plus position_embedding and causal self-attention. Default false.
   */
  decode?: boolean;
}

export interface CompileResult {
  wasm: Uint8Array<ArrayBuffer>;
  manifest: Manifest;
  /** The IR after the last pass that changes it (`--emit ir`). */
  ir: string;
  /** The generated AssemblyScript (`--emit as`). */
  source: string;
  stats: { kernels: number; calls: number; compileMs: number };
}

export { PIPELINE, type PassName } from "./pipeline.js";

const GUARD_BYTES = 64;

/** Compiles a graph (JSON text, a parsed JSON value, or a Graph from checkGraph) to a WebAssembly module. */
export async function compile(input: string | unknown, options: CompileOptions = {}): Promise<CompileResult> {
  if (!options.relaxedSimd) return build(input, options, false);
  // The plain build is the module; the relaxed build rides along for hosts that validate it.
  const relaxed = await build(input, { ...options, afterPass: undefined }, true);
  const plain = await build(input, { ...options, relaxedSimd: false }, false, { "kiln.relaxed": relaxed.wasm });
  return { ...plain, stats: { ...plain.stats, compileMs: plain.stats.compileMs + relaxed.stats.compileMs } };
}

/**
 * Per storage id, the index of the last train_step call that writes it (calls are the program's
 * nodes, one each). The arena reuses a buffer only after its last reader, so a layer output is
 * intact right after that call: the NaN finder checks it there, and nothing is kept alive for it.
 */
function lastWriters(mod: Module, prog: Program): Map<number, number> {
  const at = new Map<number, number>();
  prog.nodes.forEach((n, i) => { for (const o of n.outputs) at.set(mod.storage(mod.t(o)).id, i); });
  return at;
}

/**
 * For the NaN finder: per listed layer output, the layers of `listed` (train_step's f32 layer
 * outputs, forward order) whose output has no buffer because a fusion computes it inside a later
 * kernel (zero padding folded into the conv after it, a conv or dense whose bias, activation,
 * batch normalization or residual add a later layer's kernel applies, an inverted-residual block's
 * inner layers, an elementwise chain), and whose values therefore only reach memory through `kept`
 * ones. Each goes to every kept layer it reaches through other such layers along the graph: the
 * first non-finite kept output may have started in any of them.
 */
function foldedLayers(layers: readonly { name: string; inputs: string[] }[], listed: string[], kept: Set<string>): Map<string, string[]> {
  const dropped = new Set(listed.filter((l) => !kept.has(l)));
  const readers = new Map<string, string[]>();
  for (const l of layers) {
    for (const i of new Set(l.inputs)) {
      const r = readers.get(i);
      if (r) r.push(l.name);
      else readers.set(i, [l.name]);
    }
  }
  // The kept layers each dropped one reaches, from the last layer back (a layer's readers come
  // after it in the graph), so every edge is looked at once: linear in the graph plus the answer.
  const reaches = new Map<string, Set<string>>();
  for (let i = layers.length - 1; i >= 0; i--) {
    const name = layers[i]!.name;
    if (!dropped.has(name)) continue;
    const to = new Set<string>();
    for (const r of readers.get(name) ?? []) {
      if (kept.has(r)) to.add(r);
      else for (const k of reaches.get(r) ?? []) to.add(k);
    }
    reaches.set(name, to);
  }
  const out = new Map<string, string[]>();
  for (const layer of listed) {
    for (const k of reaches.get(layer) ?? []) {
      const f = out.get(k);
      if (f) f.push(layer);
      else out.set(k, [layer]);
    }
  }
  return out;
}

async function build(input: string | unknown, options: CompileOptions, relaxedSimd: boolean, extraSections: Record<string, Uint8Array> = {}): Promise<CompileResult> {
  const started = performance.now();
  const { maxBatch, threads } = checkedSizes(options);
  const b: Build = await runPipeline({
    input,
    options: {
      maxBatch, threads, relaxedSimd, optimizeLevel: options.optimizeLevel ?? 0, weights: options.weights,
      guardBytes: options.debug ? GUARD_BYTES : 0, afterPass: options.afterPass, memoryLimit: memoryLimit(options.maxMemory),
      foldBatchNorm: options.foldBatchNorm,
      fuseInvertedResidual: options.fuseInvertedResidual,
      settableLearningRate: options.settableLearningRate === true,
      decode: options.decode === true,
    },
  });
  const lw = b.lowered!, plan = b.plan!, control = b.control!, entries = b.entries!, names = b.kernelNames!;
  const addr = (t: Parameters<typeof lw.mod.storage>[0]) => plan.offsets.get(lw.mod.storage(t).id)!;
  const manifest = buildManifest(lw, plan, { maxBatch, pages: b.pages!, relaxed: relaxedSimd, weightsEmbedded: !!options.weights });
  if (threads) {
    Object.assign(manifest, {
      threads: true, maxThreads: threads, threadControl: control.threadControl, threadSplits: control.splits,
      threadSegments: Object.fromEntries(entries.map((e, i) => [e.name, { ...segmentsOf(e.threaded!), align: splitAlignment(lw.mod.programs[i]!) }])),
    });
  }
  if (options.debug) manifest.debug = { guards: plan.guards };
  manifest.kernels = {
    progressOffset: control.progress,
    ...(threads ? { threadProgress: control.threadProgress } : {}),
    calls: Object.fromEntries(lw.mod.programs.map((p, i) => [p.name, p.nodes.map((n, j) => [names.get(entries[i]!.calls[j]!.def.key)!, n.layer] as [string, string])])),
  };
  if (manifest.training) {
    // Outputs that fusion kept in registers (a dense output feeding an activation layer) have no buffer.
    const written = lastWriters(lw.mod, lw.mod.programs.find((p) => p.name === "train_step")!);
    const kept = lw.trainLayerOutputs.filter((o) => addr(o.tensor) !== undefined);
    const folded = foldedLayers(lw.graph.layers, lw.trainLayerOutputs.map((o) => o.layer), new Set(kept.map((o) => o.layer)));
    manifest.training.layerOutputs = kept
      // A view of an input (a reshape as the first layer) is written by no call: intact from the start.
      .map((o) => ({ layer: o.layer, offset: addr(o.tensor), shape: o.tensor.shape, call: written.get(lw.mod.storage(o.tensor).id) ?? 0, ...(folded.has(o.layer) && { folded: folded.get(o.layer)! }) }));
  }
  const sections: Record<string, Uint8Array> = { "kiln.manifest": new TextEncoder().encode(JSON.stringify(manifest)), ...extraSections };
  if (options.weights) sections["kiln.weights"] = options.weights;
  // A threaded module carries the single-threaded build for hosts without shared memory.
  if (threads) sections["kiln.fallback"] = (await build(lw.graph, { ...options, threads: 0, afterPass: undefined }, relaxedSimd)).wasm;
  const bytes = finishModule(b.wasm!, sections);
  return {
    wasm: bytes, manifest, ir: printModule(lw.mod), source: b.source!,
    stats: { kernels: b.kernels!, calls: entries.reduce((s, e) => s + e.calls.length, 0), compileMs: performance.now() - started },
  };
}

function checkedSizes(options: CompileOptions): { maxBatch: number; threads: number } {
  const maxBatch = options.maxBatch ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 65536) throw new Error(`maxBatch must be an integer in 1..65536, got ${maxBatch}`);
  const threads = options.threads ?? 0;
  if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new Error(`threads must be an integer in 0..64, got ${threads}`);
  return { maxBatch, threads };
}

export interface PlannedMemory {
  maxBatch: number;
  /** The bytes the module would declare (its pages × 64 KiB), and per region. */
  bytes: number;
  pages: number;
  regions: MemoryRegions;
  /** The limit (4 GiB, or `maxMemory` when lower) and whether the module fits it. */
  limit: number;
  fits: boolean;
  /** When it does not fit: the largest batch that does (0: none). */
  largestBatch?: number;
}

/**
 * The memory a module of this graph would declare at `maxBatch` (default 64), by region, from the
 * passes up to the memory plan: no kernels are generated, nothing is compiled or allocated
 * (`kiln check`).
 */
export function plannedMemory(input: string | unknown, options: Pick<CompileOptions, "maxBatch" | "threads" | "debug" | "maxMemory"> = {}): PlannedMemory {
  const { maxBatch, threads } = checkedSizes(options);
  const limit = memoryLimit(options.maxMemory);
  let source = input; // after the first plan, the checked Graph: checked once
  const planAt = (batch: number) => runPipelineSync({
    input: source, options: { maxBatch: batch, threads, relaxedSimd: false, optimizeLevel: 0, guardBytes: options.debug ? GUARD_BYTES : 0 },
  }, "plan");
  const b = planAt(maxBatch);
  source = b.graph;
  const lw = b.lowered!, plan = b.plan!;
  const scratchBytes = kernelScratchBytes(lw.mod, false);
  const { total, regions } = regionsOf(lw.mod, plan, scratchBytes, threads);
  const used: PlannedMemory = { maxBatch, bytes: total, pages: total / PAGE, regions, limit: limit.bytes, fits: total <= limit.bytes };
  if (!used.fits) used.largestBatch = largestBatch({ graph: lw.graph, mod: lw.mod, plan, maxBatch, threads, scratchBytes, limit, planAt: (batch) => planAt(batch).plan! });
  return used;
}

export { importModel, KERAS_LAYERS, cutAt, freezeUntil, readWeights, type CutResult, type ImportFiles, type ImportOptions, type ImportResult } from "./import/index.js";
export { exportTfjs, TFJS_EXPORT, type TfjsExport } from "./export/tfjs.js";
export { exportKeras, KERAS_EXPORT } from "./export/keras.js";
export { loadPretrainedWeights, type PretrainedWeights } from "./pretrained-weights.js";
