/**
 * The compiler as a flat list of named passes (PIPELINE), each reading and extending one Build.
 * The IR verifier runs after every pass that changes the IR; `afterPass` sees the IR after each
 * (golden snapshots, `kiln compile --dump-ir-after <pass>`). docs/architecture.md walks the list.
 */
import type { Graph } from "./frontend/graph-types.js";
import { checkGraph, isCheckedGraph } from "./frontend/index.js";
import { KilnError, type Diagnostic } from "./frontend/diagnostics.js";
import type { Module, Tensor } from "./ir/ir.js";
import { printModule } from "./ir/print.js";
import { verify } from "./ir/verify.js";
import { differentiate, lower, lowerUpdate, type Lowered } from "./passes/lower/index.js";
import { dropIdentityCopies, foldZeroPadding, fuseConvPool, fuseElementwise, fuseEpilogues, fusePoolGradRelu, pruneUnusedInputs } from "./passes/fuse.js";
import { foldBatchNorm } from "./passes/fold-batch-norm.js";
import { fuseInvertedResidual } from "./passes/fuse-inverted-residual.js";
import { chunkFilterGradients, mergeAccumulatedSums, splitBatchSums } from "./passes/schedule.js";
import { layoutControl, planMemory, type ControlLayout, type Plan } from "./passes/plan.js";
import { selectKernel, type KernelCall } from "./passes/select.js";
import { memoryOverflow, moduleBytes, modulePages, type MemoryLimit } from "./passes/memory.js";
import { threadSteps } from "./passes/threads.js";
import { assembleModule, type EntryPoint } from "./assemble/module.js";
import { compileAssemblyScript } from "./assemble/asc.js";
import { readSafetensors } from "../runtime/safetensors.js";
import { checkNodeLimit, checkSourceLimit } from "./limits.js";

/** What a build is asked for (CompileOptions, resolved). */
export interface BuildOptions {
  maxBatch: number;
  optimizeLevel: 0 | 1 | 2 | 3;
  relaxedSimd: boolean;
  /** Safetensors bytes of trained weights to embed. */
  weights?: Uint8Array;
  /** Guard bytes after every buffer (debug builds); 0 otherwise. */
  guardBytes: number;
  /** Threaded build for up to this many workers; 0: single-threaded. */
  threads: number;
  afterPass?: (pass: PassName, printIR: () => string) => void;
  /** The memory the module may declare (passes/memory.ts); undefined: unchecked (re-planning at other batches). */
  memoryLimit?: MemoryLimit;
  /** Fold batch normalization into the product before it in predict and evaluate (passes/fold-batch-norm.ts). Default true. */
  foldBatchNorm?: boolean;
  /** Fuse inverted-residual blocks into one kernel (passes/fuse-inverted-residual.ts). Default true. */
  fuseInvertedResidual?: boolean;
  /** The learning rate is read from a state word the runtime may set (CompileOptions.settableLearningRate). */
  settableLearningRate?: boolean;
  /** Also the decode program: one new position per call against key/value caches (CompileOptions.decode). */
  decode?: boolean;
}

/** Everything a build has made so far; each pass fills in its part. */
export interface Build {
  readonly input: unknown;
  readonly options: BuildOptions;
  graph?: Graph;
  lowered?: Lowered;
  plan?: Plan;
  control?: ControlLayout;
  entries?: EntryPoint[];
  scratchBytes?: number;
  source?: string;
  kernels?: number;
  /** Kernel key → its function name in the module. */
  kernelNames?: Map<string, string>;
  pages?: number;
  wasm?: Uint8Array;
}

export type PassName =
  | "check" | "lower" | "autodiff" | "optimizer"
  | "prune-unused-inputs" | "drop-identity-copies" | "fuse-epilogues" | "fuse-inverted-residual" | "fuse-conv-pool" | "fuse-pool-grad-relu" | "fuse-elementwise"
  | "split-batch-sums" | "chunk-filter-gradients"
  | "plan" | "select" | "emit" | "asc";

export interface Pass {
  name: PassName;
  /** One line for docs and `--dump-ir-after`'s list. */
  does: string;
  /** Whether the pass changes the IR (then the verifier runs after it and `afterPass` sees it). */
  changesIR: boolean;
  run(b: Build): void | Promise<void>;
}

/** A field a pass needs from an earlier one. */
function need<T>(value: T | undefined, what: string, pass: PassName): T {
  if (value === undefined) throw new Error(`internal: pass ${pass} needs ${what}, which an earlier pass makes`);
  return value;
}

const ir = (b: Build, pass: PassName) => need(b.lowered, "the IR", pass).mod;

export const PIPELINE: readonly Pass[] = [
  {
    name: "check", does: "parse (limits, JSON), validate (JSON Schema), build (names, references, order), infer shapes → Graph", changesIR: false,
    run(b) {
      b.graph = isCheckedGraph(b.input) ? b.input : checkGraph(b.input);
      if (b.options.weights) checkEmbeddedWeights(b.graph, b.options.weights);
    },
  },
  {
    name: "lower", does: "layers → primitive IR programs: predict, evaluate, train_step's forward and loss; decode when asked", changesIR: true,
    run: (b) => void (b.lowered = lower(need(b.graph, "the graph", "lower"), { decode: b.options.decode === true })),
  },
  { name: "autodiff", does: "train_step's backward nodes (reverse mode, one rule per primitive)", changesIR: true, run: (b) => differentiate(need(b.lowered, "the IR", "autodiff")) },
  { name: "optimizer", does: "train_step's optimizer: step scalars, clipping, one update sweep per weight", changesIR: true, run: (b) => lowerUpdate(need(b.lowered, "the IR", "optimizer"), { settable: b.options.settableLearningRate === true }) },
  { name: "prune-unused-inputs", does: "drop ew/reduce inputs no expression reads", changesIR: true, run: (b) => pruneUnusedInputs(ir(b, "prune-unused-inputs")) },
  {
    name: "drop-identity-copies", does: "readers of an identity copy read its source", changesIR: true,
    // A layer output that goes leaves the NaN finder's list (manifest.training.layerOutputs), as
    // one fusion keeps in registers does: the layer it copies is listed and holds the same values.
    run: (b) => dropIdentityCopies(ir(b, "drop-identity-copies")),
  },
  {
    name: "fuse-epilogues", does: "zero padding folded into the conv after it; batch normalization on moving statistics (predict, evaluate, a frozen one in train_step) folded into the conv/dense before it; bias add, residual add and activation (relu6 too) into the matmul/conv/depthwise kernel", changesIR: true,
    run(b) {
      const mod = ir(b, "fuse-epilogues");
      foldZeroPadding(mod);
      // First, so that the bias and activation the fold leaves fuse like any other (passes/fold-batch-norm.ts).
      if (b.options.foldBatchNorm !== false) foldBatchNorm(mod);
      fuseEpilogues(mod);
    },
  },
  {
    name: "fuse-inverted-residual", does: "expand 1×1 conv → depthwise → project 1×1 conv (epilogues fused, no gradient through them) into one kernel by bands of rows", changesIR: true,
    run: (b) => void (b.options.fuseInvertedResidual !== false && fuseInvertedResidual(ir(b, "fuse-inverted-residual"))),
  },
  { name: "fuse-conv-pool", does: "a 2×2/2 max-pool into the direct conv kernel before it", changesIR: true, run: (b) => fuseConvPool(ir(b, "fuse-conv-pool")) },
  { name: "fuse-pool-grad-relu", does: "the relu derivative into the max-pool gradient", changesIR: true, run: (b) => fusePoolGradRelu(ir(b, "fuse-pool-grad-relu")) },
  { name: "fuse-elementwise", does: "elementwise chains into one loop; elementwise into reductions", changesIR: true, run: (b) => fuseElementwise(ir(b, "fuse-elementwise")) },
  {
    name: "split-batch-sums", does: "sums over a whole batch: per example, then over the examples (sums accumulating into one zeroed gradient: one reduction)", changesIR: true,
    run(b) {
      splitBatchSums(ir(b, "split-batch-sums"));
      mergeAccumulatedSums(ir(b, "split-batch-sums"), b.options.maxBatch);
    },
  },
  {
    name: "chunk-filter-gradients", does: "filter gradients: one partial per chunk of 4 examples, then their sum in chunk order", changesIR: true,
    run: (b) => chunkFilterGradients(ir(b, "chunk-filter-gradients"), b.options.maxBatch),
  },
  { name: "plan", does: "static memory plan (regions, liveness arena) and the control words after it", changesIR: false, run: planPass },
  { name: "select", does: "each node → one kernel and its arguments; threaded builds: shares and barriers", changesIR: false, run: selectPass },
  { name: "emit", does: "kernels (deduplicated) and one entry point per program as AssemblyScript", changesIR: false, run: emitPass },
  { name: "asc", does: "AssemblyScript → wasm in memory", changesIR: false, run: ascPass },
];

export const PASS_NAMES: readonly PassName[] = PIPELINE.map((p) => p.name);

/** Runs the passes in order (up to and including `until`), verifying the IR after each that changes it. */
export async function runPipeline(b: Build, until?: PassName): Promise<Build> {
  for (const pass of PIPELINE) {
    await pass.run(b);
    afterEach(b, pass);
    if (pass.name === until) break;
  }
  return b;
}

/** The same, for the passes before `asc` (all synchronous): the source without compiling it. */
export function runPipelineSync(b: Build, until: Exclude<PassName, "asc">): Build {
  for (const pass of PIPELINE) {
    if (pass.run(b) instanceof Promise) throw new Error(`internal: pass ${pass.name} is asynchronous`);
    afterEach(b, pass);
    if (pass.name === until) break;
  }
  return b;
}

function afterEach(b: Build, pass: Pass): void {
  if (pass.name === "emit") checkSourceLimit(b.lowered!.mod, b.source!.length);
  if (!pass.changesIR) return;
  const mod = b.lowered!.mod;
  checkNodeLimit(mod, pass.name);
  verify(mod, pass.name);
  b.options.afterPass?.(pass.name, () => printModule(mod));
}

// ------------------------------------------------------------------ check

/** Trained weights to embed must be exactly the graph's: every weight, its shape, F32. */
function checkEmbeddedWeights(graph: Graph, bytes: Uint8Array): void {
  // As loadWeights bounds it: a file saved in training holds at most two slots per weight and the step.
  const count = 3 * graph.layers.reduce((n, l) => n + l.weights.length, 0) + 1;
  const { tensors } = readSafetensors(bytes, { maxTensors: { count, what: "the graph's weights and optimizer state" } });
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

// ------------------------------------------------------------------ plan, select, emit, asc

function planPass(b: Build): void {
  const lw = need(b.lowered, "the IR", "plan"), graph = lw.graph, { maxBatch, threads, guardBytes } = b.options;
  // Trainable weights (and their gradients and slots) first, so an optimizer can sweep them.
  const trainable = new Map(graph.layers.flatMap((l) => l.weights.map((w) => [w.fullName, w.trainable] as const)));
  const trainableRank = (t: Tensor) => (trainable.get(t.kind === "slot" ? (t.name ?? "").replace(/^[a-z]+\//, "") : t.name ?? "") ? 0 : 1);
  // Threaded builds give every activation its own bytes: with no arena reuse, threads never meet
  // in memory between batch-split calls and most barriers go (threads.ts: barriersAfter). Costs
  // memory (seed CNN at maxBatch 64: 42 MB instead of 35).
  // No activation is kept past its last reader for the NaN finder: it checks each layer output right
  // after the call that writes it (manifest.training.layerOutputs[].call), while it is still live.
  b.plan = planMemory(lw.mod, maxBatch, trainableRank, guardBytes, !threads);
  b.control = layoutControl(b.plan, threads);
  checkMemory(b);
}

/**
 * The module's memory against its limit: after the plan (without kernel scratch; past 2^32 an
 * offset would not fit a kernel's 32-bit pointer, so this comes before selection), then with it.
 * Over the limit: the KilnError of passes/memory.ts, which re-plans at smaller batches.
 */
function checkMemory(b: Build, scratchBytes?: number): void {
  const limit = b.options.memoryLimit, plan = b.plan!, lw = b.lowered!, { threads, maxBatch } = b.options;
  if (!limit || moduleBytes(plan.end, scratchBytes ?? 0, threads) <= limit.bytes) return;
  throw memoryOverflow({
    graph: lw.graph, mod: lw.mod, plan, maxBatch, threads, limit,
    scratchBytes: scratchBytes ?? kernelScratchBytes(lw.mod, b.options.relaxedSimd),
    planAt: (batch) => runPipelineSync({ input: lw.graph, options: { ...b.options, maxBatch: batch, memoryLimit: undefined, afterPass: undefined } }, "plan").plan!,
  });
}

/** The kernel scratch every call may use, 64-byte aligned: the most any one kernel needs. */
const scratchOf = (calls: KernelCall[]) => Math.ceil(Math.max(0, ...calls.map((c) => c.def.scratchBytes ?? 0)) / 64) * 64;

/** Kernel scratch bytes without a usable plan: kernel choice and scratch do not depend on offsets. */
export function kernelScratchBytes(mod: Module, relaxed: boolean): number {
  return scratchOf(mod.programs.flatMap((p) => p.nodes.map((n) => selectKernel(n, { mod, addr: () => 0, relaxed, scratch: 0, training: p.name === "train_step" }))));
}

function selectPass(b: Build): void {
  const lw = need(b.lowered, "the IR", "select"), plan = need(b.plan, "the memory plan", "select"), control = b.control!;
  const { mod } = lw, { threads, maxBatch } = b.options;
  const addr = (t: Tensor) => plan.offsets.get(mod.storage(t).id)!;
  const ctx = { mod, addr, relaxed: b.options.relaxedSimd };
  const entries: EntryPoint[] = mod.programs.map((p) => ({
    name: p.name, calls: p.nodes.map((n) => selectKernel(n, { ...ctx, scratch: control.scratch, training: p.name === "train_step" })),
  }));
  b.scratchBytes = scratchOf(entries.flatMap((e) => e.calls));
  checkMemory(b, b.scratchBytes);
  if (threads) entries.forEach((e, i) => (e.threaded = threadSteps(mod, mod.programs[i]!, threads, { ...ctx, training: e.name === "train_step" }, maxBatch)));
  b.entries = entries;
}

function emitPass(b: Build): void {
  const entries = need(b.entries, "the kernel calls", "emit"), control = b.control!, threads = b.options.threads;
  const scratchBytes = b.scratchBytes!;
  const { source, kernels, names } = assembleModule(entries, threads ? { sync: control.sync, splits: control.splits, scratch: control.scratch, scratchBytes, count: threads, progress: control.threadProgress } : undefined, control.progress);
  Object.assign(b, { source, kernels, kernelNames: names, pages: modulePages(b.plan!.end, scratchBytes, threads) });
}

async function ascPass(b: Build): Promise<void> {
  const source = need(b.source, "the AssemblyScript source", "asc"), pages = b.pages!;
  b.wasm = await compileAssemblyScript(source, {
    optimizeLevel: b.options.optimizeLevel, initialPages: pages, relaxedSimd: b.options.relaxedSimd,
    ...(b.options.threads ? { threads: true, maximumPages: pages } : {}),
  });
}
