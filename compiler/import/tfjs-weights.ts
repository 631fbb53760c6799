/**
 * TensorFlow.js weights: `weightsManifest` groups ({paths, weights}) whose shards, concatenated in
 * order, hold the weights back to back. Quantized weights are dequantized exactly as TF.js's
 * `decodeWeights` does (tfjs-core io_utils): uint8/uint16 `v * scale + min` computed in double
 * and stored as float32; float16 decoded bit-exactly to float32. Every size is checked against
 * the bytes present before anything is allocated.
 */
import { ImportProblems, isObject, quote } from "./problems.js";

export interface SourceWeight {
  shape: number[];
  data: Float32Array;
}

/** Most elements one weight may have (the largest kiln weight fits wasm32 memory anyway). */
const MAX_ELEMENTS = 2 ** 30;

const BYTES: Record<string, number> = Object.assign(Object.create(null), { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 });

/** Shard paths a manifest names, checked: relative, no "..", no absolute paths (they are read beside model.json). */
export function manifestPaths(manifest: unknown, where: string, problems: ImportProblems): string[][] | undefined {
  if (!Array.isArray(manifest)) {
    problems.error(where, `weightsManifest must be a list of {"paths": [...], "weights": [...]}; got ${quote(manifest)}`);
    return undefined;
  }
  const out: string[][] = [];
  for (let g = 0; g < manifest.length; g++) {
    const group = manifest[g];
    const paths = isObject(group) ? group.paths : undefined;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === "string" && safeRelative(p))) {
      problems.error(`${where}/${g}/paths`, `expected a list of shard file names relative to model.json (no "..", not absolute); got ${quote(paths)}`);
      return undefined;
    }
    out.push(paths as string[]);
  }
  return out;
}

function safeRelative(p: string): boolean {
  return p.length > 0 && p.length <= 1024 && !p.startsWith("/") && !p.includes("\\") && !p.includes("\0") && !/^[A-Za-z]:/.test(p) && !p.split("/").some((s) => s === ".." || s === "");
}

/** Decodes every weight of the manifest; shards[g][i] is the bytes of group g's i-th path. */
export function decodeManifest(manifest: unknown[], shards: Uint8Array[][], where: string, problems: ImportProblems): Map<string, SourceWeight> {
  const out = new Map<string, SourceWeight>();
  for (let g = 0; g < manifest.length; g++) {
    const group = manifest[g] as Record<string, unknown>;
    const data = concat(shards[g]!);
    const specs = group.weights;
    const p = `${where}/${g}/weights`;
    if (!Array.isArray(specs)) {
      problems.error(p, `expected a list of weight specs; got ${quote(specs)}`);
      continue;
    }
    let offset = 0;
    const skipped: string[] = [];
    for (let i = 0; i < specs.length; i++) {
      const decoded = decodeSpec(specs[i], data, offset, `${p}/${i}`, problems);
      if (!decoded) return out;
      offset += decoded.bytes;
      if (out.has(decoded.name)) {
        problems.error(`${p}/${i}/name`, `weight ${quote(decoded.name)} appears twice in the manifest`);
        return out;
      }
      if (decoded.weight) out.set(decoded.name, decoded.weight);
      else skipped.push(decoded.name);
    }
    if (skipped.length) problems.note(`weights manifest group ${g}: ${skipped.length} integer or boolean tensor(s) stepped over (not layer weights; TF.js saves optimizer state such as "iter" this way): ${skipped.slice(0, 5).map(quote).join(", ")}${skipped.length > 5 ? ", ..." : ""}`);
    if (offset < data.length) problems.note(`weights manifest group ${g}: ${data.length - offset} bytes after the last weight were not read`);
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function decodeSpec(spec: unknown, data: Uint8Array, offset: number, p: string, problems: ImportProblems): { name: string; weight: SourceWeight | undefined; bytes: number } | undefined {
  if (!isObject(spec) || typeof spec.name !== "string" || !Array.isArray(spec.shape) || typeof spec.dtype !== "string") {
    problems.error(p, `expected a weight spec {"name", "shape", "dtype"}; got ${quote(spec)}`);
    return undefined;
  }
  const name = spec.name;
  let count = 1;
  for (const d of spec.shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) {
      problems.error(`${p}/shape`, `weight ${quote(name)}: shape must be a list of non-negative integers; got ${quote(spec.shape)}`);
      return undefined;
    }
    count *= d as number;
    if (count > MAX_ELEMENTS) {
      problems.error(`${p}/shape`, `weight ${quote(name)}: shape ${quote(spec.shape)} has more than ${MAX_ELEMENTS} elements`);
      return undefined;
    }
  }
  const q = spec.quantization;
  if (spec.dtype === "int32" || spec.dtype === "bool") {
    // Not a layer weight (TF.js saves optimizer state such as "iter" with includeOptimizer): stepped over.
    const size = q === undefined ? (spec.dtype === "bool" ? 1 : 4) : isObject(q) && (q.dtype === "uint8" || q.dtype === "uint16") ? BYTES[q.dtype]! : 0;
    if (size === 0 || offset + count * size > data.length) {
      problems.error(p, `weight ${quote(name)} (${spec.dtype}) needs ${count * size} bytes at offset ${offset} of its shard group, which has only ${data.length} bytes`);
      return undefined;
    }
    return { name, weight: undefined, bytes: count * size };
  }
  if (spec.dtype !== "float32") {
    problems.error(`${p}/dtype`, `weight ${quote(name)}: dtype ${quote(spec.dtype)} is not supported; kiln weights are float32`);
    return undefined;
  }
  const stored = q === undefined ? "float32" : isObject(q) ? q.dtype : undefined;
  if (typeof stored !== "string" || !(stored === "float32" || stored === "uint8" || stored === "uint16" || stored === "float16") || (q !== undefined && stored === "float32")) {
    problems.error(`${p}/quantization`, `weight ${quote(name)}: quantization ${quote(q)} is not one TF.js writes (dtype "uint8", "uint16" or "float16")`);
    return undefined;
  }
  const bytes = count * BYTES[stored]!;
  if (offset + bytes > data.length) {
    problems.error(p, `weight ${quote(name)} needs ${bytes} bytes at offset ${offset} of its shard group, which has only ${data.length} bytes (a shard is missing or short)`);
    return undefined;
  }
  const view = new DataView(data.buffer, data.byteOffset + offset, bytes);
  const values = new Float32Array(count);
  if (stored === "float32") for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
  else if (stored === "float16") for (let i = 0; i < count; i++) values[i] = float16(view.getUint16(i * 2, true));
  else {
    const { min, scale } = q as Record<string, unknown>;
    if (typeof min !== "number" || typeof scale !== "number" || !Number.isFinite(min) || !Number.isFinite(scale)) {
      problems.error(`${p}/quantization`, `weight ${quote(name)}: ${stored} quantization needs finite numbers "min" and "scale"; got ${quote(q)}`);
      return undefined;
    }
    // As TF.js: the product and sum in double, rounded once when stored in the Float32Array.
    if (stored === "uint8") for (let i = 0; i < count; i++) values[i] = view.getUint8(i) * scale + min;
    else for (let i = 0; i < count; i++) values[i] = view.getUint16(i * 2, true) * scale + min;
  }
  return { name, weight: { shape: spec.shape as number[], data: values }, bytes };
}

/** IEEE 754 half → float32 value (exact: every half is a float32). */
export function float16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
