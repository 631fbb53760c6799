/**
 * Diagnostics: the one error type kiln throws for bad input (graphs, weight files, data, runtime
 * calls). A KilnError carries every problem found in one pass, each with where (a JSON pointer
 * and/or a layer name), what was expected and what came.
 */

export interface Diagnostic {
  /** Stable code, e.g. "schema", "shape", "unknown-op", "limit". */
  code: string;
  /** JSON pointer into the graph file ("/layers/4/kernel_size"), or "" for the whole document. */
  path: string;
  /** The layer the problem belongs to, when there is one. */
  layer?: string;
  /** A sentence a person understands at once: what was expected and what came. */
  message: string;
}

export class KilnError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[] | Diagnostic) {
    const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    super(list.map(formatDiagnostic).join("\n"));
    this.name = "KilnError";
    this.diagnostics = list;
  }
  /** The first diagnostic's path: convenient in tests. */
  get path(): string {
    return this.diagnostics[0]?.path ?? "";
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = [d.path || undefined, d.layer ? `layer ${d.layer}` : undefined].filter(Boolean).join(", ");
  return where ? `${where}: ${d.message}` : d.message;
}

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
