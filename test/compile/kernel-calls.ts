/** Test helpers: which kernels a compiled module's programs call, by the labels the emitter writes beside each kernel. */
import { compile, type CompileOptions } from "../../compiler/index.js";
import { CASES } from "./cases.js";

/** Kernel id → its label, from the `// k<n>: <label>` comments of the generated source. */
export const labelsOf = (source: string) => new Map([...source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));

/**
 * The kernel labels each program of case `caseName` (cases.ts) calls, in order; with `targetShape`,
 * the case is compiled with a mean-squared-error loss on its last layer so it has a train_step.
 */
export async function caseKernelCalls(caseName: string, targetShape?: number[], options: CompileOptions = {}): Promise<Record<string, string[]>> {
  const c = CASES.find((k) => k.name === caseName);
  if (!c) throw new Error(`no case "${caseName}"`);
  const out = c.graph.layers.at(-1).name;
  const graph = targetShape
    ? { ...c.graph, targets: [{ name: "t", shape: targetShape }], training: { loss: { type: "mean_squared_error", output: out, target: "t" }, optimizer: { type: "sgd", learning_rate: 0.1 } } }
    : c.graph;
  const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 3, ...options });
  const labels = labelsOf(r.source);
  const table = r.manifest.kernels!.calls as Record<string, [string, string][]>;
  return Object.fromEntries(Object.entries(table).map(([prog, cs]) => [prog, cs.map(([k]) => labels.get(k)!)]));
}
