/**
 * loadModel's pipeline, shared by `kiln/runtime` (index.ts: a Model that trains) and
 * `kiln/runtime/predict` (predict.ts: a Predictor, and none of the training code or checks):
 * load (source → WebAssembly.Module) → manifest (read and check) → instantiate with a fresh
 * memory → initialize weights → the model.
 */
import { fail, Refusal, refuse } from "./errors.js";
import { instantiate, toModule, type Source } from "./load.js";
import { readManifest, type Manifest, type TrainingPart } from "./manifest.js";
import { Reason } from "./reasons.js";
import { loadParts, part } from "./parts.js";
import type { Predictor } from "./predictor.js";
import type { ThreadPool } from "./threads.js";

export interface LoadOptions {
  /** Safetensors weights (and optionally optimizer state) to load after initialization. */
  weights?: Uint8Array;
  /**
   * Worker threads sharing every kernel (default 1). Needs a module compiled with
   * `kiln compile --threads N` (N ≥ this) and shared memory: in browsers a cross-origin-isolated
   * page (COOP/COEP headers) and a call from a Web Worker. Results are bit-identical for any count.
   */
  threads?: number;
}

type Make<M> = new (manifest: Manifest, exports: WebAssembly.Exports, memory: WebAssembly.Memory) => M;

/** Loads a model made by `make`; `training`: the training part, checked and loaded for a module that trains (Model), or none (Predictor). */
export async function open<M extends Predictor>(source: Source, opts: LoadOptions, make: Make<M>, training?: TrainingPart): Promise<M> {
  try {
    return await load(source, opts, make, training);
  } catch (e) {
    // A refused load: its sentences (load-errors.ts), or, when they cannot be fetched, the Refusal itself.
    throw e instanceof Refusal ? await import("./load-errors.js").then((s) => s.explain(e), () => e) : e;
  }
}

async function load<M extends Predictor>(source: Source, opts: LoadOptions, make: Make<M>, training?: TrainingPart): Promise<M> {
  let mod = await toModule(source);
  let manifest = await readManifest(mod, training);
  // A module built with --relaxed-simd carries its relaxed-SIMD twin: use it where it validates.
  const relaxed = WebAssembly.Module.customSections(mod, "kiln.relaxed")[0];
  if (relaxed && WebAssembly.validate(relaxed)) {
    mod = await WebAssembly.compile(relaxed);
    manifest = await readManifest(mod, training);
  }
  const threads = opts.threads ?? 1;
  // Thread checks and the shared-memory fallback live with the thread code (loaded on demand).
  const threading = manifest.threads || threads !== 1 ? await part("thread", import("./threads.js")) : undefined;
  if (threading) ({ mod, manifest } = await threading.chooseBuild(mod, manifest, threads, training));
  checkImports(mod, manifest.threads);
  // `kiln compile --weights` carries trained weights in the `kiln.weights` section (safetensors).
  const embedded = manifest.weightsEmbedded && (WebAssembly.Module.customSections(mod, "kiln.weights")[0] ?? refuse("load", "", Reason.noWeights));
  // Initializers only when no weights come with the module or the call; training code only for modules that train.
  const seeded = !embedded && !opts.weights;
  await loadParts(seeded, manifest.canTrain && training);
  // Threaded modules: shared memory, the barrier clock and the workers (threads.ts).
  const { memory, instance, pool }: { memory: WebAssembly.Memory; instance: WebAssembly.Instance; pool?: ThreadPool } = manifest.threads
    ? await threading!.startShared(mod, manifest, threads, abort)
    : await instantiate(mod, manifest.memory.pages, false, () => ({ abort }));
  const model = new make(manifest, instance.exports, memory);
  model.pool = pool;
  // Debug builds: their code (loaded with the manifest's checks) fills the guards and runs each call checked.
  if (manifest.debug) model.checked = (await import("./debug.js")).attach(manifest, memory);
  try {
    // Modules with a decode program: its part of the manifest checked, then decode, resetCache and generate (decode.ts).
    if (manifest.decode) (await import("./decode.js")).attach(model);
    model.initialize(seeded);
    if (embedded) model.readWeights(new Uint8Array(embedded));
    if (opts.weights) model.readWeights(opts.weights);
  } catch (e) {
    model.dispose(); // stops the threads: a failed load leaves nothing running
    throw e;
  }
  return model;
}

/**
 * A kiln module imports its memory (so the runtime sizes and reads it) and nothing but the
 * runtime's functions: one that defines its own memory would compute in memory the runtime never sees.
 */
function checkImports(mod: WebAssembly.Module, threaded: boolean): void {
  let memory = false;
  for (const { module, name, kind } of WebAssembly.Module.imports(mod)) {
    const isMemory = kind === "memory" && name === "memory";
    const fn = kind === "function" && (name === "abort" || (threaded && (name === "wait32" || name === "passed")));
    if (module !== "env" || !(isMemory || fn)) refuse("load", "", Reason.imports, kind, module, name);
    memory ||= isMemory;
  }
  if (!memory) refuse("load", "", Reason.noMemory);
}

/** AssemblyScript's abort(message, file, line, column); kiln modules normally do not call it. */
function abort(_message: number, _file: number, line: number, column: number): never {
  return fail("trap", "abort", `the module aborted (line ${line}, column ${column})`);
}
