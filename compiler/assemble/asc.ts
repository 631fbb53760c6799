/**
 * Build stage: AssemblyScript source → validated WebAssembly bytes (+ the kiln.manifest section).
 * asc compiles in memory (nothing on disk); binaryen validates the module and kiln appends the custom
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

/**
 * Validates with binaryen and appends custom sections; returns the final module bytes. The sections
 * are appended here rather than through binaryen's addCustomSection, which fails ("offset is out of
 * bounds") on a section of 8 MB or more — embedded weights of a published MobileNetV2 are 9 MB.
 */
export function finishModule(wasm: Uint8Array, sections: Record<string, Uint8Array>): Uint8Array<ArrayBuffer> {
  const mod = binaryen.readBinary(wasm);
  let validated: Uint8Array;
  try {
    // What asc may emit, and no more: with Features.All binaryen writes newer encodings (its
    // compact import section once a module imports a function besides its memory) that V8 11.3
    // (Node 20) rejects.
    mod.setFeatures(EMITTED_FEATURES);
    if (!mod.validate()) throw new Error("internal: binaryen rejected the generated module (a kiln bug)");
    validated = mod.emitBinary();
  } finally {
    mod.dispose();
  }
  const parts = [validated, ...Object.entries(sections).map(([name, bytes]) => customSection(name, bytes))];
  // A fresh ArrayBuffer-backed copy: usable anywhere a BufferSource is (WebAssembly.Module, fetch).
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** A WebAssembly custom section (id 0, size, name, bytes); valid anywhere after the header, so at the end. */
function customSection(name: string, bytes: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const nameLength = leb128(nameBytes.length);
  const payload = nameLength.length + nameBytes.length + bytes.length;
  const size = leb128(payload);
  const out = new Uint8Array(1 + size.length + payload);
  out.set(size, 1);
  out.set(nameLength, 1 + size.length);
  out.set(nameBytes, 1 + size.length + nameLength.length);
  out.set(bytes, 1 + size.length + nameLength.length + nameBytes.length);
  return out;
}

function leb128(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}
