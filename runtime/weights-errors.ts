/**
 * The sentences of a refused weights file (weights-io.ts throws a Refusal naming them), apart from
 * the rest of load-errors.ts because Model.loadWeights refuses synchronously and so imports them
 * with itself; loadModel fetches them with load-errors.ts only when a load is refused.
 */
import { KilnError } from "./core.js";
import type { Refusal } from "./errors.js";
import { Reason } from "./reasons.js";

export const WEIGHT_REASONS = {
  [Reason.fileType]: (got: string) => `expected the weights file as a Uint8Array, got ${got}`,
  [Reason.short]: (length: number) => `expected at least 8 bytes (the header length), got ${length}`,
  [Reason.headerLength]: (n: number, length: number) => `header length ${n} runs past the end of the ${length}-byte file (or past 100 MB)`,
  [Reason.headerJson]: (error: string) => `expected a JSON object${error ? ` in UTF-8: ${error}` : ""}`,
  [Reason.tensorCount]: (count: number) => `expected at most ${count} tensors (the model's weights and optimizer state), got more`,
  [Reason.entry]: (dtypes: string[], got: unknown) => `expected { "dtype": one of ${dtypes}, "shape": [integers ≥ 0], "data_offsets": [begin, end] }, got ${JSON.stringify(got)?.slice(0, 120)}`,
  [Reason.entryBytes]: (at: number[], bytes: number, dtype: string, shape: number[]) => `data_offsets [${at}]: expected ${bytes} bytes for ${dtype} [${shape}]`,
  [Reason.packed]: (begin: number, end: number, expected: number) => `data_offsets [${begin}, ${end}]: expected the data to start at byte ${expected} (tensors are packed back to back)`,
  [Reason.cover]: (bytes: number, end: number) => `expected the tensors to cover the ${bytes} data bytes exactly, got ${end}`,
  [Reason.missing]: () => "missing from the weights file",
  [Reason.noTensor]: (name: string) => `the model has no tensor "${name}"`,
  [Reason.tensorType]: (dtype: string, shape: number[], gotDtype: string, gotShape: number[]) => `expected ${dtype} [${shape.join(", ")}], got ${gotDtype} [${gotShape.join(", ")}]`,
  [Reason.nonFinite]: (i: number, value: number) => `element ${i} is ${value}; expected finite values`,
  [Reason.step]: (value: number) => `expected a step count in [0, 2^30], got ${value}`,
  [Reason.velocity]: (i: number, value: number) => `element ${i} is ${value}; an average of squared gradients is never negative`,
};

/** The KilnError of a refusal, its sentences from `reasons`. */
export function explainWith(reasons: Record<number, (...values: never[]) => string>, { diagnostics, problems, left }: Refusal): KilnError {
  return new KilnError(problems.map(([path, [reason, ...values]]) => ({ code: diagnostics[0]!.code, path, message: (reasons[reason] as (...values: unknown[]) => string)(...values) })), left);
}
