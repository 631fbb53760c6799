/**
 * Every rule of the safetensors reader, one file per rule, with the exact message it gives:
 * where (the tensor's name, or "header"), what was expected and what came.
 */

import { describe, expect, it } from "vitest";
import { asFloat32, asInt32, readDataFile, readSafetensors, writeDataFile, writeSafetensors, type ReadOptions } from "../../runtime/safetensors.js";
import { rawFile } from "./helpers.js";
import { kilnError } from "../util/errors.js";

const X_OK = '"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';

/** A header with one tensor `x` whose info is `info` (8 bytes of data follow unless told). */
const withX = (info: string, data = 8) => rawFile(`{"x":${info}}`, data);

interface Case {
  what: string;
  file: Uint8Array;
  message: string;
  opts?: ReadOptions;
}

const cases: Case[] = [
  // -- the length prefix
  { what: "file shorter than the length prefix", file: new Uint8Array(5), message: "header: expected at least 8 bytes (the little-endian u64 header length), got 5" },
  { what: "u64 length far over the limit", file: rawFile("{}", 0, 0xffffffffffffffffn), message: "header: header length 18446744073709551615 exceeds the limit of 100000000 bytes" },
  { what: "length just over the default limit", file: rawFile("{}", 0, 100_000_001n), message: "header: header length 100000001 exceeds the limit of 100000000 bytes" },
  { what: "length over a caller's limit", file: rawFile(`{${X_OK}}`, 8), opts: { maxHeaderBytes: 16 }, message: "header: header length 54 exceeds the limit of 16 bytes" },
  { what: "length past the end of the file", file: rawFile("{}", 0, 3n), message: "header: header length 3 runs past the end of the file: only 2 bytes follow the length field" },
  // -- text and JSON syntax
  { what: "invalid UTF-8", file: rawFile(new Uint8Array([0x7b, 0xff, 0x7d])), message: "header: expected UTF-8 text, got bytes that are not valid UTF-8" },
  { what: "UTF-8-encoded surrogate", file: rawFile(new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])), message: "header: expected UTF-8 text, got bytes that are not valid UTF-8" },
  { what: "a byte-order mark", file: rawFile("\ufeff{}"), message: 'header: expected a JSON object starting with "{", found U+FEFF' },
  { what: "leading space", file: rawFile(" {}"), message: 'header: expected a JSON object starting with "{", found " "' },
  { what: "an array, not an object", file: rawFile("[]"), message: 'header: expected a JSON object starting with "{", found "["' },
  { what: "an empty header", file: rawFile(""), message: 'header: expected a JSON object starting with "{", found the end of the header' },
  { what: "NUL padding", file: rawFile("{}\0\0\0\0\0\0"), message: "header: invalid JSON at character 2: expected the end of the header (only space padding may follow the object), found U+0000" },
  { what: "text after the object", file: rawFile("{} {}"), message: 'header: invalid JSON at character 3: expected the end of the header (only space padding may follow the object), found "{"' },
  { what: "trailing comma", file: rawFile(`{${X_OK},}`, 8), message: 'header: invalid JSON at character 54: expected a string key, found "}"' },
  { what: "unquoted key", file: rawFile("{x:1}"), message: 'header: invalid JSON at character 1: expected a string key, found "x"' },
  { what: "missing colon", file: rawFile('{"x" 1}'), message: 'header: invalid JSON at character 5: expected ":", found "1"' },
  { what: "unterminated object", file: rawFile(`{${X_OK}`, 8), message: 'header: invalid JSON at character 53: expected "," or "}", found the end of the header' },
  { what: "unterminated string", file: rawFile('{"x'), message: 'header: invalid JSON at character 3: expected a closing ", found the end of the header' },
  { what: "raw control character in a string", file: rawFile('{"a\nb":1}'), message: "header: invalid JSON at character 3: expected a character (control characters must be escaped), found U+000A" },
  { what: "unknown escape", file: rawFile('{"a\\qb":1}'), message: 'header: invalid JSON at character 4: expected an escape (one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX), found "q"' },
  { what: "short \\u escape", file: rawFile('{"\\u12":1}'), message: 'header: invalid JSON at character 4: expected four hex digits, found "1"' },
  { what: "lone high surrogate escape", file: rawFile('{"\\ud800":1}'), message: 'header: invalid JSON at character 8: expected a low surrogate escape after a high one, found "\\""' },
  { what: "lone low surrogate escape", file: rawFile('{"\\udc00":1}'), message: 'header: invalid JSON at character 2: expected no lone low surrogate, found "\\\\"' },
  { what: "bad separator in an array", file: withX('{"dtype":"F32","shape":[2;],"data_offsets":[0,8]}'), message: 'header: invalid JSON at character 30: expected "," or "]", found ";"' },
  { what: "a number that is not JSON", file: withX('{"dtype":"F32","shape":[+2],"data_offsets":[0,8]}'), message: 'header: invalid JSON at character 29: expected a JSON value, found "+"' },
  // -- __metadata__
  { what: "metadata not an object", file: rawFile('{"__metadata__":["a"]}'), message: 'header: "__metadata__": expected an object of string values, got an array' },
  { what: "metadata null", file: rawFile('{"__metadata__":null}'), message: 'header: "__metadata__": expected an object of string values, got null' },
  { what: "metadata value not a string", file: rawFile('{"__metadata__":{"a":"1","b":2}}'), message: 'header: "__metadata__": value of "b" expected a string, got the number 2' },
  { what: "metadata value nested", file: rawFile('{"__metadata__":{"a":{"b":"c"}}}'), message: 'header: "__metadata__": value of "a" expected a string, got an object' },
  { what: "metadata key twice", file: rawFile('{"__metadata__":{"a":"1","a":"2"}}'), message: 'header: "__metadata__": key "a" appears twice' },
  { what: "__metadata__ twice", file: rawFile('{"__metadata__":{},"__metadata__":{}}'), message: 'header: "__metadata__" appears twice' },
  // -- tensor entries
  { what: "duplicate tensor key", file: rawFile(`{${X_OK},${X_OK}}`, 8), message: "x: appears twice in the header (duplicate keys are rejected)" },
  { what: "duplicate key written with an escape", file: rawFile(`{${X_OK},"\\u0078":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, 8), message: "x: appears twice in the header (duplicate keys are rejected)" },
  { what: "info not an object", file: rawFile('{"x":[0,8]}', 8), message: 'x: expected an object with "dtype", "shape" and "data_offsets", got an array' },
  { what: "info a string", file: rawFile('{"x":"F32"}', 8), message: 'x: expected an object with "dtype", "shape" and "data_offsets", got the string "F32"' },
  { what: "unknown field", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[0,8],"offset":0}'), message: 'x: unexpected field "offset" (allowed: dtype, shape, data_offsets)' },
  { what: "field twice", file: withX('{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}'), message: 'x: field "dtype" appears twice' },
  { what: "missing dtype", file: withX('{"shape":[2],"data_offsets":[0,8]}'), message: 'x: missing field "dtype"' },
  { what: "missing shape", file: withX('{"dtype":"F32","data_offsets":[0,8]}'), message: 'x: missing field "shape"' },
  { what: "missing data_offsets", file: withX('{"dtype":"F32","shape":[2]}'), message: 'x: missing field "data_offsets"' },
  { what: "dtype not a string", file: withX('{"dtype":4,"shape":[2],"data_offsets":[0,8]}'), message: "x: dtype: expected a string, got the number 4" },
  { what: "unknown dtype", file: withX('{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}'), message: 'x: dtype: expected one of F32, I32, F64, I64, F16, BF16, U8, I8, I16, U16, BOOL, U32, U64, got "F8_E4M3"' },
  { what: "lowercase dtype", file: withX('{"dtype":"f32","shape":[2],"data_offsets":[0,8]}'), message: 'x: dtype: expected one of F32, I32, F64, I64, F16, BF16, U8, I8, I16, U16, BOOL, U32, U64, got "f32"' },
  { what: "dtype not allowed here", file: withX('{"dtype":"F64","shape":[1],"data_offsets":[0,8]}'), opts: { allowedDtypes: ["F32", "I32"] }, message: "x: dtype: expected F32 or I32 here, got F64" },
  { what: "shape not an array", file: withX('{"dtype":"F32","shape":2,"data_offsets":[0,8]}'), message: "x: shape: expected an array of non-negative integers, got the number 2" },
  { what: "shape nested", file: withX('{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}'), message: "x: shape[0]: expected a non-negative integer, got an array" },
  { what: "negative dimension", file: withX('{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}'), message: "x: shape[1]: expected a non-negative integer, got -1" },
  { what: "fractional dimension", file: withX('{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}'), message: "x: shape[0]: expected a non-negative integer, got 2.0" },
  { what: "exponent dimension", file: withX('{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}'), message: "x: shape[0]: expected a non-negative integer, got 2e0" },
  { what: "string dimension", file: withX('{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}'), message: 'x: shape[0]: expected a non-negative integer, got the string "2"' },
  { what: "null dimension", file: withX('{"dtype":"F32","shape":[null],"data_offsets":[0,8]}'), message: "x: shape[0]: expected a non-negative integer, got null" },
  { what: "dimension past 2^53", file: withX('{"dtype":"F32","shape":[9007199254740992],"data_offsets":[0,8]}'), message: "x: shape[0]: expected an integer up to 9007199254740991, got 9007199254740992" },
  { what: "u64-sized offset", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551623]}'), message: "x: data_offsets[1]: expected an integer up to 9007199254740991, got 18446744073709551623" },
  { what: "offsets not an array", file: withX('{"dtype":"F32","shape":[2],"data_offsets":{"begin":0}}'), message: "x: data_offsets: expected [begin, end], two non-negative integers, got an object" },
  { what: "three offsets", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}'), message: "x: data_offsets: expected [begin, end], two non-negative integers, got an array of 3" },
  { what: "negative offset", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}'), message: "x: data_offsets[0]: expected a non-negative integer, got -8" },
  { what: "end before begin", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[8,0]}'), message: "x: data_offsets: expected begin <= end, got [8, 0]" },
  { what: "element count overflow", file: withX('{"dtype":"U8","shape":[1099511627776,1099511627776,0],"data_offsets":[0,0]}', 0), message: "x: shape [1099511627776, 1099511627776, 0]: expected at most 9007199254740991 elements, got more" },
  { what: "byte size overflow", file: withX('{"dtype":"F64","shape":[4503599627370496],"data_offsets":[0,8]}'), message: "x: shape [4503599627370496]: expected at most 9007199254740991 bytes of F64, got more" },
  { what: "size does not match shape", file: withX('{"dtype":"F32","shape":[3],"data_offsets":[0,8]}'), message: "x: data_offsets [0, 8]: expected 12 bytes for F32 [3], got 8" },
  // -- layout
  { what: "data not starting at 0", file: withX('{"dtype":"F32","shape":[1],"data_offsets":[4,8]}'), message: "x: data_offsets [4, 8]: expected data to start at byte 0 (tensors are packed back to back from byte 0), got 4, which leaves a gap after the tensor before it" },
  { what: "gap between tensors", file: rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12), message: "b: data_offsets [8, 12]: expected data to start at byte 4 (tensors are packed back to back from byte 0), got 8, which leaves a gap after the tensor before it" },
  { what: "overlapping tensors", file: rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), message: "b: data_offsets [4, 8]: expected data to start at byte 8 (tensors are packed back to back from byte 0), got 4, which overlaps the tensor before it" },
  { what: "the same region twice", file: rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8), message: "b: data_offsets [0, 8]: expected data to start at byte 8 (tensors are packed back to back from byte 0), got 0, which overlaps the tensor before it" },
  { what: "data past the end of the file", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[0,8]}', 4), message: "header: expected the tensors' data to cover the 4 bytes after the header exactly, got data ending at byte 8" },
  { what: "trailing bytes after the data", file: withX('{"dtype":"F32","shape":[2],"data_offsets":[0,8]}', 9), message: "header: expected the tensors' data to cover the 9 bytes after the header exactly, got data ending at byte 8" },
  { what: "no tensors but data", file: rawFile("{}", 1), message: "header: expected the tensors' data to cover the 1 bytes after the header exactly, got data ending at byte 0" },
];

describe("readSafetensors rejects", () => {
  for (const c of cases) {
    it(c.what, () => {
      const err = kilnError(() => readSafetensors(c.file, c.opts));
      expect(err.message).toBe(c.message);
      expect(err.diagnostics.every((d) => d.code === "safetensors")).toBe(true);
    });
  }

  it("reports several bad tensors at once, each by name", () => {
    const header = '{"a":{"dtype":"Q","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,8]}}';
    const err = kilnError(() => readSafetensors(rawFile(header, 8)));
    expect(err.diagnostics.map((d) => d.path)).toEqual(["a", "b"]);
    expect(err.diagnostics[1].message).toBe("data_offsets [4, 8]: expected 8 bytes for F32 [2], got 4");
  });

  it("caps the number of diagnostics for a file full of bad tensors", () => {
    const infos = Array.from({ length: 50 }, (_, k) => `"t${k}":{"dtype":"NOPE","shape":[0],"data_offsets":[0,0]}`);
    const err = kilnError(() => readSafetensors(rawFile(`{${infos.join(",")}}`)));
    expect(err.diagnostics.length).toBe(21);
    expect(err.diagnostics[20]).toEqual({ code: "safetensors", path: "header", message: "and 30 more problems" });
  });

  it("names an empty-named tensor in the message itself", () => {
    const err = kilnError(() => readSafetensors(rawFile('{"":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', 8)));
    expect(err.path).toBe("");
    expect(err.message).toBe('tensor "": data_offsets [0, 8]: expected 4 bytes for F32 [1], got 8');
  });

  it("cuts a huge tensor name in the path and the message", () => {
    const name = "n".repeat(1_000_000);
    const err = kilnError(() => readSafetensors(rawFile(`{"${name}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"${name}":{}}`, 4)));
    expect(err.path).toBe("n".repeat(256) + "…");
    expect(err.message).toBe(`${"n".repeat(256)}…: appears twice in the header (duplicate keys are rejected)`);
  });

  it("deep nesting is an error, not a stack overflow", () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000);
    const err = kilnError(() => readSafetensors(withX(`{"dtype":"F32","shape":${deep},"data_offsets":[0,8]}`)));
    expect(err.message).toBe("x: shape[0]: expected a non-negative integer, got an array");
    const deepObj = '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000);
    expect(kilnError(() => readSafetensors(rawFile(`{"__metadata__":${deepObj}}`))).message).toBe(
      'header: "__metadata__": value of "a" expected a string, got an object',
    );
  });

  it("rejects input that is not a Uint8Array", () => {
    expect(kilnError(() => readSafetensors(new ArrayBuffer(16) as unknown as Uint8Array)).message).toBe(
      "header: expected the file as a Uint8Array, got ArrayBuffer",
    );
  });

  it("rejects a bad maxHeaderBytes option", () => {
    expect(kilnError(() => readSafetensors(rawFile("{}"), { maxHeaderBytes: -1 })).message).toBe(
      "header: maxHeaderBytes: expected a non-negative integer, got -1",
    );
  });
});

describe("typed views and data files", () => {
  const file = writeSafetensors({
    w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
    n: { dtype: "I32", shape: [1], data: new Int32Array([3]) },
  });
  const { tensors } = readSafetensors(file);

  it("asFloat32 / asInt32 name the tensor when the dtype is wrong", () => {
    expect(kilnError(() => asFloat32(tensors.get("n")!, "n")).message).toBe("n: expected dtype F32, got I32");
    expect(kilnError(() => asInt32(tensors.get("w")!, "dense/kernel")).message).toBe("dense/kernel: expected dtype I32, got F32");
  });

  it("asFloat32 checks the byte count against the shape", () => {
    const t = { dtype: "F32" as const, shape: [3], data: new Uint8Array(8) };
    expect(kilnError(() => asFloat32(t, "t")).message).toBe("t: expected 12 bytes for F32 [3], got 8");
  });

  it("data files need F32/I32 tensors with one shared batch axis", () => {
    const f64 = writeSafetensors({ x: { dtype: "F64", shape: [1], data: new Uint8Array(8) } });
    expect(kilnError(() => readDataFile(f64)).message).toBe("x: dtype: expected F32 or I32 here, got F64");
    expect(kilnError(() => readDataFile(writeSafetensors({}))).message).toBe("header: expected a data file with at least one tensor, got none");
    const scalar = writeDataFile({ s: { shape: [], data: new Float32Array(1) } });
    expect(kilnError(() => readDataFile(scalar)).message).toBe("s: shape: expected a leading batch axis, got a scalar (shape [])");
    const mismatch = writeDataFile({ image: { shape: [3, 2], data: new Float32Array(6) }, label: { shape: [2], data: new Int32Array(2) } });
    expect(kilnError(() => readDataFile(mismatch)).message).toBe('label: shape[0]: expected 3 examples like tensor "image", got 2');
  });
});
