/**
 * Safe pieces of AssemblyScript source. Generated code is assembled only from identifiers made by
 * kiln (counters and a fixed vocabulary, checked by `ident`) and numbers formatted by `f32lit` /
 * `intlit`. Nothing from a graph file (names, strings) ever reaches source text: user text is
 * only ever carried in the manifest (JSON in a custom section), never in code.
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An identifier made by kiln. Throws on anything that is not a plain identifier. */
export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`internal: "${name}" is not a generated identifier`);
  return name;
}

/** An exact f32 literal: the shortest decimal that rounds back to the same f32. */
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

/** Indents every line of a block by `n` levels of two spaces. */
export function indent(block: string, n = 1): string {
  const pad = "  ".repeat(n);
  return block.split("\n").map((l) => (l.length ? pad + l : l)).join("\n");
}
