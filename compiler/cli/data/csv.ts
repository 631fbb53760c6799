/**
 * CSV data (parsed with csv-parse): a header row naming the columns, then one example per row.
 * `--columns` says which columns make which input or target: `image=pixel0:pixel783` (a range of
 * the header, inclusive), `label=label`, or a list `xy=x,y` (mixable: `a=c1,c4:c9`); the values
 * fill the slot's shape in C order. Every value must be a decimal number. Errors name the file,
 * the line and the column.
 */
import { parse } from "csv-parse/sync";
import { KilnError } from "../../frontend/diagnostics.js";
import type { NdArray } from "./npy.js";

export interface CsvSlot {
  name: string;
  shape: number[];
}

const fail = (file: string, message: string): never => {
  throw new KilnError({ code: "data", path: file, message });
};
const quote = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `--columns` items ("slot=spec") by slot name; a slot named twice is an error. */
export function parseColumns(items: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0 || eq === item.length - 1) fail("--columns", `expected <input or target>=<columns>, e.g. image=pixel0:pixel783 or label=label; got ${quote(item)}`);
    const slot = item.slice(0, eq);
    if (out.has(slot)) fail("--columns", `${quote(slot)} is given columns twice`);
    out.set(slot, item.slice(eq + 1));
  }
  return out;
}

/** The header indices a column spec names, in order ("a", "a:b" ranges inclusive, comma-separated). */
function resolve(spec: string, header: string[], file: string, slot: string): number[] {
  const index = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) fail(file, `--columns ${slot}: no column ${quote(name)} in the header (it has ${header.slice(0, 8).map(quote).join(", ")}${header.length > 8 ? ` and ${header.length - 8} more` : ""})`);
    return i;
  };
  const out: number[] = [];
  for (const piece of spec.split(",")) {
    const colon = piece.indexOf(":");
    if (colon < 0 || header.includes(piece)) {
      out.push(index(piece));
      continue;
    }
    const [a, b] = [index(piece.slice(0, colon)), index(piece.slice(colon + 1))];
    if (b < a) fail(file, `--columns ${slot}: the range ${quote(piece)} runs backwards (column ${b + 1} before column ${a + 1})`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/**
 * The arrays (float64, shape [rows, ...slot shape]) of the slots `columns` maps, read from CSV
 * text. A slot of one value whose name is a header column needs no --columns entry.
 */
export function readCsv(text: string, file: string, slots: CsvSlot[], columns: Map<string, string>): Map<string, NdArray> {
  let header: string[] | undefined;
  let wanted: { slot: CsvSlot; cols: number[]; data: Float64Array; per: number }[] = [];
  let rows = 0;
  const onRecord = (record: string[], ctx: { lines: number }) => {
    if (!header) {
      header = record;
      wanted = plan(header, file, slots, columns);
      return null;
    }
    for (const w of wanted) {
      if ((rows + 1) * w.per > w.data.length) {
        const grown = new Float64Array(Math.max(w.data.length * 2, w.per * 1024));
        grown.set(w.data);
        w.data = grown;
      }
      w.cols.forEach((c, k) => {
        const s = record[c]!.trim();
        if (!NUMBER.test(s)) fail(file, `line ${ctx.lines}, column ${quote(header![c]!)}: expected a number, got ${quote(s)}`);
        w.data[rows * w.per + k] = Number(s);
      });
    }
    rows++;
    return null;
  };
  try {
    parse(text, { bom: true, skip_empty_lines: true, on_record: onRecord as never });
  } catch (e) {
    if (e instanceof KilnError) throw e;
    fail(file, `not readable as CSV: ${(e as Error)?.message ?? String(e)}`);
  }
  if (!header) fail(file, "empty: expected a header row naming the columns, then one row per example");
  if (!rows) fail(file, "has a header but no rows of data");
  return new Map(wanted.map((w) => [w.slot.name, { kind: "f8" as const, shape: [rows, ...w.slot.shape], data: w.data.slice(0, rows * w.per) }]));
}

function plan(header: string[], file: string, slots: CsvSlot[], columns: Map<string, string>) {
  const known = new Set(slots.map((s) => s.name));
  for (const name of columns.keys()) {
    if (!known.has(name)) fail("--columns", `${quote(name)} is not an input or target of the model; expected one of ${[...known].map(quote).join(", ")}`);
  }
  const out: { slot: CsvSlot; cols: number[]; data: Float64Array; per: number }[] = [];
  for (const slot of slots) {
    const per = slot.shape.reduce((a, b) => a * b, 1);
    const spec = columns.get(slot.name) ?? (per === 1 && header.includes(slot.name) ? slot.name : undefined);
    if (spec === undefined) continue;
    const cols = resolve(spec, header, file, slot.name);
    if (cols.length !== per) fail(file, `--columns ${slot.name} names ${cols.length} column${cols.length === 1 ? "" : "s"}; "${slot.name}" takes ${per} value${per === 1 ? "" : "s"} per example (shape [${slot.shape.join(", ")}])`);
    out.push({ slot, cols, data: new Float64Array(0), per });
  }
  return out;
}
