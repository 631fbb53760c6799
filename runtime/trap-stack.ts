/**
 * Where a trap happened, read off the error's stack, for kernel tables without a progress cell
 * (kiln compiles one into every module, so this serves hand-made modules and those of older
 * kilns): loaded with the manifest's checks only for such a module, so the core every page parses
 * carries no stack parsing. It also checks `kernels.functions`, which only it reads.
 */
import { isObject, isString, refuse } from "./core.js";
import type { KernelTable, Manifest } from "./manifest.js";
import { Reason } from "./reasons.js";

/** The manifest's `kernels.functions`, when given, maps function indices to kernel names. */
export function checkFunctions(m: Manifest): void {
  const f = m.kernels!.functions;
  if (f !== undefined && !(isObject(f) && Object.values(f).every(isString))) refuse("manifest", "kiln.manifest", Reason.functions);
}

/**
 * The innermost kernel frame of the stack — "wasm-function[7]" through kernels.functions, or a
 * named frame "at k3 (wasm…" / "k3@wasm…" — and every layer of `calls` that runs that kernel.
 */
export function stackSite(table: KernelTable, calls: [string, string][], e: unknown): [kernel: string, layers: string[]] | undefined {
  for (const line of String((e as Error)?.stack).split("\n")) {
    const index = /wasm-function\[(\d+)\]/.exec(line)?.[1];
    const fn = (index && table.functions?.[index]) || /(\w+)(?: \(|@)wasm/.exec(line)?.[1];
    const layers = [...new Set(calls.filter((c) => c[0] === fn).map((c) => c[1]))];
    if (layers.length) return [fn!, layers];
  }
}
