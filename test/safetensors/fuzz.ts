/**
 * Seeded fuzzing of the safetensors reader. Valid files from the writer are mutated (bit flips,
 * truncation, length-prefix edits, header edits of offsets/shapes/dtypes/fields/keys, raw token
 * swaps, duplicate keys, bad UTF-8, deep nesting, consistent reorders). Every case must either
 * throw a KilnError or return exactly what an independent oracle (JSON.parse + the offsets) reads.
 * Run alone: `npx vite-node test/safetensors/fuzz.ts [cases] [seed]` (default 20,000 cases).
 */

import { KilnError } from "../../runtime/errors.js";
import { readSafetensors, writeSafetensors, type ReadOptions, type StDType, type StFile, type StWriteTensor } from "../../runtime/safetensors.js";

export interface FuzzResult {
  cases: number;
  accepted: number;
  rejected: number;
  /** Exceptions other than KilnError: must stay empty. */
  crashes: string[];
  /** Accepted files whose result differs from the oracle, or malformed errors: must stay empty. */
  violations: string[];
  /** Cases slower than HANG_MS (reported, not asserted: timings vary by machine). */
  hangs: number;
  slowestMs: number;
  byMutation: Record<string, { accepted: number; rejected: number }>;
}

const HANG_MS = 2000;
const DTYPES: StDType[] = ["F32", "I32", "F64", "I64", "F16", "BF16", "U8", "I8", "I16", "U16", "BOOL", "U32", "U64"];
const SIZE: Record<string, number> = { F32: 4, I32: 4, F64: 8, I64: 8, F16: 2, BF16: 2, U8: 1, I8: 1, I16: 2, U16: 2, BOOL: 1, U32: 4, U64: 8 };
const NAMES = ["w", "dense/kernel", "dense/bias", 'q"uote', "back\\slash", "é", "😀", "", "x.y", "optimizer/step", "n".repeat(100), "__proto__", "\u0001", "L".repeat(5000)];

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32), one stream per case so any case can be replayed alone.

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus: valid files with a spread of dtypes, shapes (scalars, empty), names and metadata.

function randomTensor(rng: Rng): StWriteTensor {
  const dtype = rng.pick(DTYPES);
  const shape = Array.from({ length: rng.int(4) }, () => rng.int(4));
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(count * SIZE[dtype]).map(() => rng.int(256));
  return { dtype, shape, data };
}

export function buildCorpus(rng: Rng, size = 32): Uint8Array[] {
  const corpus: Uint8Array[] = [];
  for (let k = 0; k < size; k++) {
    const tensors = new Map<string, StWriteTensor>();
    const count = rng.int(6);
    for (let t = 0; t < count; t++) tensors.set(rng.chance(0.5) ? rng.pick(NAMES) : `t${t}`, randomTensor(rng));
    const metadata = rng.chance(0.3) ? { format: "kiln", note: rng.pick(NAMES) } : undefined;
    corpus.push(writeSafetensors(tensors, metadata));
  }
  return corpus;
}

// ---------------------------------------------------------------------------------------------
// File surgery

interface Parts {
  header: string;
  data: Uint8Array;
}

function split(file: Uint8Array): Parts {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return { header: new TextDecoder().decode(file.subarray(8, 8 + n)), data: file.subarray(8 + n) };
}

function join(header: string | Uint8Array, data: Uint8Array): Uint8Array {
  const head = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

function spliceBytes(a: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length - remove + insert.length);
  out.set(a.subarray(0, at));
  out.set(insert, at);
  out.set(a.subarray(at + remove), at + insert.length);
  return out;
}

// Raw JSON texts that JSON.stringify would never produce, for token swaps.
const WEIRD_TOKENS = [
  "-1", "1.5", "1e3", "2E0", "-0", "00", "01", "0x10", "+1", ".5", "1.", "9007199254740991", "9007199254740992",
  "9007199254740993", "18446744073709551615", "18446744073709551616", "1e400", "NaN", "Infinity", "-Infinity",
  "1".repeat(400), "[]", "{}", "null", "true", "false", '"F32"', '"I32"', '"\\ud800"', '"\\u0000"', '"', "[0,", "}", "",
  "[[[[[[[[1]]]]]]]]", '{"a":{"b":{"c":[1]}}}', "[0,0,0]", "[0]", "[1,2]",
];
const BAD_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xef, 0xbb, 0xbf]];
const INTERESTING_BYTES = [0x00, 0xff, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x2d, 0x2e, 0x65, 0x30, 0x39, 0x20, 0x5c, 0x0a, 0x80];
const INTERESTING_NUMBERS = [0, 1, 2, 3, 4, 7, 8, -1, -8, 1.5, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e300, -0];

/** `mustReject`: the edit makes the file invalid whatever else it holds (checked unless stacked). */
type Mutation = (rng: Rng, file: Uint8Array) => { file: Uint8Array; opts?: ReadOptions; mustReject?: boolean };

const byteMutations: Record<string, Mutation> = {
  bitflip: (rng, f) => {
    const out = f.slice();
    for (let k = 1 + rng.int(4); k > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return { file: out };
  },
  byteset: (rng, f) => {
    const out = f.slice();
    for (let k = 1 + rng.int(3); k > 0; k--) out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
    return { file: out };
  },
  truncate: (rng, f) => ({ file: f.slice(0, rng.int(f.length)) }),
  extend: (rng, f) => ({ file: spliceBytes(f, f.length, 0, new Uint8Array(1 + rng.int(16)).map(() => rng.int(256))) }),
  lengthField: (rng, f) => {
    if (f.length < 8) return { file: f };
    const out = f.slice();
    const n = new DataView(out.buffer).getBigUint64(0, true);
    const len = BigInt(f.length);
    const choices = [0n, 1n, 7n, n - 1n, n + 1n, n + 8n, len - 8n, len - 7n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 100_000_000n, 100_000_001n];
    const v = rng.chance(0.8) ? rng.pick(choices) : BigInt(rng.int(2 ** 30)) * BigInt(rng.int(2 ** 30) + 1);
    new DataView(out.buffer).setBigUint64(0, ((v % 2n ** 64n) + 2n ** 64n) % 2n ** 64n, true);
    return { file: out };
  },
};

const headerMutations: Record<string, Mutation> = {
  headerSplice: (rng, f) => {
    const { header, data } = split(f);
    const at = rng.int(header.length + 1);
    const len = rng.int(Math.min(12, header.length - at) + 1);
    const cut = rng.chance(0.5) ? header.slice(0, at) + header.slice(at + len) : header.slice(0, at) + header.slice(at, at + len).repeat(2) + header.slice(at + len);
    return { file: join(cut, data) };
  },
  tokenSwap: (rng, f) => {
    const { header, data } = split(f);
    // Numbers alone, or strings and whole arrays (whose numbers the second pattern swallows).
    const pattern = rng.chance(0.5) ? /(?<=[\[,])\d+(?=[\],])/g : /"(?:[^"\\]|\\.)*"|\[[^\[\]]*\]/g;
    const tokens = [...header.matchAll(pattern)];
    if (tokens.length === 0) return { file: f };
    const m = rng.pick(tokens);
    // Same value, other spelling ("8.0", "8e0", "08"): only the number's text can tell.
    const respell = /^\d+$/.test(m[0]) && rng.chance(0.3);
    const swap = respell ? rng.pick([`${m[0]}.0`, `${m[0]}e0`, `${m[0]}E+0`, `0${m[0]}`, `-${m[0]}`]) : rng.pick(WEIRD_TOKENS);
    const text = header.slice(0, m.index) + swap + header.slice(m.index! + m[0].length);
    return { file: join(text, data) };
  },
  jsonEdit: (rng, f) => {
    const { header, data } = split(f);
    const obj = JSON.parse(header) as Record<string, unknown>;
    editHeaderObject(rng, obj);
    const text = rng.chance(0.2) ? JSON.stringify(obj, null, rng.int(3)) : JSON.stringify(obj);
    const pad = rng.chance(0.5) ? " ".repeat((8 - (text.length % 8)) % 8) : "";
    return { file: join(text + pad, data) };
  },
  duplicateKey: (rng, f) => {
    const { header, data } = split(f);
    const entries = [...header.matchAll(/"(?:[^"\\]|\\.)*":\{[^{}]*\}/g)];
    if (entries.length === 0) return { file: f };
    const e = rng.pick(entries);
    const dup = rng.chance(0.5) ? e[0] : e[0].replace(/^("(?:[^"\\]|\\.)*":\{)("dtype":"[A-Z0-9]+",)/, "$1$2$2");
    const at = e.index! + e[0].length;
    return { file: join(header.slice(0, at) + "," + dup + header.slice(at), data), mustReject: true };
  },
  badUtf8: (rng, f) => {
    const { header, data } = split(f);
    const head = new TextEncoder().encode(header);
    const bad = rng.pick(BAD_UTF8);
    const mustReject = bad[0] !== 0xef; // EF BB BF is a valid BOM, fine inside a name
    return { file: join(spliceBytes(head, rng.int(head.length + 1), 0, new Uint8Array(bad)), data), mustReject };
  },
  nesting: (rng, f) => {
    const { header, data } = split(f);
    const depth = 1 + rng.int(rng.chance(0.3) ? 100_000 : 50);
    const deep = rng.chance(0.5) ? "[".repeat(depth) + "1" + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    const tokens = [...header.matchAll(/\[[^\[\]]*\]|"(?:[^"\\]|\\.)*"(?!:)/g)];
    if (tokens.length === 0) return { file: join(`{"__metadata__":${deep}}`, data) };
    const m = rng.pick(tokens);
    return { file: join(header.slice(0, m.index) + deep + header.slice(m.index! + m[0].length), data) };
  },
  validReorder: (rng, f) => {
    // Same tensors, data regions permuted and offsets rewritten to match: must still be read.
    const { header, data } = split(f);
    const obj = JSON.parse(header) as Record<string, { data_offsets: number[] } | Record<string, string>>;
    const names = Object.keys(obj).filter((k) => k !== "__metadata__");
    const order = names.slice().sort(() => rng.next() - 0.5);
    const pieces: Uint8Array[] = [];
    let at = 0;
    for (const name of order) {
      const info = obj[name] as { data_offsets: number[] };
      const piece = data.subarray(info.data_offsets[0], info.data_offsets[1]);
      info.data_offsets = [at, at + piece.length];
      at += piece.length;
      pieces.push(piece);
    }
    const out = new Uint8Array(at);
    let k = 0;
    for (const p of pieces) out.set(p, (k += p.length) - p.length);
    return { file: join(JSON.stringify(obj, null, rng.chance(0.5) ? 1 : 0), out) };
  },
  options: (rng, f) => {
    const n = Number(new DataView(f.buffer, f.byteOffset, 8).getBigUint64(0, true));
    const allowed = DTYPES.filter(() => rng.chance(0.5));
    return rng.chance(0.5) ? { file: f, opts: { allowedDtypes: allowed } } : { file: f, opts: { maxHeaderBytes: Math.max(0, n + rng.int(5) - 2) } };
  },
};

/** One structural edit of a parsed header (offsets, shapes, dtypes, fields, names, metadata). */
function editHeaderObject(rng: Rng, obj: Record<string, unknown>): void {
  const names = Object.keys(obj).filter((k) => k !== "__metadata__");
  const weird = (): unknown => rng.pick<unknown>([...INTERESTING_NUMBERS, "F32", "12", null, true, [], {}, [1, 2], { a: 1 }]);
  if (names.length === 0 || rng.chance(0.1)) {
    obj[rng.chance(0.5) ? "__metadata__" : rng.pick(NAMES)] = rng.pick<unknown>([{ a: "b" }, { a: 1 }, [], "x", null, { a: { b: "c" } }, weird()]);
    return;
  }
  const name = rng.pick(names);
  const info = obj[name] as Record<string, unknown>;
  const offsets = info.data_offsets as number[];
  const shape = info.shape as unknown[];
  switch (rng.int(9)) {
    case 0: offsets[rng.int(2)] = rng.chance(0.5) ? rng.pick(INTERESTING_NUMBERS) : offsets[rng.int(2)] + rng.int(9) - 4; break;
    case 1: if (shape.length) shape[rng.int(shape.length)] = rng.chance(0.5) ? weird() : rng.int(10); else shape.push(rng.int(3)); break;
    case 2: if (rng.chance(0.5)) shape.push(rng.pick([0, 1, 2, 2 ** 40])); else shape.pop(); break;
    case 3: info.dtype = rng.chance(0.7) ? rng.pick([...DTYPES, "F8_E4M3", "f32", "", "F32 "]) : weird(); break;
    case 4: info[rng.pick(["extra", "offset", "DTYPE"])] = weird(); break;
    case 5: delete info[rng.pick(["dtype", "shape", "data_offsets"])]; break;
    case 6: info[rng.pick(["dtype", "shape", "data_offsets"])] = weird(); break;
    case 7: delete obj[name]; obj[rng.chance(0.5) ? "__metadata__" : rng.pick(NAMES)] = info; break;
    default: {
      // Keep the byte count, change dtype and shape to match: still a valid file.
      const bytes = offsets[1] - offsets[0];
      info.dtype = "U8";
      info.shape = [bytes];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The oracle: what an accepted file must have produced.

function checkAccepted(file: Uint8Array, got: StFile, opts: ReadOptions | undefined): string | undefined {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (n > (opts?.maxHeaderBytes ?? 100_000_000) || 8 + n > file.length) return "accepted a header length out of bounds";
  const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(file.subarray(8, 8 + n));
  // JSON.parse reads 1.0 and 1e0 as 1; a safetensors header holds only plain non-negative integers.
  const numbers = text.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/[-+.\deE]+/g) ?? [];
  if (numbers.some((t) => !/^(?:0|[1-9]\d*)$/.test(t))) return "accepted a number that is not a plain integer";
  const obj = JSON.parse(text) as Record<string, any>;
  const names = Object.keys(obj).filter((k) => k !== "__metadata__");
  if (names.length !== got.tensors.size || names.some((k) => !got.tensors.has(k))) return "tensor names differ from JSON.parse";
  if (JSON.stringify(obj.__metadata__) !== JSON.stringify(got.metadata)) return "metadata differs from JSON.parse";
  let total = 0;
  for (const name of names) {
    const info = obj[name];
    const t = got.tensors.get(name)!;
    const [b, e] = info.data_offsets as number[];
    const count = (info.shape as number[]).reduce((x, y) => x * y, 1);
    if (t.dtype !== info.dtype || JSON.stringify(t.shape) !== JSON.stringify(info.shape)) return `${name}: dtype/shape differ`;
    if (opts?.allowedDtypes && !opts.allowedDtypes.includes(t.dtype)) return `${name}: dtype not allowed`;
    if (e > file.length - 8 - n || t.data.length !== e - b || t.data.length !== count * SIZE[t.dtype]) return `${name}: size/bounds`;
    if (t.data.buffer === file.buffer || t.data.byteOffset % 4 !== 0) return `${name}: data not an aligned copy`;
    const src = file.subarray(8 + n + b, 8 + n + e);
    if (src.some((v, k) => v !== t.data[k])) return `${name}: data differs from the file`;
    total += e - b;
  }
  return total === file.length - 8 - n ? undefined : "data does not cover the file exactly";
}

function checkRejected(err: KilnError): string | undefined {
  if (err.diagnostics.length === 0) return "KilnError without diagnostics";
  for (const d of err.diagnostics) {
    if (d.code !== "safetensors" || typeof d.path !== "string" || !d.message) return `malformed diagnostic ${JSON.stringify(d)}`;
    if (d.message.length > 2000 || d.path.length > 300) return `oversized message or path (${d.message.length}, ${d.path.length} chars)`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The run

export function fuzzSafetensors(cases: number, seed = 1): FuzzResult {
  const corpus = buildCorpus(new Rng(seed));
  const all = { ...byteMutations, ...headerMutations };
  const labels = Object.keys(all);
  const result: FuzzResult = { cases, accepted: 0, rejected: 0, crashes: [], violations: [], hangs: 0, slowestMs: 0, byMutation: {} };
  for (let i = 0; i < cases; i++) {
    const rng = new Rng((seed * 0x9e3779b1 + i * 0x85ebca6b) >>> 0);
    const label = labels[i % labels.length];
    let { file, opts, mustReject } = all[label](rng, rng.pick(corpus));
    // Sometimes stack a byte-level mutation on top of a structural one.
    if (label !== "validReorder" && rng.chance(0.2)) {
      file = byteMutations[rng.pick(Object.keys(byteMutations))](rng, file).file;
      mustReject = false;
    }
    // Sometimes hand it over as a Node Buffer at an odd offset, as readFileSync does.
    if (typeof Buffer !== "undefined" && rng.chance(0.2)) {
      const at = 1 + rng.int(7);
      const pooled = Buffer.alloc(file.length + at + rng.int(8)).subarray(at, at + file.length);
      pooled.set(file);
      file = pooled;
    }
    const tally = (result.byMutation[label] ??= { accepted: 0, rejected: 0 });
    const started = performance.now();
    try {
      const got = readSafetensors(file, opts);
      result.accepted++;
      tally.accepted++;
      const bad = mustReject ? "accepted a file that must be rejected" : checkAccepted(file, got, opts);
      if (bad) result.violations.push(`case ${i} (${label}): ${bad}`);
    } catch (e) {
      if (e instanceof KilnError) {
        result.rejected++;
        tally.rejected++;
        const bad = checkRejected(e);
        if (bad) result.violations.push(`case ${i} (${label}): ${bad}`);
      } else {
        result.crashes.push(`case ${i} (${label}): ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    const ms = performance.now() - started;
    result.slowestMs = Math.max(result.slowestMs, ms);
    if (ms > HANG_MS) result.hangs++;
  }
  return result;
}

function main(): void {
  const cases = Number(process.argv[2] ?? 20_000);
  const seed = Number(process.argv[3] ?? 1);
  const r = fuzzSafetensors(cases, seed);
  console.log(JSON.stringify({ ...r, crashes: r.crashes.slice(0, 5), violations: r.violations.slice(0, 5) }, null, 2));
  console.log(`cases ${r.cases}, accepted ${r.accepted}, rejected ${r.rejected}, crashes ${r.crashes.length}, violations ${r.violations.length}, hangs ${r.hangs}, slowest ${r.slowestMs.toFixed(1)} ms`);
  if (r.crashes.length || r.violations.length) process.exitCode = 1;
}

// Run directly (vite-node drops the script from argv, so its own path is what shows there).
const entry = typeof process === "undefined" ? "" : (process.argv[1] ?? "");
if (/(fuzz\.ts|vite-node)$/.test(entry) && !process.env.VITEST) main();
