/**
 * What the checks of a manifest's optional parts (train.ts, threads.ts, debug.ts, decode.ts) share
 * besides manifest.ts's Checker: their sentences are their own, so they live in those chunks and
 * here, not in the core every load parses.
 */
import { fail } from "./core.js";

/** The manifest is refused, with a sentence of its own. */
export function bad(message: string): never {
  return fail("manifest", "kiln.manifest", message);
}

/** A value from the manifest for a sentence, cut at 80 characters. */
export const show = (v: unknown) => String(JSON.stringify(v)).slice(0, 80);
