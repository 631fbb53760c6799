/**
 * The Winograd transform matrices (F(2×2,3×3) and F(4×4,3×3): input Bᵀ, filter G, output Aᵀ) and
 * the code that applies them in 1-D and 2-D, over lane groups (4 channels or filters at once, or 1).
 */
import { SCALAR as F32, SIMD, type Ops } from "../ops.js";
import type { WinogradTile } from "../../select/rules.js";
import { intlit } from "../code.js";

/** Operations on one "lane group": a v128 of 4 channels/filters, or one f32 (remainders). */
export interface Lanes {
  width: 1 | 4;
  load(ptr: string, off: number): string;
  store(ptr: string, off: number, v: string): string;
  add(a: string, b: string): string;
  sub(a: string, b: string): string;
  /** a · c for a constant c. */
  scale(a: string, c: number): string;
}
const lanes = (o: Ops): Lanes => ({
  width: o.width, load: o.load, store: (p, off, v) => o.store(p, v, off), add: o.add, sub: o.sub, scale: (a, c) => o.mul(a, o.k(c)),
});
export const VEC = lanes(SIMD);
export const SCALAR = lanes(F32);

/**
 * A 1-D transform out = T·in: `coef` is the matrix. `program`, where given, computes it with
 * shared subexpressions (the F(4×4) matrices): expressions over the inputs, `tmp(e)` binding e to
 * a local and returning its name. Without one each row is summed directly (see combine). Programs
 * are checked against `coef` when this module loads.
 */
export interface Transform { coef: number[][]; program?: Program }
type Program = (x: string[], L: Lanes, tmp: (e: string) => string) => string[];

const BT2: Transform = { coef: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]] };
const G2: Transform = { coef: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]] };
const AT2: Transform = { coef: [[1, 1, 1, 0], [0, 1, -1, -1]] };

/** F(4×4,3×3): Bᵀ with 6 shared sums (d4−d2 and 2·(d3−d1) serve two rows). */
const BT4: Transform = {
  coef: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
  program: (d, L, tmp) => {
    const t = tmp(L.sub(d[4], d[2])), u = tmp(L.scale(L.sub(d[3], d[1]), 2));
    return [
      L.add(L.sub(d[4], L.scale(d[2], 5)), L.scale(d[0], 4)),
      L.sub(L.add(d[3], d[4]), L.scale(L.add(d[1], d[2]), 4)),
      L.add(L.sub(d[4], d[3]), L.scale(L.sub(d[1], d[2]), 4)),
      L.add(t, u),
      L.sub(t, u),
      L.add(L.sub(d[5], L.scale(d[3], 5)), L.scale(d[1], 4)),
    ];
  },
};
const G4: Transform = {
  coef: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
  program: (g, L, tmp) => {
    const a = tmp(L.add(g[0], g[2])), b = tmp(L.add(L.scale(g[0], 1 / 24), L.scale(g[2], 1 / 6))), c = tmp(L.scale(g[1], 1 / 12));
    return [L.scale(g[0], 1 / 4), L.scale(L.add(a, g[1]), -1 / 6), L.scale(L.sub(a, g[1]), -1 / 6), L.add(b, c), L.sub(b, c), g[2]];
  },
};
const AT4: Transform = {
  coef: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
  program: (x, L, tmp) => {
    const p = tmp(L.add(x[1], x[2])), q = tmp(L.sub(x[1], x[2])), r = tmp(L.add(x[3], x[4])), s = tmp(L.sub(x[3], x[4]));
    return [L.add(L.add(x[0], p), r), L.add(q, L.scale(s, 2)), L.add(p, L.scale(r, 4)), L.add(L.add(q, L.scale(s, 8)), x[5])];
  },
};

/** The transforms of one tile size: input (Bᵀ), filter (G), output (Aᵀ). */
export const TRANSFORMS: Record<WinogradTile, { BT: Transform; G: Transform; AT: Transform }> = {
  2: { BT: BT2, G: G2, AT: AT2 },
  4: { BT: BT4, G: G4, AT: AT4 },
};

/** Evaluates a program on each unit vector (expressions are plain numbers) and compares with coef. */
export function checkProgram(t: Transform): void {
  const num = (v: number) => String(v);
  const NUM: Lanes = {
    width: 1, load: () => { throw new Error("internal"); }, store: () => { throw new Error("internal"); },
    add: (a, b) => num(+a + +b), sub: (a, b) => num(+a - +b), scale: (a, c) => num(+a * c),
  };
  const n = t.coef[0].length;
  for (let i = 0; i < n; i++) {
    const outs = t.program!(Array.from({ length: n }, (_, j) => num(i === j ? 1 : 0)), NUM, (e) => e);
    outs.forEach((v, k) => {
      if (Math.abs(+v - t.coef[k][i]) > 1e-12) throw new Error(`internal: winograd transform program row ${k} column ${i} gives ${v}, not ${t.coef[k][i]}`);
    });
  }
}
for (const t of [BT4, G4, AT4]) checkProgram(t);

/**
 * One output of a 1-D transform without a program: the row's terms in index order starting from
 * a positive one, then one scale when the row's entries share a magnitude other than 1
 * (F(2×2)'s ½ rows). So the sum order is fixed by the matrix.
 */
function combine(t: Transform, k: number, ins: string[], L: Lanes): string {
  const terms = t.coef[k].map((c, m) => ({ c, m })).filter(({ c }) => c !== 0);
  const first = terms.findIndex(({ c }) => c > 0);
  if (first < 0) throw new Error("internal: winograd transform row without a positive term");
  const mag = terms[first].c;
  if (terms.some(({ c }) => Math.abs(c) !== mag)) throw new Error("internal: winograd transform row with mixed magnitudes needs a program");
  let e = ins[terms[first].m];
  terms.forEach(({ c, m }, i) => {
    if (i !== first) e = c > 0 ? L.add(e, ins[m]) : L.sub(e, ins[m]);
  });
  return mag !== 1 ? L.scale(e, mag) : e;
}

/** out = T·ins: code for the program's temporaries (locals named pfx t0_, t1_…) and the outputs' expressions. */
function apply1d(t: Transform, ins: string[], L: Lanes, pfx: string): { lines: string[]; outs: string[] } {
  if (!t.program) return { lines: [], outs: t.coef.map((_, k) => combine(t, k, ins, L)) };
  const lines: string[] = [];
  const outs = t.program(ins, L, (e) => {
    const name = `${pfx}t${lines.length}_`;
    lines.push(`const ${name} = ${e};`);
    return name;
  });
  return { lines, outs };
}

/** A row or column of a 2-D transform: a constant where unrolled, the loop counter's name (an i32 local) where looped. */
export type Index = number | string;

/**
 * The address ptr + off + index·stride bytes as the [pointer, constant offset] a Lanes load or
 * store takes: a constant index folds into the offset (unrolled code reads as before), a looped
 * one moves the pointer.
 */
export function at(ptr: string, off: number, index: Index, stride: number): [string, number] {
  return typeof index === "number" ? [ptr, off + index * stride] : [`${ptr} + <usize>(${index} * ${intlit(stride)})`, off];
}

/** A constant index (the callers whose passes are never looped). */
export function unrolled(index: Index): number {
  if (typeof index !== "number") throw new Error("internal: winograd transform: this pass cannot run as a loop");
  return index;
}

/**
 * Where a 2-D transform keeps its intermediate (layout.ts: stagedIn), and which passes run as a
 * loop rather than unrolled. A loop runs the same expressions in the same order on each column
 * (row), so the results are the same bits; it saves code: an F(4×4) transform unrolled is ~1–2 KB
 * of wasm per lane group, and the seed CNN's training module has a budget (bench/README.md).
 */
export interface Staging { at: string; loopCols: boolean; loopRows: boolean }

/**
 * out = T·X·Tᵀ for an n×n input named by `input(i, j)` (expressions or identifiers): first the
 * columns (temporaries p{k}{j}_, or in `stage`), then the rows; `emit(k, l, expr)` receives each
 * result. With `stage.loopCols` the column pass is one loop over j (input gets the counter's name
 * for j), with `stage.loopRows` the row pass one loop over k (emit gets it for k).
 */
export function transform2d(t: Transform, n: number, input: (i: number, j: Index) => string, L: Lanes, pfx: string,
  emit: (k: Index, l: number, expr: string) => string[], stage?: Staging): string[] {
  const lines: string[] = [], m = t.coef.length, idx = Array.from({ length: n }, (_, i) => i);
  const column = (j: Index, tag: string | number) => {
    // bind the column's inputs once: each one feeds several outputs
    const body = idx.map((i) => `const ${pfx}x${i}${tag}_ = ${input(i, j)};`);
    const col = apply1d(t, idx.map((i) => `${pfx}x${i}${tag}_`), L, `${pfx}c${tag}`);
    body.push(...col.lines, ...col.outs.map((e, k) => stage ? L.store(...at(stage.at, k * n * 16, j, 16), e) : `const ${pfx}${k}${j}_ = ${e};`));
    return body;
  };
  const row = (k: Index, tag: string | number) => {
    const body = stage ? idx.map((j) => `const ${pfx}${tag}${j}_ = ${L.load(...at(stage.at, j * 16, k, n * 16))};`) : [];
    const r = apply1d(t, idx.map((j) => `${pfx}${tag}${j}_`), L, `${pfx}r${tag}`);
    body.push(...r.lines);
    r.outs.forEach((e, l) => body.push(...emit(k, l, e)));
    return body;
  };
  if (stage?.loopCols) {
    lines.push(`for (let ${pfx}j_ = 0; ${pfx}j_ < ${intlit(n)}; ${pfx}j_++) {`, ...column(`${pfx}j_`, "j").map((l) => "  " + l), `}`);
  } else {
    for (let j = 0; j < n; j++) lines.push(...column(j, j));
  }
  if (stage?.loopRows) {
    lines.push(`for (let ${pfx}k_ = 0; ${pfx}k_ < ${intlit(m)}; ${pfx}k_++) {`, ...row(`${pfx}k_`, "k").map((l) => "  " + l), `}`);
  } else {
    for (let k = 0; k < m; k++) lines.push(...row(k, k));
  }
  return lines;
}
