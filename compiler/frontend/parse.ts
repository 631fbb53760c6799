/**
 * Stage 1: parsing with limits. Cheap checks run before any real work — byte size, JSON nesting
 * depth (a scan that never recurses), layer count — so hostile or huge input is rejected fast with
 * a `limit` error. Malformed JSON is reported with line and column.
 */
import { KilnError } from "./diagnostics.js";
import { locateJsonError } from "./json-locate.js";

export interface Limits {
  /** Largest graph text in bytes (UTF-8). Default 16 MiB. */
  maxBytes?: number;
  /** Deepest JSON nesting of arrays and objects. Default 64. */
  maxDepth?: number;
  /** Most layers. Default 10,000. */
  maxLayers?: number;
}

export const DEFAULT_LIMITS: Required<Limits> = { maxBytes: 16 * 1024 * 1024, maxDepth: 64, maxLayers: 10_000 };

export function resolveLimits(opts: Limits = {}): Required<Limits> {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
}

function limit(path: string, message: string): never {
  throw new KilnError({ code: "limit", path, message });
}

/** Parse graph text into a plain value, enforcing size, depth and layer-count limits. */
export function parseGraphText(text: string, opts: Limits = {}): unknown {
  const lim = resolveLimits(opts);
  // Characters never outnumber UTF-8 bytes, so the exact count is needed only near the limit.
  if (text.length > lim.maxBytes || Buffer.byteLength(text, "utf8") > lim.maxBytes) {
    limit("", `the graph text is ${Buffer.byteLength(text, "utf8")} bytes; the limit is ${lim.maxBytes} bytes`);
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  scanDepth(body, lim.maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new KilnError({ code: "json", path: "", message: jsonErrorMessage(body) });
  }
  checkLayerCount(value, lim.maxLayers);
  return value;
}

/** Rejects JSON text nested deeper than `maxDepth`, skipping string contents. */
function scanDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        const { line, column } = lineColumn(text, i);
        limit("", `JSON nesting deeper than ${maxDepth} levels at line ${line}, column ${column}`);
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/** The same depth limit for an already-parsed value (also stops cyclic objects). */
export function checkValueDepth(value: unknown, maxDepth: number): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d + 1 > maxDepth) limit("", `the graph is nested deeper than ${maxDepth} levels`);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
}

export function checkLayerCount(value: unknown, maxLayers: number): void {
  const layers = value !== null && typeof value === "object" ? (value as { layers?: unknown }).layers : undefined;
  if (Array.isArray(layers) && layers.length > maxLayers) {
    limit("/layers", `the graph has ${layers.length} layers; the limit is ${maxLayers}`);
  }
}

function lineColumn(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < index && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: index - start + 1 };
}

/** Where and why JSON.parse failed (V8's message does not always give a position). */
function jsonErrorMessage(text: string): string {
  const { pos, reason } = locateJsonError(text);
  const { line, column } = lineColumn(text, pos);
  return `invalid JSON at line ${line}, column ${column}: ${reason}`;
}
