/**
 * The data files of `kiln train/evaluate/predict --data`: safetensors (one tensor per input and
 * target), NumPy .npy (one array) and .npz (arrays by name), and CSV (columns by --columns). Each
 * `--data` item is `file`, `slot=file` (the whole array or single tensor is that input or target)
 * or `slot=file.npz:array` / `slot=file.safetensors:tensor` (one of its arrays, by name). Items
 * giving the same input or target are shards, concatenated in order. Values become the slot's
 * type exactly or not at all: float64 is rounded to float32 (as NumPy's astype), integers must be
 * integers in int32's range. Errors name the file, array or column and what was expected.
 */
import { readFile } from "node:fs/promises";
import { KilnError } from "../../frontend/diagnostics.js";
import { readDataFile } from "../../../runtime/safetensors.js";
import type { TensorInfo } from "../../../runtime/model.js";
import { UsageError } from "../output.js";
import { readCsv, parseColumns } from "./csv.js";
import { readNpy, type NdArray } from "./npy.js";
import { readNpz } from "./npz.js";

export type Feeds = Record<string, Float32Array | Int32Array>;

/** One `--data` item. */
export interface DataSpec {
  slot?: string;
  file: string;
  array?: string;
}

const FORMATS = /\.(safetensors|npy|npz|csv)$/i;

/** Splits a `--data` item: `slot=` only when it names an input or target, `:array` only after a .npz or .safetensors name. */
export function parseSpec(item: string, slots: string[]): DataSpec {
  let rest = item, slot: string | undefined;
  const eq = item.indexOf("=");
  if (eq > 0 && slots.includes(item.slice(0, eq))) [slot, rest] = [item.slice(0, eq), item.slice(eq + 1)];
  const m = /^(.*\.(?:npz|safetensors)):([^:/\\]+)$/i.exec(rest);
  return m ? { slot, file: m[1]!, array: m[2]! } : slot ? { slot, file: rest } : { file: rest };
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

const fail = (path: string, message: string): never => {
  throw new KilnError({ code: "data", path, message });
};
const quote = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const want = (s: TensorInfo) => `[${["N", ...s.shape].join(", ")}] ${s.dtype === "int32" ? "I32" : "F32"}`;

/** At most 10 names, quoted, then how many more. */
function someNames(names: Iterable<string>, count: number, max = 10): string {
  const shown: string[] = [];
  for (const n of names) {
    if (shown.length === max) break;
    shown.push(quote(n));
  }
  return shown.join(", ") + (count > max ? ` and ${(count - max).toLocaleString("en-US")} more` : "") || "none";
}

/** A piece of one slot's data from one file. */
interface Piece {
  data: Float32Array | Int32Array;
  count: number;
  where: string;
}

/**
 * Reads `items` and returns the data of `slots` (inputs, and targets when training or
 * evaluating), checked against their shapes and types; `columns` are the --columns items for CSV.
 */
export async function loadData(items: string[], slots: TensorInfo[], columns: string[] = []): Promise<Feeds> {
  const names = slots.map((s) => s.name);
  const pieces = new Map<string, Piece[]>(names.map((n) => [n, []]));
  const columnMap = parseColumns(columns);
  let csvSeen = false;
  for (const item of items) {
    const spec = parseSpec(item, names);
    const format = FORMATS.exec(spec.file)?.[1]?.toLowerCase();
    if (!format) throw new UsageError(`${spec.file}: unknown kind of data file; expected .safetensors, .npy, .npz or .csv`);
    if (format === "csv") {
      if (spec.slot) throw new UsageError(`${item}: a CSV file's columns are mapped with --columns ${spec.slot}=<columns>, not ${spec.slot}=<file>`);
      csvSeen = true;
      const text = new TextDecoder().decode(await readBytes(spec.file));
      for (const [name, a] of readCsv(text, spec.file, slots, columnMap)) pieces.get(name)!.push(toSlot(a, slots[names.indexOf(name)]!, `${spec.file} --columns ${name}`));
      continue;
    }
    const bytes = await readBytes(spec.file);
    const arrays = format === "npy" ? undefined : format === "npz" ? readNpz(bytes, spec.file) : safetensorsArrays(bytes);
    if (format === "npy") {
      const slot = spec.slot ?? (names.length === 1 ? names[0] : undefined);
      if (!slot) throw new UsageError(`${spec.file} holds one unnamed array; say which input or target it is, e.g. --data ${names[0]}=${spec.file} (the model takes ${names.map(quote).join(", ")})`);
      pieces.get(slot)!.push(toSlot(readNpy(bytes, spec.file), slots[names.indexOf(slot)]!, spec.file));
      continue;
    }
    if (spec.slot) {
      const key = spec.array ?? (arrays!.size === 1 ? arrays!.keys().next().value! : spec.slot);
      const a = arrays!.get(key);
      if (!a) fail(spec.slot, `${spec.file} has no array ${quote(key)} (it has ${someNames(arrays!.keys(), arrays!.size)})`);
      pieces.get(spec.slot)!.push(toSlot(a!, slots[names.indexOf(spec.slot)]!, `${spec.file}: ${key}`, format === "safetensors"));
      continue;
    }
    if (spec.array) throw new UsageError(`${item}: say which input or target the array ${quote(spec.array)} is, e.g. --data ${names[0]}=${item}`);
    const problems: { code: string; path: string; message: string }[] = [];
    for (const s of slots) {
      const a = arrays!.get(s.name);
      if (a) pieces.get(s.name)!.push(toSlot(a, s, `${spec.file}: ${s.name}`, format === "safetensors"));
      else if (format === "safetensors" && items.length === 1) problems.push({ code: "data", path: s.name, message: `${spec.file} has no tensor "${s.name}": expected ${want(s)} (it has ${someNames(arrays!.keys(), arrays!.size)})` });
    }
    if (problems.length) throw new KilnError(problems);
  }
  if (columns.length && !csvSeen) throw new UsageError("--columns maps the columns of a CSV file, and no --data file is .csv");
  return combine(slots, pieces);
}

/** Each slot's pieces concatenated (shards); every slot present and with the same example count. */
function combine(slots: TensorInfo[], pieces: Map<string, Piece[]>): Feeds {
  const feeds: Feeds = Object.create(null); // an input named "__proto__" is a key like any other
  const missing = slots.filter((s) => !pieces.get(s.name)!.length);
  if (missing.length) {
    throw new KilnError(missing.map((s) => ({ code: "data", path: s.name, message: `no --data file gives "${s.name}": expected ${want(s)} (a safetensors tensor or .npz array of that name, ${s.name}=<file.npy>, or --columns ${s.name}=… for a CSV)` })));
  }
  let first: { name: string; count: number; where: string } | undefined;
  for (const s of slots) {
    const list = pieces.get(s.name)!, count = list.reduce((a, p) => a + p.count, 0);
    first ??= { name: s.name, count, where: list.map((p) => p.where).join(" + ") };
    if (count !== first.count) fail(s.name, `"${s.name}" has ${count} examples (${list.map((p) => p.where).join(" + ")}) but "${first.name}" has ${first.count} (${first.where}); every input and target needs one per example`);
    if (list.length === 1) {
      feeds[s.name] = list[0]!.data;
      continue;
    }
    const all = s.dtype === "int32" ? new Int32Array(count * sizeOf(s.shape)) : new Float32Array(count * sizeOf(s.shape));
    let at = 0;
    for (const p of list) {
      all.set(p.data, at);
      at += p.data.length;
    }
    feeds[s.name] = all;
  }
  return feeds;
}

/** A safetensors data file's tensors as arrays by name (F32 and I32, as spec §5 allows). */
function safetensorsArrays(bytes: Uint8Array): Map<string, NdArray> {
  const out = new Map<string, NdArray>();
  for (const [name, t] of readDataFile(bytes).tensors) out.set(name, { kind: t.data instanceof Int32Array ? "i4" : "f4", shape: t.shape, data: t.data });
  return out;
}

const KIND_NAMES: Record<NdArray["kind"], string> = { f4: "float32", f8: "float64", i4: "int32", i8: "int64", u1: "uint8", b1: "bool" };

/**
 * An array as a slot's data: its shape after the batch axis must be the slot's; values converted
 * exactly (float64 rounds to float32). `exact`: safetensors data, whose dtype must be the slot's
 * (spec §5: F32 or I32 as the input or target is), as kiln's own files always are.
 */
export function toSlot(a: NdArray, s: TensorInfo, where: string, exact = false): Piece {
  const shape = `[${a.shape.join(", ")}] ${exact ? (a.kind === "i4" ? "I32" : "F32") : KIND_NAMES[a.kind]}`;
  if (exact && (a.kind === "i4") !== (s.dtype === "int32")) fail(s.name, `${where}: expected ${want(s)} for "${s.name}", got ${shape}`);
  if (a.shape.length !== s.shape.length + 1 || s.shape.some((d, i) => a.shape[i + 1] !== d)) {
    const sameSize = a.shape.length >= 1 && sizeOf(a.shape.slice(1)) === sizeOf(s.shape);
    fail(s.name, `${where}: expected ${want(s)} for "${s.name}", got ${shape}${sameSize ? ` (the same ${sizeOf(s.shape)} values per example: reshape it to [N, ${s.shape.join(", ")}])` : ""}`);
  }
  const count = a.shape[0]!, n = a.data.length;
  if (s.dtype === "float32") {
    if (a.data instanceof Float32Array) return { data: a.data, count, where };
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(a.data[i]!);
    return { data: out, count, where };
  }
  if (a.data instanceof Int32Array) return { data: a.data, count, where };
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(a.data[i]!);
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      fail(s.name, `${where}: "${s.name}" takes int32 ids; element ${i} (example ${Math.floor(i / sizeOf(s.shape))}) is ${String(a.data[i])}, expected an integer in int32's range`);
    }
    out[i] = v;
  }
  return { data: out, count, where };
}
