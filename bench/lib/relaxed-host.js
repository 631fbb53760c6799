/**
 * Relaxed SIMD for the benchmark process. kiln's relaxed-SIMD build (`f32x4.relaxed_madd`) runs
 * where the host validates relaxed SIMD: Chrome 114+ and Node 22+ by default, Node 20 (V8 11.3)
 * only when started with --experimental-wasm-relaxed-simd. Where it does not validate, importing
 * this module re-executes the same command with that flag and exits with the child's status.
 *
 * It must be bench/run.js's FIRST import: the re-execution is synchronous (spawnSync), so the
 * parent exits before any other bench module (TF.js, ORT-web, the compiler) is even loaded.
 * Why re-execute rather than put the flag in package.json's script: `node bench/run.js` and the
 * smoke run `BENCH_QUICK=1 node bench/run.js` get it too, and a Node that already validates
 * relaxed SIMD is never handed a flag it may no longer know. Why not v8.setFlagsFromString: Node
 * documents flags changed after the VM started as unpredictable, and a benchmark should not rest
 * on that. The flag only lets V8 accept relaxed-SIMD instructions; the peers' binaries contain
 * none (bench/README.md), so what they run is unchanged.
 */
import { spawnSync } from "node:child_process";
import { capabilities } from "../../dist/runtime/index.js";

export const RELAXED_FLAG = "--experimental-wasm-relaxed-simd";
/** Set in the re-executed child, so a flag that does not help cannot start a loop. */
const REEXECUTED = "KILN_BENCH_RELAXED_REEXEC";

if (!capabilities().relaxedSimd && !process.env[REEXECUTED]) {
  const args = [...process.execArgv, RELAXED_FLAG, ...process.argv.slice(1)];
  const child = spawnSync(process.execPath, args, { stdio: "inherit", env: { ...process.env, [REEXECUTED]: "1" } });
  if (child.error) throw child.error;
  if (child.signal) process.kill(process.pid, child.signal);
  process.exit(child.status ?? 1);
}

/**
 * What this process runs: whether relaxed SIMD validates (the runtime's own probe, the one
 * loadModel decides by) and the Node flag it took, if any (recorded in the results).
 */
export const relaxedHost = {
  validates: capabilities().relaxedSimd,
  flag: process.execArgv.includes(RELAXED_FLAG) ? RELAXED_FLAG : undefined,
};
