/**
 * The one error type kiln throws for bad input — graphs, weight and data files, runtime calls.
 * It lives in the runtime (which has no dependencies) and the compiler re-exports it, so that
 * `instanceof KilnError` holds everywhere. A KilnError carries every problem found in one pass,
 * each naming where (a JSON pointer, a layer, an input or tensor), what was expected and what came.
 */

export interface Diagnostic {
  /** Stable code, e.g. "schema", "shape", "unknown-op", "limit", "input", "safetensors". */
  code: string;
  /** JSON pointer into the graph file ("/layers/4/kernel_size"), or the input/tensor name; "" for the whole. */
  path: string;
  /** The layer the problem belongs to, when there is one. */
  layer?: string;
  /** A sentence a person understands at once: what was expected and what came. */
  message: string;
}

/** Most diagnostics one KilnError keeps (a backstop: lists from files are capped sooner, by Problems). */
const MAX_KEPT = 100;

export class KilnError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[] | Diagnostic) {
    let list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    if (list.length > MAX_KEPT) list = [...list.slice(0, MAX_KEPT), more(list[0]!.code, list.length - MAX_KEPT)];
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

/** "… and 1,699,990 more problems": the diagnostic that counts what a capped list left out. */
export function more(code: string, count: number): Diagnostic {
  return { code, path: "", message: `… and ${count.toLocaleString("en-US")} more problems` };
}

