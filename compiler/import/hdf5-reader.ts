/**
 * Reads an HDF5 file in a worker thread (node:worker_threads) with a deadline and a memory limit.
 * Why: h5wasm is the HDF5 C library compiled to WebAssembly, and a corrupt file can make it loop
 * forever (hdf5-guard.ts catches the one such structure found so far) or abort. A loop inside
 * WebAssembly cannot be interrupted on its own thread, but a worker can be terminated: so the
 * library runs in a worker, and when the deadline passes kiln ends the worker and throws a
 * KilnError naming the file. Its JS heap is capped with `resourceLimits` (h5wasm's own WebAssembly
 * memory is capped at 2 GiB by h5wasm itself); what the library prints (HDF5 error stacks) is
 * dropped inside the worker (its console and stdio silenced before h5wasm loads), so it never
 * reaches the terminal: kiln reports the failure itself.
 *
 * The worker only walks the file and copies out plain data (`Hdf5Dump`): the attributes asked for
 * (strings) and every group and float dataset under the roots asked for. What a Keras file means
 * is decided on this thread (keras.ts). One idle worker is kept for a few seconds for the next
 * file (loading h5wasm takes ~150 ms); a worker that timed out, crashed or trapped is never reused.
 *
 * The worker source is a string evaluated by worker_threads (as runtime/threads.ts does), so the
 * same code runs from `dist/` and from the TypeScript sources under vitest; it imports h5wasm by
 * the absolute URL resolved here (an evaluated worker would resolve a bare name from the cwd).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Worker as NodeWorker } from "node:worker_threads";
import { KilnError } from "../frontend/diagnostics.js";

/** A dataset as the worker read it: float values (as float32), or why they were not read. */
export type DumpDataset =
  | { kind: "dataset"; shape: number[]; data: Float32Array }
  | { kind: "dataset"; shape: unknown; error: "too-many-elements" | "not-float" | "unreadable"; elements?: number };
export type DumpEntry = { kind: "group"; attrs: Record<string, string[]> } | DumpDataset;

/** What the worker copies out of a file: root attributes and every entry under the requested roots. */
export interface Hdf5Dump {
  /** Root attributes asked for that hold text (a string, or UTF-8 bytes). */
  attrs: Record<string, string>;
  /** Path ("model_weights/dense/dense/kernel:0") → group (with the string-list attributes asked for) or dataset. */
  entries: Map<string, DumpEntry>;
  /** Top-level names of the file. */
  keys: string[];
}

export interface Hdf5Request {
  /** Root attributes to read as text. */
  rootAttrs: string[];
  /** Groups to walk (if the file has them), e.g. "layers" or "model_weights". */
  roots: string[];
  /** Group attributes to read as lists of strings (e.g. layer_names, weight_names). */
  groupAttrs: string[];
}

export interface Hdf5Limits {
  /** Seconds the read may take before the worker is ended (default: deadlineSeconds(bytes)). */
  timeoutSeconds?: number;
  /** Megabytes of JS heap the worker may use (default DEFAULT_HEAP_MB, or KILN_HDF5_HEAP_MB). */
  heapMb?: number;
}

/** Largest dataset (elements) read; more is refused before its values are read. */
export const MAX_ELEMENTS = 2 ** 30;
/** Walk limits: nesting depth and entry count (a hostile file may hold millions of groups). */
const MAX_DEPTH = 32;
const MAX_ENTRIES = 100_000;
/** The deadline: at least this many seconds, and one second per DEADLINE_BYTES_PER_SECOND bytes. */
export const DEADLINE_FLOOR_SECONDS = 60;
export const DEADLINE_BYTES_PER_SECOND = 4 * 1024 * 1024;
export const DEFAULT_HEAP_MB = 1024;
/** setTimeout's longest delay (~24.8 days): a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long an idle worker is kept for the next file. */
const IDLE_MS = 5_000;

/** The default deadline for a file of `bytes` bytes: 60 s, or 1 s per 4 MiB for files over 240 MiB. */
export function deadlineSeconds(bytes: number): number {
  return Math.max(DEADLINE_FLOOR_SECONDS, Math.ceil(bytes / DEADLINE_BYTES_PER_SECOND));
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
// Before h5wasm loads (it binds console.error then): what the HDF5 library prints is dropped.
for (const k of ["log", "info", "warn", "error", "debug"]) console[k] = () => {};
process.stdout.write = process.stderr.write = () => true;
const MAX_ELEMENTS = ${MAX_ELEMENTS}, MAX_DEPTH = ${MAX_DEPTH}, MAX_ENTRIES = ${MAX_ENTRIES};
const lib = import(workerData.h5wasm).then(async (m) => { await m.ready; return m; });
let counter = 0;
const text = (v) => typeof v === "string" ? v : v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined;
const strings = (v) => typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
function attr(obj, name) {
  const attrs = obj.attrs;
  if (!attrs || !Object.keys(attrs).includes(name)) return undefined;
  return attrs[name].value;
}
function dataset(ds) {
  const shape = ds.shape ?? [];
  if (!Array.isArray(shape)) return { kind: "dataset", shape, error: "unreadable", elements: 0 };
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(d) || n > MAX_ELEMENTS) return { kind: "dataset", shape, error: "too-many-elements" };
  }
  const meta = ds.metadata;
  if (!meta || meta.type !== 1 || (meta.size !== 4 && meta.size !== 8)) return { kind: "dataset", shape, error: "not-float" };
  const v = ds.value;
  if (!(v instanceof Float32Array || v instanceof Float64Array) || v.length !== n) return { kind: "dataset", shape, error: "unreadable", elements: n };
  return { kind: "dataset", shape: [...shape], data: v instanceof Float32Array ? v : Float32Array.from(v) };
}
function dump(f, req) {
  const attrs = {}, entries = new Map(), keys = f.keys();
  for (const name of req.rootAttrs) {
    const t = text(attr(f, name));
    if (t !== undefined) attrs[name] = t;
  }
  // Only names keys() lists are opened: get() of a missing path makes HDF5 print its error stack.
  const walk = (path, group, depth) => {
    if (depth > MAX_DEPTH) return;
    const a = {};
    for (const name of req.groupAttrs) a[name] = strings(attr(group, name));
    entries.set(path, { kind: "group", attrs: a });
    for (const k of group.keys()) {
      if (entries.size >= MAX_ENTRIES) return;
      const child = path + "/" + k, e = f.get(child);
      if (e && e.type === "Dataset") entries.set(child, dataset(e));
      else if (e && e.type === "Group") walk(child, e, depth + 1);
    }
  };
  for (const root of req.roots) {
    if (!keys.includes(root)) continue;
    const g = f.get(root);
    if (g && g.type === "Group") walk(root, g, 0);
  }
  return { attrs, entries, keys };
}
parentPort.on("message", async (req) => {
  if (req.hang === "loop") for (;;);
  if (req.hang === "allocate") for (const keep = [];;) keep.push(new Array(1 << 16).fill(0.5));
  let h5;
  try {
    h5 = await lib;
  } catch (e) {
    parentPort.postMessage({ error: "cannot load h5wasm: " + String((e && e.message) || e), fatal: true });
    return;
  }
  const path = "/kiln-import-" + ++counter + ".h5";
  let file;
  try {
    h5.FS.writeFile(path, req.bytes);
    file = new h5.File(path, "r");
    const d = dump(file, req);
    const buffers = [...d.entries.values()].filter((e) => e.data).map((e) => e.data.buffer);
    parentPort.postMessage({ dump: d }, buffers);
  } catch (e) {
    // A trap (RuntimeError: the library aborted or ran out of memory) leaves its state unknown.
    parentPort.postMessage({ error: String((e && e.message) || e), fatal: e instanceof WebAssembly.RuntimeError });
  } finally {
    try { if (file) file.close(); } catch {}
    try { h5.FS.unlink(path); } catch {}
  }
});
`;

let h5wasmUrl: string | undefined;

/**
 * h5wasm's ESM entry as a file URL, found from this module the way Node resolves a bare import:
 * the nearest node_modules/h5wasm up the tree, its `exports["."].import`. (require.resolve cannot:
 * h5wasm exports only an `import` condition; import.meta.resolve is missing under vitest.)
 */
function resolveH5wasm(): string {
  if (h5wasmUrl) return h5wasmUrl;
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths("h5wasm") ?? []) {
    const pkgPath = join(dir, "h5wasm", "package.json");
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports?: { "."?: { import?: string } }; module?: string };
    const entry = pkg.exports?.["."]?.import ?? pkg.module;
    if (entry) return (h5wasmUrl = pathToFileURL(join(dir, "h5wasm", entry)).href);
  }
  throw new KilnError({ code: "import", path: "h5wasm", message: "cannot find the h5wasm package (a dependency of kiln's compiler, needed to read HDF5 files)" });
}

/** The environment's override of a positive number (KILN_HDF5_TIMEOUT, KILN_HDF5_HEAP_MB), checked. */
function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!(n > 0 && Number.isFinite(n))) throw new KilnError({ code: "import", path: name, message: `expected a positive number of ${name.endsWith("_MB") ? "megabytes" : "seconds"}, got ${JSON.stringify(v)}` });
  return n;
}

/** Each limit given must be a positive finite number (keys name the option in the error). */
export function checkLimits(limits: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(limits)) {
    if (v !== undefined && !(typeof v === "number" && v > 0 && Number.isFinite(v))) {
      throw new KilnError({ code: "import", path: key, message: `expected a positive number, got ${JSON.stringify(v) ?? String(v)}` });
    }
  }
}

interface Reply {
  dump?: Hdf5Dump;
  error?: string;
  fatal?: boolean;
}

let idle: { worker: NodeWorker; timer: ReturnType<typeof setTimeout> } | undefined;

async function takeWorker(heapMb: number): Promise<NodeWorker> {
  if (idle && idle.worker.resourceLimits?.maxOldGenerationSizeMb === heapMb) {
    const { worker, timer } = idle;
    idle = undefined;
    clearTimeout(timer);
    worker.ref();
    return worker;
  }
  const { Worker } = await import("node:worker_threads");
  // (Not stdout/stderr: true: the worker's stdio streams would keep the process alive while it idles.)
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { h5wasm: resolveH5wasm() }, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
  // An idle worker that fails is simply gone (the next read starts another).
  worker.on("error", () => {});
  worker.on("exit", () => {
    if (idle?.worker !== worker) return;
    clearTimeout(idle.timer);
    idle = undefined;
  });
  return worker;
}

/** Keeps `worker` for the next file (one at most, ended after IDLE_MS); it does not keep the process alive. */
function release(worker: NodeWorker): void {
  if (idle) {
    void worker.terminate();
    return;
  }
  worker.unref();
  const timer = setTimeout(() => {
    if (idle?.worker === worker) idle = undefined;
    void worker.terminate();
  }, IDLE_MS);
  timer.unref();
  idle = { worker, timer };
}

/**
 * Test hook: the next read's worker, before reading, loops forever (as a corrupt file can make
 * HDF5 do) or allocates until its heap limit ends it.
 */
let hangNext: "loop" | "allocate" | undefined;
export function hangNextReadForTest(how: "loop" | "allocate" = "loop"): void {
  hangNext = how;
}

/**
 * Reads `bytes` (an HDF5 file called `where` in messages) in a worker. Resolves with the dump, or
 * with `{ error }` when the HDF5 library refused the file; throws a KilnError when the read took
 * longer than the deadline, ran out of memory, or the worker died.
 */
export async function readHdf5(bytes: Uint8Array, where: string, request: Hdf5Request, limits: Hdf5Limits = {}): Promise<{ dump: Hdf5Dump } | { error: string }> {
  checkLimits({ ...limits });
  const seconds = limits.timeoutSeconds ?? envNumber("KILN_HDF5_TIMEOUT") ?? deadlineSeconds(bytes.length);
  const heapMb = Math.ceil(limits.heapMb ?? envNumber("KILN_HDF5_HEAP_MB") ?? DEFAULT_HEAP_MB);
  const worker = await takeWorker(heapMb);
  const hang = hangNext;
  hangNext = undefined;
  const fail = (message: string) => new KilnError({ code: "import", path: where, message });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reusable = false;
  const listeners: [string, (...args: any[]) => void][] = [];
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      timer = setTimeout(() => reject(fail(`reading ${where} took more than ${seconds} s; the file is likely corrupt (the HDF5 reader was stopped; the hdf5Timeout option, kiln import --hdf5-timeout or KILN_HDF5_TIMEOUT sets the limit in seconds)`)), Math.min(seconds * 1000, MAX_TIMER_MS));
      listeners.push(
        ["message", resolve],
        ["error", (err: Error & { code?: string }) => reject(err.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? fail(`reading ${where} needed more than ${heapMb} MB of memory; the file is likely corrupt (KILN_HDF5_HEAP_MB sets the limit)`)
          : fail(`the HDF5 reader stopped while reading ${where}: ${err.message}`))],
        ["exit", (code: number) => reject(fail(`the HDF5 reader stopped while reading ${where} (exit code ${code})`))],
      );
      for (const [event, f] of listeners) worker.on(event, f);
      // A copy of just these bytes, handed over (cloning a view would copy its whole buffer).
      const copy = bytes.slice();
      worker.postMessage({ ...request, bytes: copy, hang }, [copy.buffer]);
    });
    if (reply.dump) {
      reusable = true;
      return { dump: reply.dump };
    }
    reusable = !reply.fatal;
    return { error: reply.error ?? "unknown error" };
  } finally {
    clearTimeout(timer);
    for (const [event, f] of listeners) worker.off(event, f);
    if (reusable) release(worker);
    else void worker.terminate();
  }
}
