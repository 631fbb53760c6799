/**
 * The memory check. A module's memory is what the plan lays out at the max batch (plan.ts:
 * weights, gradients, optimizer slots, state, inputs/targets/outputs, the arena) plus what
 * compile adds after it (64 control bytes, the threads' split table, one kernel scratch region per
 * thread) and one spare page; the module declares that many 64 KiB pages. It must fit wasm32's
 * 65536 pages (4 GiB) and the caller's cap (CompileOptions.maxMemory, `--max-memory`).
 *
 * When it does not, the KilnError says:
 *   - how many bytes each region needs at the max batch;
 *   - which layer tips it over: the owner of the first buffer, in plan order (the order plan.ts
 *     places them: persistent regions, then each program's arena), that ends past the limit. That
 *     is the same rule as the front end's batch-1 check (shapes.ts), and it names the layer where
 *     the memory runs out rather than a guess at the one to shrink (the region breakdown says
 *     which kind of buffer dominates);
 *   - the largest batch that fits. Every region is affine in the batch (batched buffers grow by
 *     their per-example bytes; filter-gradient partials by one chunk per 4 examples), so the
 *     batch is solved from the sizes at batch 1 and at the max batch, then confirmed by planning
 *     at it and at one more (alignment and the arena's first-fit placement make the line only
 *     nearly straight; a bisection settles it).
 */
import { KilnError, type Diagnostic } from "../frontend/diagnostics.js";
import type { Graph } from "../frontend/graph-types.js";
import type { Module, Tensor } from "../ir/ir.js";
import { layoutControl, type Plan } from "./plan.js";

export const PAGE = 65536;
/** wasm32 addresses 2^32 bytes: 65536 pages. */
export const WASM32_PAGES = 65536;
export const WASM32_BYTES = WASM32_PAGES * PAGE;

/** The pages the module declares: the plan, the control bytes after it (plan.ts: layoutControl), each thread's kernel scratch, plus one. */
export function modulePages(planEnd: number, scratchBytes: number, threads: number): number {
  return Math.ceil((layoutControl({ end: planEnd }, threads).scratch + scratchBytes * Math.max(1, threads)) / PAGE) + 1;
}

export function moduleBytes(planEnd: number, scratchBytes: number, threads: number): number {
  return modulePages(planEnd, scratchBytes, threads) * PAGE;
}

export interface MemoryLimit {
  bytes: number;
  /** How the limit is named in messages. */
  what: string;
}

/** The tighter of wasm32's 4 GiB and the caller's cap. */
export function memoryLimit(maxMemory: number | undefined): MemoryLimit {
  const wasm = { bytes: WASM32_BYTES, what: "WebAssembly (wasm32) memory holds at most 4 GiB" };
  if (maxMemory === undefined) return wasm;
  if (!Number.isSafeInteger(maxMemory) || maxMemory < 2 * PAGE) {
    throw new KilnError({ code: "options", path: "maxMemory", message: `maxMemory must be a whole number of bytes, at least ${2 * PAGE} (two 64 KiB pages); got ${maxMemory}` });
  }
  return maxMemory < WASM32_BYTES ? { bytes: maxMemory, what: `the memory cap (--max-memory, maxMemory) is ${formatBytes(maxMemory)}` } : wasm;
}

/** 1536 → "1.5 KiB"; binary units, three significant digits. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) (n /= 1024), u++;
  return u === 0 ? `${n} B` : `${n >= 100 ? n.toFixed(0) : n.toPrecision(3)} ${units[u]}`;
}

export interface Regions {
  weights: number;
  gradients: number;
  "optimizer slots": number;
  "inputs, targets and outputs": number;
  activations: number;
  "scratch, control and padding": number;
}

/** Bytes per region of a planned module; they add up to `moduleBytes`. */
export function regionsOf(mod: Module, plan: Plan, scratchBytes: number, threads: number): { total: number; regions: Regions } {
  const regions: Regions = { weights: 0, gradients: 0, "optimizer slots": 0, "inputs, targets and outputs": 0, activations: plan.arenaBytes, "scratch, control and padding": 0 };
  const regionOf: Partial<Record<Tensor["kind"], keyof Regions>> = {
    weight: "weights", grad: "gradients", slot: "optimizer slots", input: "inputs, targets and outputs", target: "inputs, targets and outputs", output: "inputs, targets and outputs",
  };
  for (const p of plan.placements) {
    const region = p.program === undefined ? regionOf[mod.t(p.tensor).kind] : undefined;
    if (region) regions[region] += p.end - p.start;
  }
  const total = moduleBytes(plan.end, scratchBytes, threads);
  const counted = Object.values(regions).reduce((a, b) => a + b, 0);
  regions["scratch, control and padding"] = total - counted;
  return { total, regions };
}

export interface OverflowContext {
  graph: Graph;
  mod: Module;
  plan: Plan;
  maxBatch: number;
  threads: number;
  /** Kernel scratch bytes per thread (kernel selection; the same at every batch). */
  scratchBytes: number;
  limit: MemoryLimit;
  /** The module's plan at another max batch (same graph and options). */
  planAt(batch: number): Plan;
}

/** The KilnError for a module over its memory limit (see the file comment). */
export function memoryOverflow(c: OverflowContext): KilnError {
  const { total, regions } = regionsOf(c.mod, c.plan, c.scratchBytes, c.threads);
  const parts = (Object.entries(regions) as [string, number][]).filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1])
    .map(([name, b]) => `${name} ${formatBytes(b)}`);
  const culprit = tippingOwner(c);
  const largest = largestBatch(c);
  const fix = largest === 0
    ? `it does not fit at any batch: at batch 1 it needs ${formatBytes(bytesAt(c, 1))}`
    : `the largest batch that fits is ${largest}`;
  const message = `at max batch ${c.maxBatch} the module needs ${formatBytes(total)} of memory (${parts.join("; ")}), `
    + `but ${c.limit.what}; ${culprit.what} takes it past the limit; ${fix}`;
  const d: Diagnostic = { code: "memory", path: culprit.path, message };
  if (culprit.layer !== undefined) d.layer = culprit.layer;
  return new KilnError(d);
}

/** Module bytes at a batch; each batch planned once (re-planning lowers the graph again). */
function bytesAt(c: OverflowContext, batch: number): number {
  const cache = (planned.get(c) ?? planned.set(c, new Map()).get(c))!;
  if (!cache.has(batch)) cache.set(batch, moduleBytes((batch === c.maxBatch ? c.plan : c.planAt(batch)).end, c.scratchBytes, c.threads));
  return cache.get(batch)!;
}

const planned = new WeakMap<OverflowContext, Map<number, number>>();

/** The largest batch below the max batch whose module fits; 0 when not even batch 1 fits. */
export function largestBatch(c: OverflowContext): number {
  const fits = (b: number) => bytesAt(c, b) <= c.limit.bytes;
  const one = bytesAt(c, 1);
  if (one > c.limit.bytes) return 0;
  // Affine estimate from batch 1 and the max batch, then its neighbour, then bisection if the
  // line was off: lo always fits, hi never does.
  const slope = (bytesAt(c, c.maxBatch) - one) / (c.maxBatch - 1);
  const estimate = 1 + Math.floor((c.limit.bytes - one) / slope);
  let lo = 1, hi = c.maxBatch;
  const probe = (b: number) => {
    if (b <= lo || b >= hi) return;
    if (fits(b)) lo = b;
    else hi = b;
  };
  probe(estimate);
  probe(lo === estimate ? estimate + 1 : estimate - 1);
  while (hi - lo > 1) probe((lo + hi) >>> 1);
  return lo;
}

/** Who owns the first buffer, in plan order, that ends past the limit. */
function tippingOwner(c: OverflowContext): { what: string; path: string; layer?: string } {
  const past = c.plan.placements.find((p) => moduleBytes(p.end, c.scratchBytes, c.threads) > c.limit.bytes);
  if (!past) return { what: "the kernel scratch and control bytes after the plan", path: "" };
  const t = c.mod.t(past.tensor);
  const where = past.program ? `its activations in ${past.program}` : `its ${KIND_WORDS[t.kind] ?? t.kind}`;
  const inputIndex = c.graph.inputs.findIndex((v) => v.name === t.name);
  if (t.kind === "input" && inputIndex >= 0) return { what: `input "${t.name}"`, path: `/inputs/${inputIndex}` };
  const targetIndex = c.graph.targets.findIndex((v) => v.name === t.name);
  if (t.kind === "target" && targetIndex >= 0) return { what: `target "${t.name}"`, path: `/targets/${targetIndex}` };
  const layer = c.graph.layers.find((l) => l.name === t.layer);
  if (layer) return { what: `layer "${layer.name}" (${where})`, path: layer.path, layer: layer.name };
  if (t.layer === "loss") return { what: `the loss (${where})`, path: "/training/loss" };
  if (t.layer === "optimizer") return { what: `the optimizer (${where})`, path: "/training/optimizer" };
  return { what: `a ${t.kind} buffer`, path: "" };
}

const KIND_WORDS: Partial<Record<Tensor["kind"], string>> = {
  weight: "weights", grad: "weight gradients", slot: "optimizer slots", output: "output buffer", state: "state", hyper: "optimizer scalars", result: "results",
};
