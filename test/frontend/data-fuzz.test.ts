/**
 * The .npy, .npz and CSV readers under mutation (as test/safetensors/fuzz.test.ts does for
 * safetensors): seeded cases from valid files — bit flips, truncation, inserted and deleted bytes,
 * header and text edits — must each return a consistent array (data length = product of the shape)
 * or throw a KilnError naming the file; nothing else (no TypeError, RangeError, hang).
 * 1,500 cases per reader by default, 15,000 with KILN_FUZZ_FULL=1.
 */
import { describe, expect, it } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { readNpy } from "../../compiler/cli/data/npy.js";
import { readNpz } from "../../compiler/cli/data/npz.js";
import { parseColumns, readCsv } from "../../compiler/cli/data/csv.js";
import { npy, npyOf, npz } from "./data-files.js";

const CASES = process.env.KILN_FUZZ_FULL === "1" ? 15_000 : 1_500;

/** mulberry32: a small seeded generator. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NPY_CORPUS = [
  npyOf(Float32Array.from({ length: 12 }, (_, i) => i / 3), [3, 4]),
  npyOf(Float64Array.from({ length: 6 }, (_, i) => -i), [6], { version: 2 }),
  npyOf(Int32Array.of(1, 2, 3, 4), [2, 2], { fortran: true }),
  npyOf(BigInt64Array.of(5n, -6n), [2]),
  npyOf(Uint8Array.of(1, 0, 1), [3, 1, 1]),
  npy(">f4", [2], Uint8Array.of(0x3f, 0x80, 0, 0, 0x40, 0, 0, 0)),
  npy("|b1", [0, 4], new Uint8Array(0)),
  npy("<f4", [], Uint8Array.of(0, 0, 0x80, 0x3f)),
];
const HEADER_EDITS: [RegExp, string][] = [
  [/'shape': \([^)]*\)/, "'shape': (99999999999, 99999999999)"], [/'<f4'|'<f8'|'<i4'|'<i8'|'\|u1'|'>f4'|'\|b1'/, "'<c16'"],
  [/False|True/, "maybe"], [/'descr'/, "'dtype'"], [/\}/, ", 'descr': '<f4'}"], [/\(/, "["], [/ /g, ""], [/'fortran_order': (True|False), /, ""],
  [/\d+/, "-1"], [/'/g, '"'], [/\n/, "\u00e9\n"],
];

type Mutation = (b: Uint8Array, r: () => number) => Uint8Array;
const pick = <T>(r: () => number, a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
const MUTATIONS: Record<string, Mutation> = {
  flip: (b, r) => { const c = b.slice(); for (let k = 0; k < 1 + r() * 4; k++) c[Math.floor(r() * c.length)] ^= 1 << Math.floor(r() * 8); return c; },
  truncate: (b, r) => b.slice(0, Math.floor(r() * b.length)),
  insert: (b, r) => { const at = Math.floor(r() * b.length); return Uint8Array.from([...b.subarray(0, at), Math.floor(r() * 256), ...b.subarray(at)]); },
  remove: (b, r) => { const at = Math.floor(r() * b.length); return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + Math.floor(r() * 8))]); },
  byte: (b, r) => { const c = b.slice(); c[Math.floor(r() * c.length)] = pick(r, [0, 0xff, 0x7f, 0x80, 0x20, 0x27, 0x28, 0x7b]); return c; },
  header: (b, r) => {
    const text = Array.from(b.subarray(0, Math.min(b.length, 128)), (x) => String.fromCharCode(x)).join("");
    const [re, to] = pick(r, HEADER_EDITS);
    const edited = text.replace(re, to);
    return Uint8Array.from([...Array.from(edited, (c) => c.charCodeAt(0) & 0xff), ...b.subarray(Math.min(b.length, 128))]);
  },
};

/** Runs `cases` mutated inputs through `read`; returns what was not a result or a KilnError, and the tally. */
function fuzz(cases: number, seed: number, corpus: Uint8Array[], read: (b: Uint8Array) => void) {
  const r = rng(seed), crashes: string[] = [];
  let accepted = 0, rejected = 0;
  for (let i = 0; i < cases; i++) {
    const name = pick(r, Object.keys(MUTATIONS));
    let b = pick(r, corpus);
    for (let k = 0; k < 1 + Math.floor(r() * 2); k++) b = MUTATIONS[k ? pick(r, Object.keys(MUTATIONS)) : name]!(b, r);
    try {
      read(b);
      accepted++;
    } catch (e) {
      if (e instanceof KilnError && e.diagnostics.every((d) => d.path && d.message)) rejected++;
      else if (crashes.length < 10) crashes.push(`case ${i} (${name}): ${(e as Error)?.stack ?? String(e)}`);
    }
  }
  return { crashes, accepted, rejected };
}

const consistent = (a: { shape: number[]; data: { length: number } }) => {
  if (a.data.length !== a.shape.reduce((p, q) => p * q, 1)) throw new Error(`inconsistent: shape [${a.shape}] with ${a.data.length} values`);
};

describe("NumPy and CSV readers under mutation", () => {
  it(`${CASES} mutated .npy files: a consistent array or a KilnError`, () => {
    const r = fuzz(CASES, 1, NPY_CORPUS, (b) => consistent(readNpy(b, "f.npy")));
    expect(r.crashes).toEqual([]);
    expect(r.accepted + r.rejected).toBe(CASES);
    expect(r.accepted).toBeGreaterThan(CASES / 50); // the mutations leave some files valid: both sides are exercised
    expect(r.rejected).toBeGreaterThan(CASES / 2);
  });

  it(`${CASES} mutated .npz archives: consistent arrays or a KilnError`, () => {
    const corpus = [npz({ a: NPY_CORPUS[0]!, b: NPY_CORPUS[3]! }), npz({ x_train: NPY_CORPUS[1]!, y: NPY_CORPUS[4]! }, true), npz({ only: NPY_CORPUS[5]! }, true)];
    const r = fuzz(CASES, 2, corpus, (b) => readNpz(b, "f.npz").forEach(consistent));
    expect(r.crashes).toEqual([]);
    expect(r.accepted).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(CASES / 2);
  });

  it(`${CASES} mutated CSV files: arrays of the mapped shape or a KilnError`, () => {
    const slots = [{ name: "x", shape: [3] }, { name: "label", shape: [] }];
    const columns = parseColumns(["x=a:c"]);
    const text = 'a,b,c,label\n1,2.5,-3e-2,0\n4,5,6,1\n"7",8,.9,2\n';
    const corpus = [new TextEncoder().encode(text), new TextEncoder().encode("\ufeff" + text.replace(/\n/g, "\r\n"))];
    const r = fuzz(CASES, 3, corpus, (b) => {
      for (const [name, a] of readCsv(new TextDecoder().decode(b), "f.csv", slots, columns)) {
        consistent(a);
        if (a.shape.slice(1).join() !== slots.find((s) => s.name === name)!.shape.join()) throw new Error(`shape [${a.shape}] for ${name}`);
      }
    });
    expect(r.crashes).toEqual([]);
    expect(r.accepted).toBeGreaterThan(CASES / 50);
    expect(r.rejected).toBeGreaterThan(CASES / 10);
  });
});
