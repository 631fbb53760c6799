/**
 * The kernel module prelude: the AssemblyScript source of the `@inline` helpers kernels call
 * (vector math from emit/vmath.ts, activations from emit/activation.ts). Kernels list what they
 * call in `KernelDef.needs`; `preludeFor` adds dependencies and emits each helper once, callees first.
 */
import { ACT_HELPERS } from "../emit/activation.js";
import { VMATH_HELPERS, type PreludeHelper } from "../emit/vmath.js";

const HELPERS: Record<string, PreludeHelper> = { ...VMATH_HELPERS, ...ACT_HELPERS };

/** Names of every helper the prelude can provide. */
export function preludeHelperNames(): string[] {
  return Object.keys(HELPERS);
}

/** Source of the named helpers and their dependencies, each once, dependencies before users. */
export function preludeFor(needs: string[]): string {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    const helper = HELPERS[name];
    if (!helper) throw new Error(`internal: no prelude helper named "${name}"`);
    seen.add(name);
    for (const dep of helper.deps) visit(dep);
    order.push(helper.src);
  };
  for (const name of [...needs].sort()) visit(name);
  return order.join("\n\n") + (order.length ? "\n" : "");
}
