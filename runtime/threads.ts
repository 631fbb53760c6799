/**
 * Runtime threads: the same compiled module instantiated in N−1 workers over one shared memory;
 * the calling thread is thread 0. A program runs as `<program>_t(batch, tid, nt)` on every
 * thread at once; the module's own barriers keep the threads in step, and how the work is shared
 * is fixed at compile time so results do not depend on N. Workers sleep on a control word
 * (generation, program, batch, thread count) between calls. Node uses worker_threads, browsers
 * Web Workers (shared memory there needs a cross-origin-isolated page).
 */
import { fail, instantiate, isInt, isObject, KilnError, readManifest } from "./core.js";
import type { Checker, Manifest, TrainingPart } from "./manifest.js";
import { bad, show } from "./part-checks.js";

/**
 * Runs in each worker: instantiate, then serve calls until told to stop (program −1). During a
 * call it adds up how long it slept at each barrier (k: the barrier's ordinal) for the balancer,
 * then marks its report with the call's generation.
 */
const SERVE = `function serve(mod, memory, tid, ctl, names, stats, K, fault) {
  const words = new Int32Array(memory.buffer);
  const seq = new Int32Array(stats, 0, 64), slept = new Float64Array(stats, 256 + tid * K * 8, K);
  const trapped = new Int32Array(fault, 0, 1), text = new Uint8Array(fault, 4);
  const wait32 = (addr, expected, k) => { const t = performance.now(); Atomics.wait(words, addr >>> 2, expected); slept[k] += performance.now() - t; };
  const inst = new WebAssembly.Instance(mod, { env: { memory, wait32, passed() {} } });
  const c = new Int32Array(memory.buffer, ctl, 4);
  let gen = Atomics.load(c, 0);
  return () => {
    for (;;) {
      // Spin a little before sleeping: a worker woken from sleep starts 0.1-0.2 ms late here, and
      // a training loop calls again within that time (the caller's thread waits for us at the
      // program's first barrier).
      const until = performance.now() + 0.3;
      while (Atomics.load(c, 0) === gen && performance.now() < until);
      Atomics.wait(c, 0, gen);
      gen = Atomics.load(c, 0);
      const p = Atomics.load(c, 1);
      if (p < 0) return;
      slept.fill(0);
      try {
        inst.exports[names[p]](Atomics.load(c, 2), tid, Atomics.load(c, 3));
      } catch (e) {
        // A trap: say which thread and why (thread 0 checks at every barrier wait, and throws),
        // then stop serving: this thread is out of step with the program now.
        if (Atomics.compareExchange(trapped, 0, 0, tid) === 0) text.set(new TextEncoder().encode(String((e && e.message) || e)).subarray(0, text.length - 1));
        return;
      }
      Atomics.store(seq, tid, gen);
    }
  };
}`;

const NODE_WORKER = `${SERVE}
import("node:worker_threads").then(({ workerData: d, parentPort }) => {
  const loop = serve(d.mod, d.memory, d.tid, d.ctl, d.names, d.stats, d.K, d.fault);
  parentPort.postMessage("ready");
  loop();
});`;

const WEB_WORKER = `${SERVE}
self.onmessage = (e) => { const d = e.data; const loop = serve(d.mod, d.memory, d.tid, d.ctl, d.names, d.stats, d.K, d.fault); postMessage("ready"); loop(); };`;

/**
 * Checks a thread count against the module and picks the build to run: the threaded one, or,
 * where shared memory cannot work here, the single-threaded build it carries (warning once), its
 * manifest read as readManifest reads it (`training`: with the training part).
 */
export async function chooseBuild(mod: WebAssembly.Module, manifest: Manifest, threads: number, training?: TrainingPart): Promise<{ mod: WebAssembly.Module; manifest: Manifest }> {
  const fail = (message: string): never => {
    throw new KilnError({ code: "load", path: "threads", message });
  };
  if (!Number.isInteger(threads) || threads < 1) fail(`threads: expected a positive integer, got ${String(threads)}`);
  if (threads > 1 && !manifest.threads) fail(`threads: ${threads} needs a module compiled with --threads ${threads} (this one is single-threaded)`);
  if (threads > (manifest.maxThreads ?? 1)) fail(`threads: this module was compiled for at most ${manifest.maxThreads} threads, got ${threads}`);
  const why = noSharedMemory(threads);
  if (!why) return { mod, manifest };
  if (!warned) console.warn(`kiln: running single-threaded: ${why}`);
  warned = true;
  const plain = WebAssembly.Module.customSections(mod, "kiln.fallback")[0];
  if (!plain) fail(`the module needs shared memory (${why}) and carries no single-threaded build`);
  const single = await WebAssembly.compile(plain!);
  return { mod: single, manifest: await readManifest(single, training) };
}

let warned = false;

/** The most barriers any program of the module passes. */
const barrierCount = (manifest: Manifest) => Math.max(1, ...Object.values(manifest.threadSegments ?? {}).map((p) => p.barriers));

/**
 * The calling thread's side of the barriers, imported by threaded modules (see barrierSource in
 * the compiler's emit/module.ts): `wait32` sleeps (Atomics.wait) and adds up the time per
 * barrier; `passed` notes when thread 0 left each barrier.
 */
export function barrierClock(memory: WebAssembly.Memory, manifest: Manifest) {
  const words = new Int32Array(memory.buffer), K = barrierCount(manifest);
  // A worker that traps writes its thread id here (then the message, NUL-terminated).
  const fault = new SharedArrayBuffer(516);
  const trapped = new Int32Array(fault, 0, 1);
  const clock = {
    slept: new Float64Array(K),
    passedAt: new Float64Array(K),
    fault,
    /** The trap of a worker, if one trapped: an Error carrying the thread's id. */
    workerTrap(): (Error & { thread: number }) | undefined {
      const tid = Atomics.load(trapped, 0);
      if (!tid) return undefined;
      const text = new Uint8Array(fault, 4).slice();
      return Object.assign(new Error(new TextDecoder().decode(text.subarray(0, text.indexOf(0)))), { thread: tid });
    },
    wait32(addr: number, expected: number, k: number) {
      // Never asleep for long: a worker that trapped never arrives, so look for its fault between naps.
      const e = clock.workerTrap();
      if (e) throw e;
      const t = performance.now();
      Atomics.wait(words, addr >>> 2, expected, 10);
      clock.slept[k]! += performance.now() - t;
    },
    passed(k: number) {
      clock.passedAt[k] = performance.now();
    },
  };
  return clock;
}

export type BarrierClock = ReturnType<typeof barrierClock>;

/** Why shared-memory threads cannot run here, or undefined when they can. */
function noSharedMemory(threads: number): string | undefined {
  const g = globalThis as any;
  if (typeof SharedArrayBuffer === "undefined" || g.crossOriginIsolated === false) {
    return "shared memory is unavailable (serve the page with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  }
  if (threads > 1 && typeof g.document !== "undefined") return "a browser page's main thread cannot wait on a barrier (load the model in a Web Worker)";
  return undefined;
}

export interface ThreadPool {
  readonly size: number;
  /** Runs `<name>_t` on every thread; returns when all threads are done. */
  run(name: string, batch: number): void;
  /**
   * Each program's shares of the batch per thread (fractions summing to 1), adapted after every
   * call so that the threads finish together (see `rebalance`); settable, for tests.
   */
  readonly shares: Map<string, number[]>;
  /** Whether calls adapt the shares (default true; tests pin them). */
  balance: boolean;
  terminate(): void;
  /**
   * After a trap: the other threads are parked inside the aborted call and would run out of step
   * with every later call, so they stop; `stopped` then says why, for the calls that follow.
   */
  stop(trap: string): void;
  stopped?: string;
}

/**
 * New shares from one call: thread t worked busy[t] ms on shares[t] of the batch. Its speed is
 * share / busy; moving part of the way towards shares proportional to speed settles where every
 * thread works equally long. Cores of one machine differ (this machine's two vCPUs ran 25–60%
 * apart, which one varying by process); results do not depend on the split, only the time does.
 */
export function rebalance(shares: number[], busy: number[], worked: number[] = shares): number[] {
  const n = shares.length, floor = 0.1 / n;
  // `worked`: the part of the batch each thread really had (shares rounded to the split's
  // alignment). A thread that had none says nothing about its speed.
  if (worked.some((w) => w <= 0)) return shares;
  const speed = worked.map((s, t) => s / Math.max(busy[t]!, 1e-3));
  const total = speed.reduce((a, b) => a + b, 0);
  const next = shares.map((s, t) => Math.max(floor, 0.7 * s + 0.3 * (speed[t]! / total)));
  const sum = next.reduce((a, b) => a + b, 0);
  return next.map((s) => s / sum);
}

/**
 * Each thread's working time in one call, over the segments between barriers that split only by
 * examples (the manifest's `threadSegments[program].batch`; all segments where there are none):
 * a segment lasts from thread 0 leaving the barrier before it to leaving its own, minus what the
 * thread slept there. Column parts are split evenly whatever the shares, so they are left out.
 */
export function busyTimes(segments: { barriers: number; batch: number[] } | undefined, start: number, passedAt: ArrayLike<number>, slept: ArrayLike<number>[]): number[] {
  const K = segments?.barriers ?? 0;
  const ks = segments?.batch.length ? segments.batch : Array.from({ length: K }, (_, k) => k);
  return slept.map((w) => ks.reduce((sum, k) => sum + (passedAt[k]! - (k ? passedAt[k - 1]! : start)) - w[k]!, 0));
}

/**
 * Where each thread's examples start: splits[t] = batch · Σ shares[0..t) rounded to a multiple of
 * `align` (a filter gradient's chunk: a thread's partials are whole chunks), splits[n] = batch.
 */
export function splitPoints(shares: number[], batch: number, align = 1): number[] {
  let acc = 0;
  return [0, ...shares.map((s, t) => (t === shares.length - 1 ? batch : Math.min(batch, align * Math.round((batch * (acc += s)) / align))))];
}

interface Handle {
  terminate(): unknown;
}

/**
 * Instantiates a threaded module over shared memory with the barrier clock, checks the thread
 * count it was built for, and starts `threads` − 1 workers when more than one thread is asked for.
 */
export async function startShared(mod: WebAssembly.Module, manifest: Manifest, threads: number, abort: (...args: number[]) => never) {
  let clock!: BarrierClock;
  const { memory, instance } = await instantiate(mod, manifest.memory.pages, true, (memory) => {
    clock = barrierClock(memory, manifest);
    return { abort, wait32: clock.wait32, passed: clock.passed };
  });
  const built = (instance.exports.kiln_threads as WebAssembly.Global | undefined)?.value;
  if (built !== manifest.maxThreads) fail("load", "", `the manifest says maxThreads ${manifest.maxThreads} but the module was built for ${built ?? "an unknown number of"} threads (rebuild it with this kiln)`);
  const pool = threads > 1 ? await startThreads(mod, memory, instance.exports, threads, manifest, clock) : undefined;
  return { memory, instance, pool };
}

export async function startThreads(mod: WebAssembly.Module, memory: WebAssembly.Memory, exports: WebAssembly.Exports, n: number, manifest: Manifest, clock: BarrierClock): Promise<ThreadPool> {
  const ctl = manifest.threadControl!, splitAt = manifest.threadSplits!;
  // The manifest's thread fields were checked with the manifest (checkThreads, below).
  const alignOf = (name: string) => manifest.threadSegments?.[name]?.align ?? 1;
  // Worker reports: the call generation each belongs to (i32 per thread), then each thread's
  // sleep per barrier (f64[K] per thread).
  const K = barrierCount(manifest);
  const stats = new SharedArrayBuffer(256 + n * K * 8);
  const seq = new Int32Array(stats, 0, 64);
  const slept = Array.from({ length: n }, (_, t) => (t ? new Float64Array(stats, 256 + t * K * 8, K) : clock.slept));
  const names = WebAssembly.Module.exports(mod).map((e) => e.name).filter((e) => e.endsWith("_t"));
  const c = new Int32Array(memory.buffer, ctl, 4);
  const workers: Handle[] = [];
  const ready: Promise<unknown>[] = [];
  const isNode = typeof process !== "undefined" && !!process.versions?.node && typeof (globalThis as any).window === "undefined";
  // Browsers: one Blob URL for all workers, revoked once they have started (it would live as long
  // as the page otherwise). A failed start rejects with a readable Error, not an ErrorEvent.
  const url = isNode ? "" : URL.createObjectURL(new Blob([WEB_WORKER], { type: "text/javascript" }));
  const failed = (e: any) => new KilnError({ code: "load", path: "threads", message: `a thread worker failed to start: ${e?.message || "the browser refused the Web Worker (a Content-Security-Policy without worker-src blob:?)"}` });
  try {
    for (let tid = 1; tid < n; tid++) {
      const data = { mod, memory, tid, ctl, names, stats, K, fault: clock.fault };
      if (isNode) {
        const { Worker } = await import(/* @vite-ignore */ "node:worker_threads" as string);
        const w = new Worker(NODE_WORKER, { eval: true, workerData: data });
        workers.push(w);
        ready.push(new Promise((resolve, reject) => { w.once("message", resolve); w.once("error", (e: unknown) => reject(failed(e))); }));
      } else {
        const w = new Worker(url);
        workers.push(w);
        ready.push(new Promise((resolve, reject) => { w.onmessage = resolve; w.onerror = (e) => reject(failed(e)); }));
        w.postMessage(data);
      }
    }
    await Promise.all(ready);
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    if (url) URL.revokeObjectURL(url);
  }
  const splits = new Int32Array(memory.buffer, splitAt, n + 1);
  const shares = new Map<string, number[]>();
  // The last call, whose worker reports are read at the start of the next (a worker writes its
  // report just after the call's final barrier, when the caller may already be on its way).
  let last: { name: string; gen: number; start: number; worked: number[] } | undefined;
  let ended = -Infinity;
  const pool: ThreadPool = {
    size: n,
    shares,
    balance: true,
    run(name, batch) {
      const fn = exports[`${name}_t`] as (batch: number, tid: number, nt: number) => void;
      const gen = Atomics.load(c, 0) + 1;
      if (pool.balance && last && Array.from({ length: n - 1 }, (_, i) => Atomics.load(seq, i + 1) === last!.gen).every(Boolean)) {
        const s = shares.get(last.name);
        if (s) shares.set(last.name, rebalance(s, busyTimes(manifest.threadSegments?.[last.name], last.start, clock.passedAt, slept), last.worked));
      }
      const share = shares.get(name) ?? Array.from({ length: n }, () => 1 / n);
      shares.set(name, share);
      const at = splitPoints(share, batch, alignOf(name));
      splits.set(at);
      Atomics.store(c, 1, names.indexOf(`${name}_t`));
      Atomics.store(c, 2, batch);
      Atomics.store(c, 3, n);
      Atomics.store(c, 0, gen);
      Atomics.notify(c, 0);
      clock.slept.fill(0);
      const start = performance.now();
      try {
        fn(batch, 0, n);
      } catch (e) {
        throw clock.workerTrap() ?? Object.assign(e as Error, { thread: 0 }); // the first thread to trap is the one to blame
      }
      const late = clock.workerTrap(); // a worker that trapped after thread 0's last barrier
      if (late) throw late;
      // Tiny calls measure nothing but noise, and the first call after a pause runs on cold caches
      // and a worker just woken (its cores may have idled): no rebalancing from them.
      last = batch >= 2 * n && start - ended < 20 ? { name, gen, start, worked: share.map((_, t) => (at[t + 1]! - at[t]!) / batch) } : undefined;
      ended = performance.now();
    },
    stop(trap) {
      pool.stopped = `the model's threads stopped after an earlier trap (${trap}); load the model again`;
      pool.terminate();
    },
    terminate() {
      Atomics.store(c, 1, -1);
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      for (const w of workers) w.terminate();
    },
  };
  return pool;
}

/** The manifest's thread part (manifest.ts checks the rest): the thread count, control words and each program's barrier count (the runtime sizes per-thread buffers by it). */
export function checkThreads(m: Manifest, c: Checker): void {
  const n = m.maxThreads;
  if (!isInt(n, 1, 64)) bad(`maxThreads must be an integer in [1, 64], got ${show(n)}`);
  c.region("threadControl", m.threadControl, 16);
  c.region("threadSplits", m.threadSplits, 4 * (n + 1));
  if (m.kernels?.threadProgress !== undefined) c.region("kernels.threadProgress", m.kernels.threadProgress, 4 * n);
  if (!isObject(m.threadSegments)) bad("threadSegments must be an object");
  for (const [name, p] of Object.entries(m.threadSegments)) {
    // A program passes at most one barrier per kernel call.
    const most = Math.min(65536, m.kernels?.calls?.[name]?.length ?? 65536);
    const ok = isObject(p) && isInt(p.barriers, 0, most) && Array.isArray(p.batch) && p.batch.every((b) => isInt(b, 0, p.barriers - 1)) && (p.align === undefined || isInt(p.align, 1));
    if (!ok) bad(`threadSegments.${name}: expected barriers (an integer ≤ ${most}), batch (barrier indices) and align (a positive integer), got ${show(p)}`);
  }
}
