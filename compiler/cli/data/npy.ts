/**
 * NumPy `.npy` arrays, as NumPy's format spec (numpy.lib.format) defines them: the magic string
 * "\x93NUMPY", a version (1.0: 2-byte header length; 2.0 and 3.0: 4-byte, 3.0's header UTF-8),
 * and a header that is a Python dict literal with 'descr', 'fortran_order' and 'shape', padded
 * with spaces and a newline; then the data. Dtypes: float32/64, int32/64, uint8 and bool, either
 * byte order (big-endian data is swapped), C or Fortran order (Fortran data is transposed).
 * Every problem is a KilnError naming the file (and array) and what was expected.
 */
import { KilnError } from "../../frontend/diagnostics.js";

/** The kinds kiln reads: the descr without its byte-order character. */
export type NpyKind = "f4" | "f8" | "i4" | "i8" | "u1" | "b1";

/** An array in C order, little-endian, in the typed array of its kind. */
export interface NdArray {
  kind: NpyKind;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

const ITEM: Record<NpyKind, number> = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, b1: 1 };
/** NumPy refuses headers over 10,000 bytes by default (max_header_size); so does kiln. */
const MAX_HEADER = 10_000;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export const npyError = (where: string, message: string): KilnError => new KilnError({ code: "data", path: where, message });

/** Reads one .npy file's bytes; `where` names it in errors ("x.npy", "data.npz: x_train"). */
export function readNpy(bytes: Uint8Array, where: string): NdArray {
  const fail = (message: string): never => {
    throw npyError(where, message);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail("not a NumPy .npy array: expected the magic string \\x93NUMPY at its start");
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`format version ${major}.${bytes[7]}: expected 1.0, 2.0 or 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail("the file ends inside its header length");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes;
  if (headerLength > MAX_HEADER) fail(`header of ${headerLength} bytes: expected at most ${MAX_HEADER} (NumPy's max_header_size)`);
  if (start + headerLength > bytes.length) fail(`header of ${headerLength} bytes runs past the end of the file (${bytes.length} bytes)`);
  const text = decode(bytes.subarray(start, start + headerLength), major === 3, fail);
  const { descr, fortran, shape } = parseHeader(text, fail);
  const { kind, bigEndian } = parseDescr(descr, fail);
  let count = 1;
  for (const d of shape) count *= d;
  if (!Number.isSafeInteger(count * ITEM[kind])) fail(`shape (${shape.join(", ")}) is too large`);
  const body = bytes.subarray(start + headerLength);
  const want = count * ITEM[kind];
  if (body.length !== want) fail(`expected ${want} bytes of ${descr} data for shape (${shape.join(", ")}), got ${body.length}`);
  const own = body.slice(); // aligned, and ours to swap in place
  if (bigEndian && ITEM[kind] > 1) swapBytes(own, ITEM[kind]);
  const data = typed(kind, own.buffer);
  return { kind, shape, data: fortran && shape.length > 1 ? fromFortran(data, shape) : data };
}

function decode(raw: Uint8Array, utf8: boolean, fail: (m: string) => never): string {
  if (!utf8) return Array.from(raw, (b) => String.fromCharCode(b)).join(""); // latin-1, as NumPy
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    return fail("header: expected UTF-8 text (format 3.0)");
  }
}

/**
 * The header dict: exactly the keys 'descr' (a string), 'fortran_order' (True/False) and 'shape'
 * (a tuple of integers), in any order, with an optional trailing comma — what np.save writes.
 */
function parseHeader(text: string, fail: (m: string) => never): { descr: string; fortran: boolean; shape: number[] } {
  let i = 0;
  const show = () => (i >= text.length ? "the end of the header" : JSON.stringify(text.slice(i, i + 12)));
  const err = (what: string): never => fail(`header: expected ${what} at character ${i}, found ${show()}`);
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const expect = (c: string) => {
    space();
    if (text[i] !== c) err(JSON.stringify(c));
    i++;
  };
  const string = (): string => {
    space();
    const q = text[i];
    if (q !== "'" && q !== '"') err("a quoted string");
    const end = text.indexOf(q!, i + 1);
    if (end < 0 || end - i > 200) err("a closing quote");
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const integer = (): number => {
    space();
    const m = /^[0-9]+L?/.exec(text.slice(i, i + 24));
    if (!m) err("a non-negative integer");
    const n = Number(m![0].replace("L", ""));
    if (!Number.isSafeInteger(n)) err("an integer below 2^53");
    i += m![0].length;
    return n;
  };
  const values: Record<string, unknown> = Object.create(null);
  expect("{");
  for (;;) {
    space();
    if (text[i] === "}") break;
    const key = string();
    if (!["descr", "fortran_order", "shape"].includes(key)) fail(`header: unexpected key ${JSON.stringify(key.slice(0, 40))}; expected 'descr', 'fortran_order' and 'shape'`);
    if (key in values) fail(`header: key '${key}' appears twice`);
    expect(":");
    space();
    if (key === "descr") {
      if (text[i] === "[") fail("header: 'descr' is a structured dtype (a list of fields); expected a plain dtype such as '<f4'");
      values.descr = string();
    } else if (key === "fortran_order") {
      const m = /^(True|False)/.exec(text.slice(i, i + 5));
      if (!m) err("True or False");
      values.fortran = m![0] === "True";
      i += m![0].length;
    } else {
      expect("(");
      const shape: number[] = [];
      space();
      while (text[i] !== ")") {
        shape.push(integer());
        space();
        if (text[i] === ",") i++;
        else if (text[i] !== ")") err('"," or ")"');
        space();
        if (shape.length > 32) fail("header: shape has more than 32 dimensions");
      }
      i++;
      values.shape = shape;
    }
    space();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") err('"," or "}"');
  }
  i++;
  space();
  if (i !== text.length) err("only spaces after the header dict");
  for (const k of ["descr", "fortran", "shape"]) if (!(k in values)) fail(`header: missing '${k === "fortran" ? "fortran_order" : k}'`);
  return values as { descr: string; fortran: boolean; shape: number[] };
}

const KINDS: NpyKind[] = ["f4", "f8", "i4", "i8", "u1", "b1"];

function parseDescr(descr: string, fail: (m: string) => never): { kind: NpyKind; bigEndian: boolean } {
  const m = /^([<>|=]?)([a-z][0-9]+)$/.exec(descr);
  const kind = m?.[2] as NpyKind | undefined;
  if (!m || !kind || !KINDS.includes(kind)) {
    return fail(`dtype ${JSON.stringify(descr.slice(0, 40))} is not one kiln reads; expected <f4, <f8, <i4, <i8, |u1 or |b1 (float32/64, int32/64, uint8, bool; either byte order)`);
  }
  return { kind, bigEndian: m[1] === ">" };
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let at = 0; at < b.length; at += size) b.subarray(at, at + size).reverse();
}

function typed(kind: NpyKind, buffer: ArrayBuffer): NdArray["data"] {
  switch (kind) {
    case "f4": return new Float32Array(buffer);
    case "f8": return new Float64Array(buffer);
    case "i4": return new Int32Array(buffer);
    case "i8": return new BigInt64Array(buffer);
    default: return new Uint8Array(buffer);
  }
}

/** Fortran (column-major) data of `shape` rearranged into C (row-major) order. */
function fromFortran<T extends NdArray["data"]>(src: T, shape: number[]): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const rank = shape.length, idx = new Array<number>(rank).fill(0);
  const fStride = shape.map((_, d) => shape.slice(0, d).reduce((a, b) => a * b, 1));
  for (let c = 0; c < src.length; c++) {
    let f = 0;
    for (let d = 0; d < rank; d++) f += idx[d]! * fStride[d]!;
    (out as unknown as number[])[c] = (src as unknown as number[])[f]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
