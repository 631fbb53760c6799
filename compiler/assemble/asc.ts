/**
 * Build stage: AssemblyScript source → validated WebAssembly bytes (+ the kiln.manifest section).
 * asc compiles in memory (nothing on disk); binaryen validates the module and adds the custom
 * section. Compiled modules are cached by source hash within a process, so test suites that
 * compile the same kernels many times pay once.
 */
import { createHash } from "node:crypto";
import binaryen from "binaryen";

export interface AscOptions {
  /** asc optimize level; the test suite uses 0 (kernels run about as fast, compiles 5× faster). */
  optimizeLevel?: 0 | 1 | 2 | 3;
  /** Compile with shared, imported memory and atomics (the threaded build). */
  threads?: boolean;
  /** Emit relaxed-SIMD instructions (f32x4.relaxed_madd) where the source uses them. */
  relaxedSimd?: boolean;
  /** Initial memory pages the module declares (the runtime provides at least this many). */
  initialPages: number;
  maximumPages?: number;
}

const cache = new Map<string, Uint8Array>();
let ascModule: typeof import("assemblyscript/asc") | undefined;

export async function compileAssemblyScript(source: string, opts: AscOptions): Promise<Uint8Array> {
  const key = createHash("sha256").update(JSON.stringify(opts)).update(source).digest("hex");
  const hit = cache.get(key);
  if (hit) return hit;
  ascModule ??= await import("assemblyscript/asc");
  const asc = ascModule.default ?? ascModule;
  const features = ["simd", ...(opts.relaxedSimd ? ["relaxed-simd"] : []), ...(opts.threads ? ["threads"] : [])];
  const args = [
    "kernels.ts", "--outFile", "kernels.wasm",
    "-O" + (opts.optimizeLevel ?? 3), "--runtime", "stub", "--noAssert", "--use", "abort=",
    "--importMemory", "--initialMemory", String(opts.initialPages),
    "--enable", features.join(","),
  ];
  if (opts.maximumPages !== undefined) args.push("--maximumMemory", String(opts.maximumPages));
  if (opts.threads) args.push("--sharedMemory");
  const outputs: Record<string, Uint8Array | string> = {};
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(args, {
    readFile: (name: string) => (name === "kernels.ts" ? source : null),
    writeFile: (name: string, contents: Uint8Array | string) => { outputs[name] = contents; },
    listFiles: () => [],
    stderr,
  });
  if (error) {
    throw new Error(`internal: the generated AssemblyScript did not compile (a kiln bug):\n${stderr.toString()}\n${error.message}`);
  }
  const wasm = outputs["kernels.wasm"];
  if (!(wasm instanceof Uint8Array)) throw new Error("internal: asc produced no binary");
  cache.set(key, wasm);
  return wasm;
}

const F = binaryen.Features;
const EMITTED_FEATURES = F.MVP | F.Atomics | F.MutableGlobals | F.NontrappingFPToInt | F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.SignExt | F.RelaxedSIMD;

/** Validates with binaryen and appends custom sections; returns the final module bytes. */
export function finishModule(wasm: Uint8Array, sections: Record<string, Uint8Array>): Uint8Array<ArrayBuffer> {
  const mod = binaryen.readBinary(wasm);
  try {
    // What asc may emit, and no more: with Features.All binaryen writes newer encodings (its
    // compact import section once a module imports a function besides its memory) that V8 11.3
    // (Node 20) rejects.
    mod.setFeatures(EMITTED_FEATURES);
    if (!mod.validate()) throw new Error("internal: binaryen rejected the generated module (a kiln bug)");
    for (const [name, bytes] of Object.entries(sections)) mod.addCustomSection(name, bytes);
    // A fresh ArrayBuffer-backed copy: usable anywhere a BufferSource is (WebAssembly.Module, fetch).
    return new Uint8Array(mod.emitBinary());
  } finally {
    mod.dispose();
  }
}
