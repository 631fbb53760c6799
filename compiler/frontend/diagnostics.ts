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
    if (this.items.length) throw new KilnError(this.items);
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
