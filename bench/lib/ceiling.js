/**
 * The physical ceiling of f32x4 wasm SIMD on one core, measured in the same run as the workloads:
 *
 *   ceiling (FLOP/s) = 4 lanes × M multiply-adds per cycle × 2 FLOP per multiply-add × clock
 *
 * - 4 lanes: a 128-bit wasm SIMD op holds 4 f32 (V8 emits one 128-bit x86 instruction for it).
 * - M: how many f32x4 multiply-adds one core can start per cycle, from its floating-point pipes
 *   (`fpPipes`). Plain wasm SIMD has no fused multiply-add, so a multiply-add is an f32x4.mul plus
 *   an f32x4.add: M = min(pipes that multiply, pipes that add, shared pipes counted once). AMD Zen
 *   (1 to 5) has two pipes that multiply or FMA (FP0, FP1) and two that add (FP2, FP3): M = 2. The
 *   relaxed-SIMD build's f32x4.relaxed_madd becomes one vfmadd: M = the FMA pipes = 2 on Zen.
 *   So on Zen both builds have the same ceiling, 16 FLOP per cycle.
 * - 2 FLOP: a multiply-add counts as 1 multiply + 1 add, fused or not (the convention of the
 *   workloads' FLOP counts, `graphs.js`).
 * - clock: measured, not read from a table: a wasm loop of dependent i32.add instructions (each
 *   needs the previous one's result; an integer add has a latency of 1 cycle on current x86 and
 *   Arm cores, so the chain advances one add per cycle) runs `adds` adds; adds ÷ time is the clock
 *   the core ran at, boost included. /proc/cpuinfo's "cpu MHz" is printed beside it as a cross-check
 *   (in a VM it is the nominal TSC frequency, not the boost clock the core runs at).
 *
 * No probe loop is a ceiling: kiln's matmul beat the best mul+add probe loop (104%, 2026-12-02).
 */
import { readFileSync } from "node:fs";

/** Dependent adds per loop iteration: the loop's own counter and branch run beside them on other ALUs. */
const CHAIN = 128;

/** The probe module, encoded by hand (no compiler, no optimizer that could fold the chain). */
function clockModule() {
  const uleb = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; };
  const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
  const vec = (items) => [...uleb(items.length), ...items.flat()];
  const name = (s) => [...uleb(s.length), ...Buffer.from(s)];
  // (func (export "spin") (param $n i32) (param $y i32) (result i32) (local $x i32)
  //   (loop  x = x + y  ×CHAIN ;; n = n - 1 ;; br_if n)  x)
  const body = [
    1, 1, 0x7f, // one i32 local: $x (index 2)
    0x03, 0x40, // loop (no result)
    ...Array.from({ length: CHAIN }, () => [0x20, 2, 0x20, 1, 0x6a, 0x21, 2]).flat(), // local.get x, local.get y, i32.add, local.set x
    0x20, 0, 0x41, 1, 0x6b, 0x22, 0, // n = n - 1 (local.tee)
    0x0d, 0, // br_if 0 while n ≠ 0
    0x0b, // end loop
    0x20, 2, // return x
    0x0b,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 2, 0x7f, 0x7f, 1, 0x7f]])), // type (i32, i32) → i32
    ...section(3, vec([[0]])), // one function of type 0
    ...section(7, vec([[...name("spin"), 0, 0]])), // export it
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

const CALIBRATION_ROUNDS = 8;

/**
 * The clock probe: a step of about `cycles` dependent adds (for the workloads' round-robin rounds)
 * and its calibration (best of 8 CPU-timed runs, after one untimed run for V8's optimizing tier).
 */
export async function clockProbe(cycles) {
  const { instance } = await WebAssembly.instantiate(clockModule());
  const spin = instance.exports.spin;
  const iterations = Math.max(1, Math.round(cycles / CHAIN));
  let sink = 0;
  const step = () => { sink ^= spin(iterations, 3); };
  step();
  let best = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < CALIBRATION_ROUNDS; r++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    step();
    const wall = performance.now() - t0, c = process.cpuUsage(c0);
    best = { wall: Math.min(best.wall, wall), cpu: Math.min(best.cpu, (c.user + c.system) / 1000) };
  }
  const adds = iterations * CHAIN;
  return { step, adds, calibration: { wallGHz: adds / best.wall / 1e6, cpuGHz: adds / best.cpu / 1e6 }, sink: () => sink };
}

/** /proc/cpuinfo's "cpu MHz" of every core (Linux), or undefined. */
export function cpuinfoMHz() {
  try {
    const mhz = [...readFileSync("/proc/cpuinfo", "utf8").matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => Number(m[1]));
    return mhz.length ? mhz : undefined;
  } catch {
    return undefined;
  }
}

/** vendor_id, cpu family and model from /proc/cpuinfo (Linux), or {}. */
function cpuId() {
  try {
    const text = readFileSync("/proc/cpuinfo", "utf8");
    const field = (name) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(text)?.[1]?.trim();
    return { vendor: field("vendor_id"), family: Number(field("cpu family")), model: Number(field("model")) };
  } catch {
    return {};
  }
}

/**
 * f32x4 multiply-adds per cycle for each build on this core, and why. Known: AMD Zen (family
 * 0x17 and up: 2 FMA/multiply pipes + 2 add pipes) and Intel cores since Haswell (2 ports that
 * each multiply, add or FMA: a mul + add pair takes both, so 1 pair per cycle; 2 FMAs). Anything
 * else is assumed to be Zen-like and said so (assuming more pipes keeps it a ceiling).
 */
export function fpPipes(id = cpuId()) {
  if (id.vendor === "AuthenticAMD" && id.family >= 0x17) {
    return { plain: 2, relaxed: 2, known: true, why: `AMD Zen (family ${id.family}, model ${id.model}): 2 pipes multiply or FMA (FP0, FP1), 2 pipes add (FP2, FP3): 2 f32x4 mul + 2 f32x4 add per cycle (plain), or 2 FMAs (relaxed)` };
  }
  if (id.vendor === "GenuineIntel" && id.family === 6) {
    return { plain: 1, relaxed: 2, known: true, why: `Intel (family 6, model ${id.model}), assumed Haswell or later: ports 0 and 1 each multiply, add or FMA: 1 mul + 1 add per cycle (plain), or 2 FMAs (relaxed)` };
  }
  return { plain: 2, relaxed: 2, known: false, why: `unknown core (${id.vendor ?? "no /proc/cpuinfo"}): assumed 2 multiply-adds per cycle for both builds (as on AMD Zen)` };
}

/** FLOP per cycle of one core for a build ("plain" or "relaxed"): 4 lanes × multiply-adds per cycle × 2. */
export function flopsPerCycle(pipes, build) {
  return 4 * pipes[build] * 2;
}
