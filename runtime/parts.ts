/**
 * The runtime's lazily loaded parts: weights I/O (weights-io.ts with safetensors.ts) and the
 * initializers (init.ts) are fetched by dynamic import while loadModel compiles the module, so the
 * core a page parses first stays small. Every Model comes from loadModel, so its methods find them loaded.
 */
import { KilnError } from "./errors.js";
import type * as Init from "./init.js";
import type * as WeightsIo from "./weights-io.js";

export interface Parts {
  io: typeof WeightsIo;
  init: typeof Init;
}

let loaded: Parts | undefined;
let loading: Promise<Parts> | undefined;

/** Loads the parts once; later calls share the first load. */
export function loadParts(): Promise<Parts> {
  loading ??= Promise.all([import("./weights-io.js"), import("./init.js")]).then(
    ([io, init]) => (loaded = { io, init }),
    (e) => {
      loading = undefined; // a failed fetch may be retried by the next loadModel
      throw new KilnError({ code: "load", path: "", message: `could not load the runtime's weights and initializer code: ${(e as Error)?.message ?? e}` });
    },
  );
  return loading;
}

/** The loaded parts (loadModel awaits them before any Model exists). */
export function parts(): Parts {
  if (!loaded) throw new KilnError({ code: "load", path: "", message: "the runtime is not loaded yet: create models with loadModel()" });
  return loaded;
}
