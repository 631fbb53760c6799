/**
 * The runtime's lazily loaded parts, fetched by dynamic import while loadModel compiles the
 * module, so the core a page parses first stays small: weights I/O (every model), the
 * initializers (only when weights are neither embedded nor given), training (only for modules
 * that train; it also holds the manifest's training checks) and generation (only for modules with
 * a decode program). Every Model comes from loadModel, so
 * its methods find what they need loaded.
 */
import { fail } from "./errors.js";
import type * as Init from "./init.js";
import type * as Train from "./train.js";
import type * as Decode from "./decode.js";
import type * as WeightsIo from "./weights-io.js";

export interface Parts {
  io: typeof WeightsIo;
  init?: typeof Init;
  train?: typeof Train;
  decode?: typeof Decode;
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
export async function loadParts(init: boolean, train: boolean, decode = false): Promise<void> {
  const [io, i, t, d] = await part("weights, initializer, training or generation", Promise.all([import("./weights-io.js"), init && import("./init.js"), train && import("./train.js"), decode && import("./decode.js")]));
  loaded.io = io;
  if (i) loaded.init = i;
  if (t) loaded.train = t;
  if (d) loaded.decode = d;
}

/** The loaded parts (loadModel awaits them before any Model exists). */
export const parts = (): Parts => loaded as Parts;
