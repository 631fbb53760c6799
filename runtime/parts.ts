/**
 * The runtime's lazily loaded parts, fetched by dynamic import while loadModel compiles the
 * module, so the core a page parses first stays small: weights I/O (every model), the
 * initializers (only when weights are neither embedded nor given) and training (only for modules
 * that train). Every Model comes from loadModel, so its methods find what they need loaded.
 */
import { KilnError } from "./errors.js";
import type * as Init from "./init.js";
import type * as Train from "./train.js";
import type * as WeightsIo from "./weights-io.js";

export interface Parts {
  io: typeof WeightsIo;
  init?: typeof Init;
  train?: typeof Train;
}

const loaded: Partial<Parts> = {};

/** Loads what a model needs (each part once; a failed fetch may be retried by the next loadModel). */
export async function loadParts(init: boolean, train: boolean): Promise<void> {
  try {
    const [io, i, t] = await Promise.all([import("./weights-io.js"), init && import("./init.js"), train && import("./train.js")]);
    loaded.io = io;
    if (i) loaded.init = i;
    if (t) loaded.train = t;
  } catch (e) {
    throw new KilnError({ code: "load", path: "", message: `could not load the runtime's weights, initializer or training code: ${(e as Error)?.message ?? e}` });
  }
}

/** The loaded parts (loadModel awaits them before any Model exists). */
export const parts = (): Parts => loaded as Parts;
