/**
 * The runtime's lazily loaded parts, fetched by dynamic import while loadModel loads the module,
 * so the code a page parses stays small: the initializers (only when weights are neither embedded
 * nor given) and training (only for modules that train, loaded by `kiln/runtime`; it also holds
 * the manifest's training checks). Every model comes from loadModel, so its methods find what
 * they need loaded.
 */
import { fail } from "./errors.js";
import type { TrainingPart } from "./manifest.js";
import type * as Init from "./init.js";
import type * as Train from "./train.js";
import type { stackSite } from "./trap-stack.js";

export interface Parts {
  init?: typeof Init;
  train?: typeof Train;
  /** Reads a trap's kernel off the stack: loaded (with the manifest's checks) for a kernel table without progress cells. */
  stack?: typeof stackSite;
}

const loaded: Partial<Parts> = {};

/** A dynamic import of a part of the runtime; a failed fetch is a KilnError (and may be retried by the next loadModel). */
export async function part<T>(what: string, load: Promise<T>): Promise<T> {
  try {
    return await load;
  } catch (e) {
    return fail("load", "", `could not load the runtime's ${what} code: ${(e as Error)?.message ?? e}`);
  }
}

/** Loads what a model needs (each part once). */
export async function loadParts(init: boolean, train: TrainingPart | false | undefined): Promise<void> {
  const [i, t] = await part("initializer or training", Promise.all([init && import("./init.js"), train && train()]));
  if (i) loaded.init = i;
  if (t) loaded.train = t;
}

/** The loaded parts (loadModel awaits them before any Model exists). */
export const parts = (): Parts => loaded as Parts;
