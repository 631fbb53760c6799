/** Test helpers: the KilnError a call throws (or a promise rejects with), failing the test otherwise. */
import { expect } from "vitest";
import { KilnError } from "../../runtime/errors.js";

export function kilnError(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KilnError);
    return e as KilnError;
  }
  throw new Error("expected a KilnError");
}

export async function rejects(p: Promise<unknown>): Promise<KilnError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KilnError);
    return e as KilnError;
  }
  throw new Error("expected a KilnError");
}
