/**
 * safetensors round trips and reference compatibility: golden bytes of the reference writer,
 * its sort order and padding, and the header forms other writers produce that readers accept.
 */

import { describe, expect, it } from "vitest";
import {
  asFloat32, asInt32, readDataFile, readSafetensors, writeDataFile, writeSafetensors,
} from "../../runtime/safetensors.js";
import { f32Bytes, rawFile } from "./helpers.js";
import { kilnError } from "../util/errors.js";

const ascii = (s: string) => Array.from(new TextEncoder().encode(s));

describe("golden bytes (reference writer)", () => {
  it("one F32 tensor attn.0 [1,2,3] = 0..5", () => {
    const out = writeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(64); // exactly a multiple of 8: no padding
    const expected = [64, 0, 0, 0, 0, 0, 0, 0, ...ascii(json)];
    expected.push(0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64);
    expect(Array.from(out)).toEqual(expected);
  });

  it("pads the header with spaces to a multiple of 8", () => {
    const out = writeSafetensors({ attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(65);
    const expected = [72, 0, 0, 0, 0, 0, 0, 0, ...ascii(json), ...ascii(" ".repeat(7)), ...f32Bytes([0, 1, 2, 3, 4, 5])];
    expect(Array.from(out)).toEqual(expected);
  });

  it("empty file, with and without metadata", () => {
    expect(Array.from(writeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...ascii("{}      ")]);
    const withMeta = writeSafetensors({}, { framework: "pt" });
    expect(Array.from(withMeta)).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...ascii('{"__metadata__":{"framework":"pt"}}     ')]);
    expect(readSafetensors(withMeta).metadata).toEqual({ framework: "pt" });
    expect(readSafetensors(withMeta).tensors.size).toBe(0);
  });

  it("sorts by dtype (widest alignment first), then by name as UTF-8 bytes", () => {
    const out = writeSafetensors({
      b: { dtype: "I32", shape: [1], data: new Int32Array([7]) },
      a: { dtype: "I32", shape: [1], data: new Int32Array([6]) },
      z: { dtype: "F32", shape: [1], data: new Float32Array([1]) },
      "\u{10000}": { dtype: "U8", shape: [1], data: new Uint8Array([2]) },
      "\uffff": { dtype: "U8", shape: [1], data: new Uint8Array([3]) },
      w: { dtype: "F64", shape: [1], data: new Uint8Array(8) },
    });
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(out.subarray(8, 8 + n));
    const order = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    // F64 > F32 > I32 > U8; U+FFFF (EF BF BF) sorts before U+10000 (F0 ..) in UTF-8, not in UTF-16.
    expect(order).toEqual(["w", "z", "a", "b", "\uffff", "\u{10000}"]);
    expect(header).toContain('"a":{"dtype":"I32","shape":[1],"data_offsets":[12,16]}');
  });

  it("puts __metadata__ first, keys sorted, strings escaped like serde_json", () => {
    const out = writeSafetensors({ x: { dtype: "I32", shape: [], data: new Int32Array([5]) } }, { b: 'q"\\\n\u0001é', a: "1" });
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(out.subarray(8, 8 + n)).trimEnd();
    expect(header).toBe('{"__metadata__":{"a":"1","b":"q\\"\\\\\\n\\u0001é"},"x":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}');
  });
});

describe("round trips", () => {
  it("F32 and I32 tensors, scalars, empty tensors and metadata", () => {
    const f = new Float32Array([1.5, -2, Number.NaN, Infinity, -0, 3.4e38]);
    const i = new Int32Array([2147483647, -2147483648, 0, 1]);
    const bytes = writeSafetensors(
      new Map([
        ["dense/kernel", { dtype: "F32" as const, shape: [2, 3], data: f }],
        ["labels", { dtype: "I32" as const, shape: [4], data: i }],
        ["optimizer/step", { dtype: "I32" as const, shape: [], data: new Int32Array([42]) }],
        ["empty", { dtype: "F32" as const, shape: [3, 0, 2], data: new Float32Array(0) }],
      ]),
      { format: "kiln", "ünï": "cødé ☃" },
    );
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: "kiln", "ünï": "cødé ☃" });
    expect([...tensors.keys()].sort()).toEqual(["dense/kernel", "empty", "labels", "optimizer/step"]);
    const k = asFloat32(tensors.get("dense/kernel")!, "dense/kernel");
    expect(Array.from(k)).toEqual(Array.from(f));
    expect(Object.is(k[4], -0)).toBe(true);
    expect(tensors.get("dense/kernel")!.shape).toEqual([2, 3]);
    expect(Array.from(asInt32(tensors.get("labels")!, "labels"))).toEqual(Array.from(i));
    const step = tensors.get("optimizer/step")!;
    expect(step.shape).toEqual([]);
    expect(Array.from(asInt32(step, "optimizer/step"))).toEqual([42]);
    const empty = tensors.get("empty")!;
    expect(empty.shape).toEqual([3, 0, 2]);
    expect(asFloat32(empty, "empty").length).toBe(0);
  });

  it("names with quotes, backslashes, control characters and astral code points survive", () => {
    const names = ['a"b', "c\\d", "line\nbreak", "tab\t", "snow☃man", "emoji😀", "", " "];
    const input = Object.fromEntries(names.map((n, k) => [n, { dtype: "F32" as const, shape: [1], data: new Float32Array([k]) }]));
    const { tensors } = readSafetensors(writeSafetensors(input));
    expect([...tensors.keys()].sort()).toEqual([...names].sort());
    for (const [k, n] of names.entries()) expect(asFloat32(tensors.get(n)!, n)[0]).toBe(k);
  });

  it("raw-byte tensors of other dtypes round trip and keep their dtype", () => {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const { tensors } = readSafetensors(writeSafetensors({ h: { dtype: "F16", shape: [2, 4], data: raw }, d: { dtype: "F64", shape: [2], data: raw } }));
    expect(tensors.get("h")!.dtype).toBe("F16");
    expect(Array.from(tensors.get("h")!.data)).toEqual(Array.from(raw));
    expect(Array.from(tensors.get("d")!.data)).toEqual(Array.from(raw));
  });

  it("data files: F32 and I32 tensors sharing a batch axis", () => {
    const image = new Float32Array(3 * 2 * 2).map((_, k) => k / 7);
    const label = new Int32Array([0, 2, 1]);
    const bytes = writeDataFile({ image: { shape: [3, 2, 2, 1], data: image }, label: { shape: [3], data: label } });
    const file = readDataFile(bytes);
    expect(file.count).toBe(3);
    expect(file.tensors.get("image")!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(file.tensors.get("image")!.data)).toEqual(Array.from(image));
    expect(file.tensors.get("label")!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(file.tensors.get("label")!.data)).toEqual([0, 2, 1]);
    expect(file.tensors.get("image")!.shape).toEqual([3, 2, 2, 1]);
  });
});

describe("what readers accept from other writers", () => {
  it("tensors listed in any order, pretty-printed JSON, escaped names", () => {
    const header = '{\n  "b" : {"data_offsets": [4, 8], "shape": [1], "dtype": "F32"},\n  "\\u0061" : {"dtype":"F32","shape":[1],"data_offsets":[0,4]}\n}\t\r\n ';
    const { tensors } = readSafetensors(rawFile(header, f32Bytes([1, 2])));
    expect(asFloat32(tensors.get("a")!, "a")[0]).toBe(1);
    expect(asFloat32(tensors.get("b")!, "b")[0]).toBe(2);
  });

  it("decodes every JSON escape in names, including surrogate pairs", () => {
    const header = '{"\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\"\\\\":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}';
    const { tensors } = readSafetensors(rawFile(header, new Uint8Array([42])));
    expect([...tensors.keys()]).toEqual(['/\b\f\n\r\té😀"\\']);
    expect(Array.from(tensors.get('/\b\f\n\r\té😀"\\')!.data)).toEqual([42]);
  });

  it("unaligned data (header length not a multiple of 8) is copied into aligned buffers", () => {
    const header = '{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'; // 55 bytes
    expect(header.length % 4).not.toBe(0);
    const file = rawFile(header, f32Bytes([1, 2, 3]));
    const t = readSafetensors(file).tensors.get("x")!;
    expect(t.data.byteOffset % 4).toBe(0);
    expect(Array.from(asFloat32(t, "x"))).toEqual([1, 2, 3]);
  });

  it("a view into a larger buffer, and the result is a copy", () => {
    const file = writeSafetensors({ x: { dtype: "F32", shape: [2], data: new Float32Array([5, 6]) } });
    const big = new Uint8Array(file.length + 13);
    big.set(file, 3);
    const view = big.subarray(3, 3 + file.length);
    const t = readSafetensors(view).tensors.get("x")!;
    big.fill(0);
    expect(Array.from(asFloat32(t, "x"))).toEqual([5, 6]);
  });

  it("a Node Buffer at an odd offset in a pool (what readFileSync gives) is copied, not viewed", () => {
    const file = writeSafetensors({ x: { dtype: "F32", shape: [2], data: new Float32Array([7, 8]) } });
    const pool = new ArrayBuffer(file.length + 5);
    const buf = Buffer.from(pool, 1, file.length);
    buf.set(file);
    const t = readSafetensors(buf).tensors.get("x")!;
    expect(t.data.buffer).not.toBe(pool);
    expect(t.data.byteOffset).toBe(0);
    new Uint8Array(pool).fill(0);
    expect(Array.from(asFloat32(t, "x"))).toEqual([7, 8]);
  });

  it("asFloat32 copies a hand-made tensor whose bytes are not 4-byte aligned", () => {
    const backing = new Uint8Array(9);
    backing.set(new Uint8Array(new Float32Array([2.5, -1]).buffer), 1);
    expect(Array.from(asFloat32({ dtype: "F32", shape: [2], data: backing.subarray(1) }, "x"))).toEqual([2.5, -1]);
  });

  it("zero-size tensors may share an offset; an empty data area is fine", () => {
    const header = '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I32","shape":[2,0],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}';
    const { tensors } = readSafetensors(rawFile(header, new Uint8Array([9, 8])));
    expect(tensors.size).toBe(3);
    expect(Array.from(tensors.get("c")!.data)).toEqual([9, 8]);
    expect(readSafetensors(rawFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')).tensors.get("a")!.data.length).toBe(0);
  });

  it("allowedDtypes and maxHeaderBytes let equal-or-tighter files through", () => {
    const file = writeSafetensors({ x: { dtype: "I32", shape: [1], data: new Int32Array([1]) } });
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(readSafetensors(file, { allowedDtypes: ["I32"], maxHeaderBytes: n }).tensors.size).toBe(1);
  });
});

describe("writer rejects what it cannot write faithfully", () => {
  it("names each bad tensor, all at once", () => {
    const err = kilnError(() =>
      writeSafetensors({
        short: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) },
        kind: { dtype: "F32", shape: [1], data: new Int32Array(1) },
        neg: { dtype: "I32", shape: [-1], data: new Int32Array(0) },
        frac: { dtype: "I32", shape: [1.5], data: new Int32Array(1) },
        __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) },
        "\ud800": { dtype: "F32", shape: [], data: new Float32Array(1) },
        raw: { dtype: "F64", shape: [2], data: new Uint8Array(8) },
        half: { dtype: "F16", shape: [1], data: new Float32Array(1) },
      }),
    );
    expect(err.diagnostics.map((d) => [d.path, d.message])).toEqual([
      ["short", "data: expected 4 values for shape [2, 2], got 3"],
      ["kind", "data: expected a Float32Array for dtype F32, got Int32Array"],
      ["neg", "shape[0]: expected a non-negative integer, got -1"],
      ["frac", "shape[0]: expected a non-negative integer, got 1.5"],
      ["__metadata__", 'the name "__metadata__" is reserved for file metadata'],
      ["\ud800", "expected a name that is valid Unicode, got one with a lone surrogate"],
      ["raw", "expected 16 bytes for F64 [2], got 8"],
      ["half", "data: expected a Uint8Array (raw little-endian bytes) for dtype F16, got Float32Array"],
    ]);
    expect(err.diagnostics.every((d) => d.code === "safetensors")).toBe(true);
  });

  it("metadata values must be strings", () => {
    const err = kilnError(() => writeSafetensors({}, { n: 3 as unknown as string }));
    expect(err.message).toBe('header: "__metadata__": value of "n" expected a string, got number');
  });
});
