/**
 * The runtime's lazily loaded parts, fetched by dynamic import while loadModel compiles the
 * module, so the core a page parses first stays small: weights I/O (every model), the
 * initializers (only when weights are neither embedded nor given) and training (only for modules
 * that train; it also holds the manifest's training checks). Every Model comes from loadModel, so
 * its methods find what they need loaded.
 */
import { fail } from "./errors.js";
import type * as Init from "./init.js";
import type * as Train from "./train.js";
import type * as WeightsIo from "./weights-io.js";

export interface Parts {
  io: typeof WeightsIo;
  init?: typeof Init;
  train?: typeof Train;
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
export async function loadParts(init: boolean, train: boolean): Promise<void> {
  const [io, i, t] = await part("weights, initializer or training", Promise.all([import("./weights-io.js"), init && import("./init.js"), train && import("./train.js")]));
  loaded.io = io;
  if (i) loaded.init = i;
  if (t) loaded.train = t;
}

/** The loaded parts (loadModel awaits them before any Model exists). */
export const parts = (): Parts => loaded as Parts;
