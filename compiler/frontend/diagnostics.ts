/**
 * Diagnostics: the one error type kiln throws for bad input (graphs, weight files, data, runtime
 * calls). A KilnError carries every problem found in one pass, each with where (a JSON pointer
 * and/or a layer name), what was expected and what came.
 */

import { KilnError, type Diagnostic } from "../../runtime/errors.js";

export { KilnError, formatDiagnostic, type Diagnostic } from "../../runtime/errors.js";

/** Collects diagnostics during a pass; throws them all at once. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  add(code: string, path: string, message: string, layer?: string): void {
    this.items.push(layer === undefined ? { code, path, message } : { code, path, message, layer });
  }
  get empty(): boolean {
    return this.items.length === 0;
  }
  throwIfAny(): void {
    if (this.items.length) throw new KilnError(inGraphOrder(this.items));
  }
}

/** Shorthand for a single-problem error. */
export function fail(code: string, path: string, message: string, layer?: string): never {
  throw new KilnError(layer === undefined ? { code, path, message } : { code, path, message, layer });
}

/** JSON pointer escaping (RFC 6901). */
export function pointer(...parts: (string | number)[]): string {
  return parts.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

/** Top-level sections of a graph file in the order the spec lists them; other keys come last. */
const SECTIONS = ["format", "name", "seed", "inputs", "targets", "layers", "outputs", "training"];

/**
 * Problems in graph order: by top-level section (spec order; the whole file first), within
 * inputs, targets, layers and outputs by index; problems of one item stay in the order the stages
 * found them (schema first, then names and references, then shapes). Stable, so it never
 * reorders problems at one place.
 */
export function inGraphOrder(problems: Diagnostic[]): Diagnostic[] {
  const rank = (d: Diagnostic): [number, number] => {
    if (!d.path.startsWith("/")) return [-1, -1];
    const [section, item] = d.path.split("/").slice(1) as [string, string | undefined];
    const s = SECTIONS.indexOf(section);
    const i = item !== undefined && /^\d+$/.test(item) ? Number(item) : -1;
    return [s < 0 ? SECTIONS.length : s, i];
  };
  const keyed = problems.map((d) => ({ d, r: rank(d) }));
  keyed.sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1]);
  return keyed.map((k) => k.d);
}
