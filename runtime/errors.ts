/**
 * The one error type kiln throws for bad input — graphs, weight and data files, runtime calls.
 * It lives in the runtime (which has no dependencies) and the compiler re-exports it, so that
 * `instanceof KilnError` holds everywhere. A KilnError carries every problem found in one pass,
 * each naming where (a JSON pointer, a layer, an input or tensor), what was expected and what came.
 */
import type { Reasons } from "./load-errors.js";
import type { Reason } from "./reasons.js";

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

/** Most diagnostics one KilnError keeps (a backstop: lists from files are capped sooner, as weights-io.ts caps them). */
const MAX_KEPT = 100;

export class KilnError extends Error {
  declare readonly diagnostics: Diagnostic[];
  /** `diagnostics`, and how many more problems a capped list left out (counted in a last diagnostic). */
  constructor(diagnostics: Diagnostic[] | Diagnostic, left = 0) {
    let list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    left += Math.max(0, list.length - MAX_KEPT);
    // "… and 1,699,990 more problems": the diagnostic that counts what the list left out.
    if (left) list = [...list.slice(0, MAX_KEPT), { code: list[0]!.code, path: "", message: `… and ${left.toLocaleString("en-US")} more problems` }];
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
  const where = [d.path, d.layer && `layer ${d.layer}`].filter(Boolean).join(", ");
  return where ? `${where}: ${d.message}` : d.message;
}

/** One problem of a Refusal: where, and the reason (a sentence of load-errors.ts) with its values. */
export type Problem = [path: string, sentence: [Reason, ...unknown[]]];

/**
 * A refusal whose sentences live in load-errors.ts, a part of the runtime fetched only when a load
 * fails: loadModel turns it into a KilnError with them (Model.loadWeights, which imports the
 * sentences with itself, too). Thrown by the checks of the source, the module, its manifest and
 * weights files. It is a KilnError already, each problem saying its reason's number (reasons.ts)
 * and values: what a refused load throws if the sentences cannot be fetched.
 */
export class Refusal extends KilnError {
  declare readonly problems: Problem[];
  declare readonly left: number;
  /** `problems` in order, and how many more a capped list left out (as KilnError counts them). */
  constructor(code: string, problems: Problem[], left = 0) {
    super({ code, path: problems[0]![0], message: `refused: ${JSON.stringify(problems)}` });
    Object.assign(this, { problems, left });
  }
}

/** Throws a Refusal: `reason` (a sentence of load-errors.ts) with its values. */
export function refuse<R extends Reason>(code: string, path: string, reason: R, ...values: Parameters<Reasons[R]>): never {
  throw new Refusal(code, [[path, [reason, ...values]]]);
}

/** Throws a KilnError with one diagnostic (the runtime's one way to refuse a call). */
export function fail(code: string, path: string, message: string, layer?: string): never {
  throw new KilnError({ code, path, message, ...(layer && { layer }) });
}
