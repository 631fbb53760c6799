/**
 * safetensors reading and writing (spec §5): weight files, optimizer state and data files.
 * The reader is at least as strict as the reference loader (it also rejects duplicate keys, unknown
 * fields and non-integer numbers), never reads outside the buffer, and turns every problem into a
 * KilnError naming the tensor (or "header"). The writer reproduces the reference writer's bytes.
 * Runtime code: no dependencies and no Node built-ins, only TextEncoder/TextDecoder and typed arrays.
 */

import { KilnError } from "./errors.js";

export type StDType =
  | "F32" | "I32" | "F64" | "I64" | "F16" | "BF16" | "U8" | "I8" | "I16" | "U16" | "BOOL" | "U32" | "U64";

/** One tensor read from a file. `data` is a copy: 4-byte aligned, little-endian. */
export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: Uint8Array;
}

/** A tensor to write: typed data for F32/I32, or raw little-endian bytes for any dtype. */
export interface StWriteTensor {
  dtype: StDType;
  shape: readonly number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export interface ReadOptions {
  /** Largest header accepted, in bytes (default 100,000,000, the reference limit). */
  maxHeaderBytes?: number;
  /** When given, any other dtype is rejected. */
  allowedDtypes?: StDType[];
  /**
   * When given, a header listing more tensors is rejected as soon as the parser meets one more,
   * before any is built (a weights file of 1.7 M empty tensors costs milliseconds, not seconds).
   */
  maxTensors?: { count: number; what: string };
}

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata?: Record<string, string>;
}

const DEFAULT_MAX_HEADER = 100_000_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const METADATA_KEY = "__metadata__";
const MAX_DIAGNOSTICS = 20;
const MAX_PATH = 256;

const DTYPE_SIZE: Record<StDType, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
// The reference's dtype enum order (increasing alignment): its writer sorts by it, descending.
const DTYPE_ORDER: StDType[] = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"];
const ALL_DTYPES: StDType[] = ["F32", "I32", "F64", "I64", "F16", "BF16", "U8", "I8", "I16", "U16", "BOOL", "U32", "U64"];

// Typed-array views are host-endian; every JS engine in use is little-endian, but stay correct anyway.
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Errors

function headerError(message: string): KilnError {
  return new KilnError({ code: "safetensors", path: "header", message });
}

/**
 * The path is the tensor's name, so the formatted message reads `name: what was wrong`; a name
 * too long to be real is cut, so a hostile file can't make a megabyte-long message.
 */
function tensorError(name: string, message: string): KilnError {
  const path = name.length > MAX_PATH ? name.slice(0, MAX_PATH) + "…" : name;
  return new KilnError({ code: "safetensors", path, message: name === "" ? `tensor "": ${message}` : message });
}

/** A name or value from the file, quoted and cut short so a hostile file can't flood the message. */
function quote(s: string): string {
  const cut = s.length > 64 ? s.slice(0, 64) + "…" : s;
  return JSON.stringify(cut);
}

function shortText(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + "…" : s;
}

function isDtype(s: string): s is StDType {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function throwAll(errors: KilnError[]): void {
  if (errors.length === 0) return;
  const diags = errors.slice(0, MAX_DIAGNOSTICS).flatMap((e) => e.diagnostics);
  if (errors.length > MAX_DIAGNOSTICS) {
    diags.push({ code: "safetensors", path: "header", message: `and ${errors.length - MAX_DIAGNOSTICS} more problems` });
  }
  throw new KilnError(diags);
}

// ---------------------------------------------------------------------------------------------
// Header JSON: a parser for exactly the shape a safetensors header has. It builds no generic tree
// (a 100 MB header of numbers would not fit in memory as one), keeps number text so "1.0" and
// "1e3" can be told from integers, and sees duplicate keys, which JSON.parse silently drops.

interface RawInfo {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

interface RawHeader {
  infos: RawInfo[];
  metadata?: Record<string, string>;
}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const INTEGER_RE = /^(?:0|[1-9][0-9]*)$/;
const INFO_FIELDS = ["dtype", "shape", "data_offsets"];
const SIMPLE_ESCAPES: Record<number, string> = { 0x22: '"', 0x5c: "\\", 0x2f: "/", 0x62: "\b", 0x66: "\f", 0x6e: "\n", 0x72: "\r", 0x74: "\t" };

class HeaderParser {
  private i = 0;
  constructor(private readonly s: string, private readonly maxTensors?: { count: number; what: string }) {}

  parse(): RawHeader {
    if (this.s.charCodeAt(0) !== 0x7b) {
      throw headerError(`expected a JSON object starting with "{", found ${this.describeChar(0)}`);
    }
    const header: RawHeader = { infos: [] };
    const seen = new Set<string>();
    this.parseObject((key) => {
      if (seen.has(key)) {
        throw key === METADATA_KEY ? headerError(`"${METADATA_KEY}" appears twice`) : tensorError(key, "appears twice in the header (duplicate keys are rejected)");
      }
      seen.add(key);
      if (key === METADATA_KEY) header.metadata = this.parseMetadata();
      else if (header.infos.length === this.maxTensors?.count) throw headerError(`expected at most ${this.maxTensors.count} tensors (${this.maxTensors.what}), got more`);
      else header.infos.push(this.parseInfo(key));
    });
    this.skipWhitespace();
    if (this.i < this.s.length) this.syntax("the end of the header (only space padding may follow the object)");
    return header;
  }

  private parseMetadata(): Record<string, string> {
    if (this.peek() !== 0x7b) throw headerError(`"${METADATA_KEY}": expected an object of string values, got ${this.describeValue()}`);
    const out: Record<string, string> = Object.create(null);
    const seen = new Set<string>();
    this.parseObject((key) => {
      if (seen.has(key)) throw headerError(`"${METADATA_KEY}": key ${quote(key)} appears twice`);
      seen.add(key);
      if (this.peek() !== 0x22) throw headerError(`"${METADATA_KEY}": value of ${quote(key)} expected a string, got ${this.describeValue()}`);
      out[key] = this.parseString();
    });
    return out;
  }

  private parseInfo(name: string): RawInfo {
    if (this.peek() !== 0x7b) {
      throw tensorError(name, `expected an object with "dtype", "shape" and "data_offsets", got ${this.describeValue()}`);
    }
    const fields = new Map<string, unknown>();
    this.parseObject((key) => {
      if (!INFO_FIELDS.includes(key)) throw tensorError(name, `unexpected field ${quote(key)} (allowed: dtype, shape, data_offsets)`);
      if (fields.has(key)) throw tensorError(name, `field "${key}" appears twice`);
      fields.set(key, this.parseField(name, key));
    });
    for (const f of INFO_FIELDS) if (!fields.has(f)) throw tensorError(name, `missing field "${f}"`);
    const [begin, end] = fields.get("data_offsets") as number[];
    return { name, dtype: fields.get("dtype") as string, shape: fields.get("shape") as number[], begin, end };
  }

  private parseField(name: string, key: string): unknown {
    if (key === "dtype") {
      if (this.peek() !== 0x22) throw tensorError(name, `dtype: expected a string, got ${this.describeValue()}`);
      return this.parseString();
    }
    const what = key === "shape" ? "an array of non-negative integers" : "[begin, end], two non-negative integers";
    if (this.peek() !== 0x5b) throw tensorError(name, `${key}: expected ${what}, got ${this.describeValue()}`);
    const list = this.parseIntegerArray(name, key);
    if (key === "data_offsets" && list.length !== 2) {
      throw tensorError(name, `data_offsets: expected ${what}, got an array of ${list.length}`);
    }
    return list;
  }

  private parseIntegerArray(name: string, key: string): number[] {
    const out: number[] = [];
    this.i++; // "["
    this.skipWhitespace();
    if (this.peek() === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.parseInteger(name, `${key}[${out.length}]`));
      this.skipWhitespace();
      const c = this.peek();
      this.i++;
      if (c === 0x5d) return out;
      if (c !== 0x2c) this.syntax('"," or "]"', this.i - 1);
    }
  }

  private parseInteger(name: string, where: string): number {
    const c = this.peek();
    if (c !== 0x2d && !(c >= 0x30 && c <= 0x39)) {
      throw tensorError(name, `${where}: expected a non-negative integer, got ${this.describeValue()}`);
    }
    const text = this.parseNumberText();
    if (!INTEGER_RE.test(text)) throw tensorError(name, `${where}: expected a non-negative integer, got ${shortText(text)}`);
    const value = Number(text);
    if (value > MAX_SAFE) throw tensorError(name, `${where}: expected an integer up to ${MAX_SAFE}, got ${shortText(text)}`);
    return value;
  }

  /** Walks `{ "key": value, ... }`; `onEntry` must consume the value. */
  private parseObject(onEntry: (key: string) => void): void {
    this.i++; // "{"
    this.skipWhitespace();
    if (this.peek() === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.peek() !== 0x22) this.syntax("a string key");
      const key = this.parseString();
      this.skipWhitespace();
      if (this.peek() !== 0x3a) this.syntax('":"');
      this.i++;
      this.skipWhitespace();
      onEntry(key);
      this.skipWhitespace();
      const c = this.peek();
      this.i++;
      if (c === 0x7d) return;
      if (c !== 0x2c) this.syntax('"," or "}"', this.i - 1);
    }
  }

  private parseString(): string {
    const s = this.s;
    let j = ++this.i; // after the opening quote
    let out = "";
    for (;;) {
      if (j >= s.length) this.syntax('a closing "', j);
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      if (c < 0x20) this.syntax("a character (control characters must be escaped)", j);
      if (c === 0x5c) {
        out += s.slice(this.i, j);
        j = this.parseEscape(j, (piece) => (out += piece));
        this.i = j;
        continue;
      }
      j++;
    }
    out += s.slice(this.i, j);
    this.i = j + 1;
    return out;
  }

  /** Decodes the escape at `j` (a backslash); returns the index after it. */
  private parseEscape(j: number, emit: (piece: string) => void): number {
    const e = this.s.charCodeAt(j + 1);
    if (SIMPLE_ESCAPES[e] !== undefined) {
      emit(SIMPLE_ESCAPES[e]);
      return j + 2;
    }
    if (e !== 0x75) this.syntax("an escape (one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", j + 1);
    const hi = this.hex4(j + 2);
    if (hi >= 0xdc00 && hi <= 0xdfff) this.syntax("no lone low surrogate", j);
    if (hi < 0xd800 || hi > 0xdbff) {
      emit(String.fromCharCode(hi));
      return j + 6;
    }
    // A high surrogate must pair with a low one: lone surrogates are not Unicode text.
    if (this.s.charCodeAt(j + 6) !== 0x5c || this.s.charCodeAt(j + 7) !== 0x75) this.syntax("a low surrogate escape after a high one", j + 6);
    const lo = this.hex4(j + 8);
    if (lo < 0xdc00 || lo > 0xdfff) this.syntax("a low surrogate escape after a high one", j + 6);
    emit(String.fromCharCode(hi, lo));
    return j + 12;
  }

  private hex4(j: number): number {
    const h = this.s.slice(j, j + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.syntax("four hex digits", j);
    return parseInt(h, 16);
  }

  private parseNumberText(): string {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    if (!m) this.syntax("a number");
    this.i += m[0].length;
    return m[0];
  }

  /** Says what value starts here, for "expected X, got Y" (reading only as far as needed). */
  private describeValue(): string {
    const c = this.peek();
    if (c === 0x7b) return "an object";
    if (c === 0x5b) return "an array";
    if (c === 0x22) return `the string ${quote(this.parseString())}`;
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return `the number ${shortText(this.parseNumberText())}`;
    for (const lit of ["true", "false", "null"]) if (this.s.startsWith(lit, this.i)) return lit;
    this.syntax("a JSON value");
  }

  private describeChar(at: number): string {
    if (at >= this.s.length) return "the end of the header";
    const cp = this.s.codePointAt(at)!;
    // Invisible or exotic characters (a BOM, NUL padding) are shown by code point.
    if (cp >= 0x20 && cp < 0x7f) return JSON.stringify(String.fromCharCode(cp));
    return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  }

  private syntax(expected: string, at = this.i): never {
    throw headerError(`invalid JSON at character ${at}: expected ${expected}, found ${this.describeChar(at)}`);
  }

  private peek(): number {
    return this.s.charCodeAt(this.i); // NaN past the end, which matches nothing
  }

  private skipWhitespace(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++this.i);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Reads a safetensors file. Throws a KilnError for anything the format does not allow. */
export function readSafetensors(bytes: Uint8Array, opts: ReadOptions = {}): StFile {
  if (!(bytes instanceof Uint8Array)) throw headerError(`expected the file as a Uint8Array, got ${describeData(bytes)}`);
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (!Number.isSafeInteger(maxHeader) || maxHeader < 0) {
    throw headerError(`maxHeaderBytes: expected a non-negative integer, got ${String(maxHeader)}`);
  }
  const n = readHeaderLength(bytes, maxHeader);
  const header = new HeaderParser(decodeHeader(bytes.subarray(8, 8 + n)), opts.maxTensors).parse();
  const sizes = checkInfos(header.infos, opts.allowedDtypes);
  checkLayout(header.infos, bytes.length - 8 - n);
  const tensors = new Map<string, StTensor>();
  for (const [k, info] of header.infos.entries()) {
    // Belt and braces (checkLayout already proved it): subarray() would clamp silently.
    if (8 + n + info.end > bytes.length || info.end - info.begin !== sizes[k]) {
      throw tensorError(info.name, `data_offsets [${info.begin}, ${info.end}]: expected ${sizes[k]} bytes inside the file`);
    }
    const data = copyBytes(bytes, 8 + n + info.begin, 8 + n + info.end);
    tensors.set(info.name, { dtype: info.dtype as StDType, shape: info.shape, data });
  }
  return header.metadata === undefined ? { tensors } : { tensors, metadata: header.metadata };
}

/** Where one tensor's bytes lie in a file read piece by piece: [begin, end) from the file's start. */
export interface StTensorInfo {
  dtype: StDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * For readers that stream a file instead of holding it whole: the header length from the file's
 * first 8 bytes, checked against the file's length (8 + it is how many bytes readSafetensorsHeader needs).
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileLength: number, maxHeaderBytes = DEFAULT_MAX_HEADER): number {
  if (fileLength < 8 || first8.length < 8) throw headerError(`expected at least 8 bytes (the little-endian u64 header length), got ${Math.min(fileLength, first8.length)}`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) throw headerError(`header length ${n} exceeds the limit of ${maxHeaderBytes} bytes`);
  if (Number(n) > fileLength - 8) throw headerError(`header length ${n} runs past the end of the file: only ${fileLength - 8} bytes follow the length field`);
  return Number(n);
}

/**
 * The header of a file of `fileLength` bytes whose first 8 + header-length bytes are `head`:
 * each tensor's dtype, shape and byte range in the file, with every check readSafetensors makes.
 */
export function readSafetensorsHeader(head: Uint8Array, fileLength: number, opts: ReadOptions = {}): { tensors: Map<string, StTensorInfo>; metadata?: Record<string, string> } {
  const n = safetensorsHeaderLength(head, fileLength, opts.maxHeaderBytes);
  if (head.length < 8 + n) throw headerError(`expected the ${n} header bytes after the length field, got ${head.length - 8}`);
  const header = new HeaderParser(decodeHeader(head.subarray(8, 8 + n)), opts.maxTensors).parse();
  checkInfos(header.infos, opts.allowedDtypes);
  checkLayout(header.infos, fileLength - 8 - n);
  const tensors = new Map<string, StTensorInfo>();
  for (const i of header.infos) tensors.set(i.name, { dtype: i.dtype as StDType, shape: i.shape, begin: 8 + n + i.begin, end: 8 + n + i.end });
  return header.metadata === undefined ? { tensors } : { tensors, metadata: header.metadata };
}

/**
 * A copy in a fresh ArrayBuffer: aligned, and detached from the caller's buffer. Not slice():
 * on a Node Buffer (what readFileSync returns) slice() is a view into the same, pooled memory.
 */
function copyBytes(bytes: Uint8Array, begin: number, end: number): Uint8Array {
  const out = new Uint8Array(end - begin);
  out.set(bytes.subarray(begin, end));
  return out;
}

function readHeaderLength(bytes: Uint8Array, maxHeader: number): number {
  if (bytes.length < 8) {
    throw headerError(`expected at least 8 bytes (the little-endian u64 header length), got ${bytes.length}`);
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeader)) throw headerError(`header length ${n} exceeds the limit of ${maxHeader} bytes`);
  const length = Number(n);
  if (length > bytes.length - 8) {
    throw headerError(`header length ${length} runs past the end of the file: only ${bytes.length - 8} bytes follow the length field`);
  }
  return length;
}

function decodeHeader(raw: Uint8Array): string {
  try {
    // ignoreBOM keeps a leading BOM in the text, so it is rejected like any non-"{" start.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw headerError("expected UTF-8 text, got bytes that are not valid UTF-8");
  }
}

/** Checks dtype, shape and byte size of each tensor; returns the byte sizes. */
function checkInfos(infos: RawInfo[], allowed?: StDType[]): number[] {
  const errors: KilnError[] = [];
  const sizes = infos.map((info) => {
    try {
      return checkInfo(info, allowed);
    } catch (e) {
      if (!(e instanceof KilnError)) throw e;
      errors.push(e);
      return -1;
    }
  });
  throwAll(errors);
  return sizes;
}

function checkInfo(info: RawInfo, allowed?: StDType[]): number {
  const { name, dtype, shape, begin, end } = info;
  if (!isDtype(dtype)) throw tensorError(name, `dtype: expected one of ${ALL_DTYPES.join(", ")}, got ${quote(dtype)}`);
  if (allowed && !allowed.includes(dtype)) throw tensorError(name, `dtype: expected ${allowed.join(" or ")} here, got ${dtype}`);
  if (end < begin) throw tensorError(name, `data_offsets: expected begin <= end, got [${begin}, ${end}]`);
  // Products of safe integers are exact while they stay safe, and round to >= 2^53 once they
  // don't, so "> MAX_SAFE" is an exact overflow test. Left to right like the reference's checked
  // multiply: [2^40, 2^40, 0] overflows before the 0.
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > MAX_SAFE) throw tensorError(name, `shape ${shapeText(shape)}: expected at most ${MAX_SAFE} elements, got more`);
  }
  const bytes = count * DTYPE_SIZE[dtype];
  if (bytes > MAX_SAFE) throw tensorError(name, `shape ${shapeText(shape)}: expected at most ${MAX_SAFE} bytes of ${dtype}, got more`);
  if (end - begin !== bytes) {
    throw tensorError(name, `data_offsets [${begin}, ${end}]: expected ${bytes} bytes for ${dtype} ${shapeText(shape)}, got ${end - begin}`);
  }
  return bytes;
}

function shapeText(shape: readonly number[]): string {
  const text = `[${shape.slice(0, 16).join(", ")}${shape.length > 16 ? ", …" : ""}]`;
  return text;
}

/** Tensors must tile the data area exactly: back to back from byte 0, no gaps, no overlaps. */
function checkLayout(infos: RawInfo[], dataLength: number): void {
  const order = infos.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const info of order) {
    if (info.begin !== expected) {
      const why = info.begin < expected ? "overlaps the tensor before it" : "leaves a gap after the tensor before it";
      throw tensorError(info.name, `data_offsets [${info.begin}, ${info.end}]: expected data to start at byte ${expected} (tensors are packed back to back from byte 0), got ${info.begin}, which ${why}`);
    }
    expected = info.end;
  }
  if (expected !== dataLength) {
    throw headerError(`expected the tensors' data to cover the ${dataLength} bytes after the header exactly, got data ending at byte ${expected}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Typed views

/** The tensor's values as a Float32Array; a KilnError naming the tensor if it is not F32. */
export function asFloat32(t: StTensor, name: string): Float32Array {
  return view(t, name, "F32", Float32Array) as Float32Array;
}

/** The tensor's values as an Int32Array; a KilnError naming the tensor if it is not I32. */
export function asInt32(t: StTensor, name: string): Int32Array {
  return view(t, name, "I32", Int32Array) as Int32Array;
}

function view(t: StTensor, name: string, dtype: "F32" | "I32", Ctor: Float32ArrayConstructor | Int32ArrayConstructor): Float32Array | Int32Array {
  if (t.dtype !== dtype) throw tensorError(name, `expected dtype ${dtype}, got ${t.dtype}`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.byteLength !== count * 4) {
    throw tensorError(name, `expected ${count * 4} bytes for ${dtype} ${shapeText(t.shape)}, got ${t.data.byteLength}`);
  }
  if (!LITTLE_ENDIAN_HOST) return swapToHost(t.data, dtype, count);
  const data = t.data.byteOffset % 4 === 0 ? t.data : copyBytes(t.data, 0, t.data.length);
  return new Ctor(data.buffer as ArrayBuffer, data.byteOffset, count);
}

function swapToHost(bytes: Uint8Array, dtype: "F32" | "I32", count: number): Float32Array | Int32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = dtype === "F32" ? new Float32Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = dtype === "F32" ? dv.getFloat32(i * 4, true) : dv.getInt32(i * 4, true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

interface Entry {
  name: string;
  key: Uint8Array;
  tensor: StWriteTensor;
  bytes: Uint8Array;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Writes tensors as the reference writer does: sorted by dtype (widest first) then name, the
 * header JSON padded with spaces to a multiple of 8 bytes, data packed back to back.
 */
export function writeSafetensors(
  tensors: Record<string, StWriteTensor> | Map<string, StWriteTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const encoder = new TextEncoder();
  const errors: KilnError[] = [];
  const entries: Entry[] = [];
  for (const [name, tensor] of list) {
    try {
      entries.push({ name, key: encoder.encode(name), tensor, bytes: tensorBytes(name, tensor) });
    } catch (e) {
      if (!(e instanceof KilnError)) throw e;
      errors.push(e);
    }
  }
  if (metadata !== undefined) checkMetadata(metadata, errors);
  throwAll(errors);
  entries.sort((a, b) => DTYPE_ORDER.indexOf(b.tensor.dtype) - DTYPE_ORDER.indexOf(a.tensor.dtype) || compareBytes(a.key, b.key));
  return assemble(encoder.encode(headerJson(entries, metadata)), entries);
}

/** Validates one tensor and returns its little-endian bytes. */
function tensorBytes(name: string, t: StWriteTensor): Uint8Array {
  if (name === METADATA_KEY) throw tensorError(name, `the name "${METADATA_KEY}" is reserved for file metadata`);
  if (LONE_SURROGATE.test(name)) throw tensorError(name, "expected a name that is valid Unicode, got one with a lone surrogate");
  if (typeof t !== "object" || t === null || !isDtype(String(t.dtype))) {
    throw tensorError(name, `dtype: expected one of ${ALL_DTYPES.join(", ")}, got ${String(t?.dtype)}`);
  }
  const count = checkWriteShape(name, t.shape);
  if (t.data instanceof Uint8Array) {
    const need = count * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== need) throw tensorError(name, `expected ${need} bytes for ${t.dtype} ${shapeText(t.shape)}, got ${t.data.byteLength}`);
    return t.data;
  }
  const ok = (t.dtype === "F32" && t.data instanceof Float32Array) || (t.dtype === "I32" && t.data instanceof Int32Array);
  if (!ok) {
    const want = t.dtype === "F32" ? "Float32Array" : t.dtype === "I32" ? "Int32Array" : "Uint8Array (raw little-endian bytes)";
    throw tensorError(name, `data: expected a ${want} for dtype ${t.dtype}, got ${describeData(t.data)}`);
  }
  if (t.data.length !== count) throw tensorError(name, `data: expected ${count} values for shape ${shapeText(t.shape)}, got ${t.data.length}`);
  return littleEndianBytes(t.data);
}

function checkWriteShape(name: string, shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw tensorError(name, `shape: expected an array of non-negative integers, got ${typeof shape}`);
  let count = 1;
  for (const [k, d] of shape.entries()) {
    if (!Number.isSafeInteger(d) || d < 0) throw tensorError(name, `shape[${k}]: expected a non-negative integer, got ${String(d)}`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw tensorError(name, `shape ${shapeText(shape)}: expected at most ${MAX_SAFE} elements, got more`);
  return count;
}

function describeData(d: unknown): string {
  if (d === null || typeof d !== "object") return String(d);
  return (d as object).constructor?.name ?? "an object";
}

function littleEndianBytes(a: Float32Array | Int32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) dv.setFloat32(i * 4, a[i], true);
    else dv.setInt32(i * 4, a[i], true);
  }
  return out;
}

function checkMetadata(metadata: Record<string, string>, errors: KilnError[]): void {
  if (typeof metadata !== "object" || metadata === null) {
    errors.push(headerError(`"${METADATA_KEY}": expected an object of string values, got ${String(metadata)}`));
    return;
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") errors.push(headerError(`"${METADATA_KEY}": value of ${quote(k)} expected a string, got ${typeof v}`));
    else if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) {
      errors.push(headerError(`"${METADATA_KEY}": entry ${quote(k)} expected valid Unicode, got a lone surrogate`));
    }
  }
}

/** Byte-wise order of UTF-8 names, as Rust's String ordering (UTF-16 order differs above U+FFFF). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function headerJson(entries: Entry[], metadata?: Record<string, string>): string {
  const parts: string[] = [];
  if (metadata !== undefined) {
    const encoder = new TextEncoder();
    const keys = Object.keys(metadata).sort((a, b) => compareBytes(encoder.encode(a), encoder.encode(b)));
    parts.push(`"${METADATA_KEY}":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`);
  }
  let offset = 0;
  for (const e of entries) {
    const end = offset + e.bytes.byteLength;
    // Field order and spacing match serde_json's output of the reference TensorInfo.
    parts.push(`${JSON.stringify(e.name)}:{"dtype":"${e.tensor.dtype}","shape":[${e.tensor.shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  return `{${parts.join(",")}}`;
}

function assemble(json: Uint8Array, entries: Entry[]): Uint8Array {
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > DEFAULT_MAX_HEADER) {
    throw headerError(`expected a header of at most ${DEFAULT_MAX_HEADER} bytes (what readers accept), got ${headerLength}`);
  }
  const dataLength = entries.reduce((sum, e) => sum + e.bytes.byteLength, 0);
  const out = new Uint8Array(8 + headerLength + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const e of entries) {
    out.set(e.bytes, at);
    at += e.bytes.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Data files (spec §5): one F32 or I32 tensor per graph input or target, batch axis first.

export interface DataTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface DataFile {
  tensors: Map<string, DataTensor>;
  /** Examples in the file: the shared length of every tensor's first axis. */
  count: number;
}

/** Reads a data file: F32/I32 tensors of rank >= 1 that all share the same first (batch) axis. */
export function readDataFile(bytes: Uint8Array, opts: { maxHeaderBytes?: number } = {}): DataFile {
  const file = readSafetensors(bytes, { maxHeaderBytes: opts.maxHeaderBytes, allowedDtypes: ["F32", "I32"] });
  if (file.tensors.size === 0) throw headerError("expected a data file with at least one tensor, got none");
  let first: [string, number] | undefined;
  const tensors = new Map<string, DataTensor>();
  const errors: KilnError[] = [];
  for (const [name, t] of file.tensors) {
    if (t.shape.length === 0) {
      errors.push(tensorError(name, "shape: expected a leading batch axis, got a scalar (shape [])"));
      continue;
    }
    first ??= [name, t.shape[0]];
    if (t.shape[0] !== first[1]) {
      errors.push(tensorError(name, `shape[0]: expected ${first[1]} examples like tensor ${quote(first[0])}, got ${t.shape[0]}`));
    }
    tensors.set(name, { shape: t.shape, data: t.dtype === "F32" ? asFloat32(t, name) : asInt32(t, name) });
  }
  throwAll(errors);
  return { tensors, count: first![1] };
}

/** Writes a data file; the dtype follows the array type (Float32Array → F32, Int32Array → I32). */
export function writeDataFile(tensors: Record<string, DataTensor> | Map<string, DataTensor>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const out = new Map<string, StWriteTensor>();
  for (const [name, t] of list) {
    out.set(name, { dtype: t.data instanceof Int32Array ? "I32" : "F32", shape: t.shape, data: t.data });
  }
  return writeSafetensors(out);
}
