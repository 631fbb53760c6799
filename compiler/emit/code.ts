/**
 * Safe pieces of AssemblyScript source. Generated code is assembled only from identifiers made by
 * kiln (counters and a fixed vocabulary, checked by `ident`) and numbers formatted by `f32lit` /
 * `intlit`. Nothing from a graph file (names, strings) ever reaches source text: user text is
 * only ever carried in the manifest (JSON in a custom section), never in code.
 */
import type { KernelParam } from "./kernel.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An identifier made by kiln. Throws on anything that is not a plain identifier. */
export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`internal: "${name}" is not a generated identifier`);
  return name;
}

/** An exact f32 literal: the shortest decimal that rounds back to the same f32. */
/** An f64 literal (full precision, for once-per-step scalar math). */
export function f64lit(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal: ${x} is not a finite constant`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : s + ".0";
}

export function f32lit(x: number): string {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  if (Object.is(v, -0)) return "(-0.0 as f32)";
  let s = "";
  for (let p = 1; p <= 17; p++) {
    s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) break;
  }
  s = String(Number(s));
  if (!/[.eE]/.test(s)) s += ".0";
  return `(${s} as f32)`;
}

/** An integer literal (i32/usize range checked). */
export function intlit(n: number): string {
  if (!Number.isSafeInteger(n) || n < -2147483648 || n > 4294967295) throw new Error(`internal: ${n} is not a 32-bit integer`);
  return String(n);
}

// ---------------------------------------------------------------- lines and blocks

/**
 * Source text as emitters build it: a string (one or more lines) or a list of pieces, nested as
 * convenient. The one idiom for lines and indentation: collect pieces in arrays, `lines` joins
 * them, `indent` and `block` nest them. (Empty lines are never indented.)
 */
export type Src = string | readonly Src[];

/** The pieces joined into lines. */
export function lines(...parts: Src[]): string {
  return parts.map((p) => (typeof p === "string" ? p : lines(...p))).join("\n");
}

/** Every line of `src` indented by `n` levels of two spaces. */
export function indent(src: Src, n = 1): string {
  const pad = "  ".repeat(n);
  return lines(src).split("\n").map((l) => (l.length ? pad + l : l)).join("\n");
}

/** A braced block: `head` (ending in "{"), the body indented one level, `close`. */
export function block(head: string, body: Src, close = "}"): string {
  return `${head}\n${indent(body)}\n${close}`;
}

// ---------------------------------------------------------------- kernel sizes and names

/**
 * A kernel-size argument: a compile-time size, or the name of an i32 kernel parameter that holds
 * a size known only at run time (kernel selection names them rt0, rt1…; tests use any name).
 * Not the IR's `Dim` (a size or a multiple of the batch): selection turns each Dim into a SizeArg.
 */
export type SizeArg = number | string;

/**
 * THE NAMING RULE for kernel bodies. A body uses three kinds of names: its tensor parameters
 * (fixed per emitter: x, y, in0…), the runtime-size parameters its caller names (SizeArg
 * strings), and the locals it declares. A runtime size must never shadow a local or repeat a
 * parameter, so every emitter declares its locals as one `Locals` and turns sizes into source
 * and parameters only through `sizeSrc` and `kernelParams`, which enforce it. The locals of an
 * emitter follow one of three conventions (none changes what is generated today):
 *   - PREFIXED (`_j`, `_p0`): every local starts with "_" — elementwise, reduce, softmax, copy, gather;
 *   - SUFFIXED (`ic_`, `sa_`): every local ends with "_" — the GEMM family (matmul, gemm-core,
 *     gemv, conv, winograd, chunks), plus the few plain names a body declares on top (`listed`);
 *   - listed: plain names, every one listed — loss, dropout, optimizer, pool.
 * test/kernels/locals.test.ts checks, for kernels of every emitter, that every name a body
 * declares is covered by its emitter's Locals.
 */
export interface Locals {
  /** Emitter name for error messages ("emitMatmul"). */
  readonly emitter: string;
  readonly style: "prefixed" | "suffixed" | "listed";
  /** Plain names declared in bodies besides those the style covers (all of them for "listed"). */
  readonly listed: ReadonlySet<string>;
}

/** The local-name convention of one emitter (see Locals). */
export function locals(emitter: string, style: Locals["style"], listed: readonly string[] = []): Locals {
  return { emitter, style, listed: new Set(listed) };
}

/** Whether `name` is (or could be) a local of a body following `l`. */
export function isLocal(l: Locals, name: string): boolean {
  if (l.listed.has(name)) return true;
  return l.style === "prefixed" ? name.startsWith("_") : l.style === "suffixed" ? name.endsWith("_") : false;
}

/** The name of a runtime size: a generated identifier that is none of the emitter's locals. */
function sizeName(l: Locals, name: string): string {
  if (isLocal(l, name)) {
    const why = l.style === "prefixed" ? ` (its locals start with "_")` : l.style === "suffixed" ? ` (its locals end with "_")` : "";
    throw new Error(`internal: ${l.emitter}: runtime size "${name}" collides with a kernel local${why}`);
  }
  return ident(name);
}

/** Source text of a size: a non-negative integer literal, or the checked parameter name. */
export function sizeSrc(l: Locals, d: SizeArg, what = "size"): string {
  if (typeof d === "number") {
    if (!Number.isInteger(d) || d < 0) throw new Error(`internal: ${l.emitter}: ${what} must be a non-negative integer, got ${d}`);
    return intlit(d);
  }
  return sizeName(l, d);
}

/**
 * A kernel's parameters: the tensors (usize) in order, then each distinct runtime size (i32) in
 * order of first appearance. A size may not repeat a tensor's name nor be a local.
 */
export function kernelParams(l: Locals, tensors: readonly string[], ...sizes: SizeArg[]): KernelParam[] {
  const params: KernelParam[] = tensors.map((name) => ({ name: ident(name), type: "usize" as const }));
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) throw new Error(`internal: ${l.emitter}: tensor parameter "${p.name}" appears twice`);
    seen.add(p.name);
  }
  for (const d of sizes) {
    if (typeof d !== "string" || params.some((p) => p.name === d && p.type === "i32")) continue;
    if (seen.has(d)) throw new Error(`internal: ${l.emitter}: runtime size "${d}" collides with a tensor parameter`);
    params.push({ name: sizeName(l, d), type: "i32" });
    seen.add(d);
  }
  return params;
}
