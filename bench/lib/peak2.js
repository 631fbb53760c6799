/**
 * The machine's own two-thread scaling, for the two-thread rows: the peak probe's loop (peak.js,
 * a register-only f32x4 multiply-add stream: no memory traffic, no sharing, no barriers) on this
 * thread and on a worker thread at the same time, each doing a one-thread step's work. Whatever
 * makes two such loops slower than one — two vCPUs that the host runs on the two hardware threads
 * of one core (which share the core's floating-point pipes), a busy neighbour — slows any
 * two-thread program as much, so kiln's two-thread ratio is shown beside this one measured in the
 * same rounds (an indicator of the machine then, not an exact bound: kiln's steps are longer and
 * meet other moments of a machine whose capacity changes by the minute). `step()` runs both loops
 * and returns when both are done.
 */
import { Worker } from "node:worker_threads";

const WORKER = `
const { parentPort, workerData: { mod, fn, args, ctl } } = require("node:worker_threads");
const memory = new WebAssembly.Memory({ initial: 1 });
const f = new Float32Array(memory.buffer);
for (let i = 0; i < f.length; i++) f[i] = 1e-3 * ((i % 7) - 3);
const run = new WebAssembly.Instance(mod, { env: { memory, abort() { throw new Error("abort"); } } }).exports[fn];
const c = new Int32Array(ctl);
let gen = 0, sink = 0;
parentPort.postMessage("ready");
for (;;) {
  // Spin a little before sleeping, as kiln's workers do between calls: back-to-back steps then
  // never wait for a sleeping vCPU to wake (a latency this probe is not about).
  const until = performance.now() + 0.3;
  while (Atomics.load(c, 0) === gen && performance.now() < until);
  Atomics.wait(c, 0, gen);
  gen = Atomics.load(c, 0);
  if (Atomics.load(c, 1) < 0) break;
  sink += run(...args);
  Atomics.store(c, 2, gen);
  Atomics.notify(c, 2);
}
parentPort.postMessage(sink);
`;

/** `probe`: a peakProbe() result (its module, fastest variant and arguments). */
export async function twoThreadPeak(probe) {
  const ctl = new SharedArrayBuffer(12), c = new Int32Array(ctl);
  const w = new Worker(WORKER, { eval: true, workerData: { mod: probe.module, fn: probe.fn, args: probe.args, ctl } });
  await new Promise((resolve, reject) => { w.once("message", resolve); w.once("error", reject); });
  w.unref();
  return {
    flops: 2 * probe.flops,
    step() {
      const gen = Atomics.add(c, 0, 1) + 1;
      Atomics.notify(c, 0);
      probe.step();
      while (Atomics.load(c, 2) !== gen) Atomics.wait(c, 2, Atomics.load(c, 2), 100);
    },
    dispose() {
      Atomics.store(c, 1, -1);
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      return w.terminate();
    },
  };
}
