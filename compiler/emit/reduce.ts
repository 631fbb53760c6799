/**
 * Emitter: reductions of an elementwise pre-expression over one axis of an [outer, mid, inner]
 * view: axis "mid" → out[outer, inner], axis "outer" → out[mid, inner]. Both are out[p, q] =
 * op over r of pre(e) with e = (p·R + r)·Q + q; the kernel vectorizes along q (register tiles of
 * 16 columns, so column sums over many rows stream at full width), or along r when Q = 1
 * (four accumulators, then a horizontal reduction), or falls back to scalar loops.
 */
import { block, f32lit, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";
import type { EwExpr, EwInput } from "../ir/expr.js";
import { bare, SCALAR, SIMD, type Ops } from "./ops.js";
import {
  type Access, EwCodegen, ExprDag, checkCount, classifyInput, flit, inputIndex,
} from "./elementwise.js";

export type ReduceOp = "sum" | "max" | "min" | "mean";
export interface ReduceSpec {
  outer: SizeArg; mid: number; inner: number; axis: "mid" | "outer"; op: ReduceOp;
  /** Index space is the [outer, mid, inner] flat index. */
  inputs: EwInput[];
  /** The value reduced (default: input 0). */
  pre?: EwExpr;
  scale?: number;
  accumulate?: boolean;
  /**
   * Further sums over the same rows (sum only, no scale, column tiles): each term has its own
   * accumulators and the store is ((0 + Σ pre) + Σ terms[0]) + …, bit for bit what a zero fill
   * and one accumulating reduction per term store when the rows fit one chunk (schedule.ts:
   * mergeAccumulatedSums checks that; past one chunk the association differs).
   */
  terms?: EwExpr[];
}

/** How partial results combine: the initial value (f32 source), the Ops operation, the horizontal helper. */
interface Combiner { init: string; op: "add" | "max" | "min"; h: string }
const COMBINE: Record<"sum" | "max" | "min", Combiner> = {
  sum: { init: "0.0", op: "add", h: "hsum4" },
  max: { init: "(<f32>-Infinity)", op: "max", h: "hmax4" },
  min: { init: "(<f32>Infinity)", op: "min", h: "hmin4" },
};
/** combine(a, b) in the width of `o`, as a right-hand side. */
const combine = (c: Combiner, o: Ops, a: string, b: string): string => bare(o[c.op](a, b));

/** The reduction as out[p, q] = op_r pre((p·R + r)·Q + q). */
interface View { P: SizeArg; R: SizeArg; Q: number }

/** Locals start with "_" (as elementwise's: the kernels share EwCodegen). */
export const REDUCE_LOCALS = locals("emitReduce", "prefixed");
const size = (d: SizeArg): string => sizeSrc(REDUCE_LOCALS, d);

function view(spec: ReduceSpec): View {
  return spec.axis === "mid" ? { P: spec.outer, R: spec.mid, Q: spec.inner } : { P: 1, R: spec.outer, Q: spec.mid * spec.inner };
}

class ReduceGen {
  readonly dag: ExprDag;
  readonly root: number;
  /** The pre-expression's root, then each term's (`spec.terms`). */
  readonly roots: number[];
  readonly c: Combiner;
  constructor(readonly spec: ReduceSpec, readonly v: View) {
    this.dag = new ExprDag(spec.inputs.length);
    this.root = this.dag.add(spec.pre ?? { k: "in", i: 0 });
    this.roots = [this.root, ...(spec.terms ?? []).map((t) => this.dag.add(t))];
    this.c = COMBINE[spec.op === "mean" ? "sum" : spec.op];
  }

  /**
   * Statements storing the finished value `val` (f32 or v128) at out + idx. With `addIf` (row
   * chunks of a sum), the value is added to what is there unless the i32 condition is false.
   */
  store(val: string, idx: string, vec: boolean, addIf?: string): string[] {
    const at = `out + (<usize>(${idx}) << 2)`;
    const o = vec ? SIMD : SCALAR;
    const x = this.hasFinal() ? bare(o.mul(val, o.splat("_fin"))) : val;
    const add = this.spec.accumulate ? "1" : addIf;
    const sum = bare(o.add(o.load(at), x));
    const v = add === undefined ? x : add === "1" ? sum : `${add} ? ${sum} : ${x}`;
    return [o.store(at, v)];
  }

  /**
   * Rows per chunk for column sums: a 16-column tile walking thousands of rows 4·Q bytes apart
   * misses the TLB on every few rows, so sums are taken over ~64 KB row chunks and added up.
   * 0: no chunking (max/min, or few enough rows).
   */
  rowChunk(): number {
    if (this.spec.op !== "sum" && this.spec.op !== "mean") return 0;
    const rb = Math.max(8, Math.floor(16384 / this.v.Q));
    return typeof this.v.R === "number" && this.v.R <= rb ? 0 : rb;
  }

  hasFinal(): boolean {
    return this.spec.op === "mean" || (this.spec.scale !== undefined && this.spec.scale !== 1);
  }

  /** `const _fin: f32` = scale (÷ the reduced count for mean). */
  finalLine(): string[] {
    if (!this.hasFinal()) return [];
    const scale = this.spec.scale ?? 1;
    if (this.spec.op !== "mean") return [`const _fin: f32 = ${flit(scale)};`];
    if (typeof this.v.R === "number") return [`const _fin: f32 = ${f32lit(scale / this.v.R)};`];
    return [`const _fin: f32 = ${flit(scale)} / <f32>${size(this.v.R)};`];
  }

  pLoop(inner: string[]): string[] {
    if (this.v.P === 1) return ["const _pp: i32 = 0;", ...inner];
    return [block(`for (let _pp: i32 = 0; _pp < ${size(this.v.P)}; _pp++) {`, inner)];
  }

  blockOf(r: string): string {
    return this.v.P === 1 ? r : `_pp * ${size(this.v.R)} + ${r}`;
  }

  /** One column tile: `nv` vectors (nv = 0: one scalar column) accumulated over r (per term: `_a`, `_b1`, `_b2`, …). */
  tile(cg: EwCodegen, nv: number): string[] {
    const { c } = this;
    const names = (t: number) => (nv === 0 ? [t ? `_b${t}` : "_a"] : Array.from({ length: nv }, (_, u) => (t ? `_b${t}_${u}` : `_a${u}`)));
    const accs = names(0);
    const o = nv === 0 ? SCALAR : SIMD;
    const all = this.roots.flatMap((_, t) => names(t));
    const decl = all.map((a) => `let ${a}: ${o.ty} = ${o.splat(c.init)};`);
    const step: string[] = ["const _blk: i32 = " + this.blockOf("_rr") + ";", ...cg.block(this.roots, "_blk")];
    accs.forEach((_, u) => {
      const j = u === 0 ? "_qq" : `_qq + ${intlit(4 * u)}`;
      const b = cg.body(this.roots, nv === 0 ? "s" : "v", j, String(u));
      step.push(...b.lines, ...this.roots.map((_, t) => `${names(t)[u]} = ${combine(c, o, names(t)[u]!, b.vals[t]!)};`));
    });
    // With terms: ((0 + Σ pre) + Σ term 1) + …, as a zero fill and accumulating stores would add them.
    const value = (u: number) => this.roots.slice(1).reduce((sum, _, t) => bare(o.add(sum, names(t + 1)[u]!)), this.roots.length > 1 ? bare(o.add(o.splat("0.0"), accs[u]!)) : accs[u]!);
    const rb = this.rowChunk();
    const out = accs.flatMap((_, u) => this.store(value(u), `_pp * ${intlit(this.v.Q)} + _qq${u ? ` + ${intlit(4 * u)}` : ""}`, nv > 0, rb ? "_r0 > 0" : undefined));
    const R = size(this.v.R);
    if (!rb) return [...decl, block(`for (let _rr: i32 = 0; _rr < ${R}; _rr++) {`, step), ...out];
    const chunk = [`const _r1: i32 = min<i32>(_r0 + ${intlit(rb)}, ${R});`, ...decl, block("for (let _rr: i32 = _r0; _rr < _r1; _rr++) {", step), ...out];
    return [block(`for (let _r0: i32 = 0; _r0 < ${R}; _r0 += ${intlit(rb)}) {`, chunk)];
  }

  /** Vectorized along q (Q ≥ 4): 16-column tiles, then 4-column tiles, then scalar columns. */
  alongQ(cg: EwCodegen): string[] {
    const Q = this.v.Q;
    const body = ["let _qq: i32 = 0;"];
    const loop = (w: number, nv: number): void => {
      body.push(block(`for (; _qq + ${intlit(w)} <= ${intlit(Q)}; _qq += ${intlit(w)}) {`, this.tile(cg, nv)));
    };
    if (Q >= 16) loop(16, 4);
    if (Q % 16 >= 4) loop(4, 1);
    if (Q % 4 !== 0) loop(1, 0);
    return [...cg.top(this.roots), ...this.finalLine(), ...this.pLoop(body)];
  }

  /** Vectorized along r (Q = 1): four vector accumulators, a horizontal step, a scalar tail. */
  alongR(cg: EwCodegen): string[] {
    const { c } = this;
    const R = size(this.v.R);
    const body = [...cg.block([this.root], "_pp"), ...[0, 1, 2, 3].map((u) => `let _a${u}: v128 = f32x4.splat(${c.init});`), "let _rr: i32 = 0;"];
    const steps = (nv: number): string[] => Array.from({ length: nv }, (_, u) => {
      const b = cg.body([this.root], "v", u ? `_rr + ${intlit(4 * u)}` : "_rr", String(u));
      return [...b.lines, `_a${u} = ${combine(c, SIMD, `_a${u}`, b.vals[0])};`].join("\n");
    });
    const constR = typeof this.v.R === "number" ? this.v.R : Infinity;
    if (constR >= 16) body.push(block(`for (; _rr + 16 <= ${R}; _rr += 16) {`, steps(4)));
    if (constR >= 4) body.push(block(`for (; _rr + 4 <= ${R}; _rr += 4) {`, steps(1)));
    const s = cg.body([this.root], "s", "_rr", "t");
    body.push(
      `let _a: f32 = ${c.h}(${combine(c, SIMD, combine(c, SIMD, "_a0", "_a1"), combine(c, SIMD, "_a2", "_a3"))});`,
      block(`for (; _rr < ${R}; _rr++) {`, [...s.lines, `_a = ${combine(c, SCALAR, "_a", s.vals[0])};`]),
      ...this.store("_a", "_pp", false),
    );
    return [...cg.top([this.root]), ...this.finalLine(), ...this.pLoop(body)];
  }

  /** Scalar loops with a generic index per element (broadcasts that do not fit a vector run). */
  scalar(cg: EwCodegen): string[] {
    const b = cg.body([this.root], "s", "0", "");
    const step = [`const _e: i32 = (${this.blockOf("_rr")}) * ${intlit(this.v.Q)} + _qq;`, ...cg.block([this.root], "_e"), ...b.lines, `_a = ${combine(this.c, SCALAR, "_a", b.vals[0])};`];
    const perQ = [`let _a: f32 = ${this.c.init};`, block(`for (let _rr: i32 = 0; _rr < ${size(this.v.R)}; _rr++) {`, step),
      ...this.store("_a", `_pp * ${intlit(this.v.Q)} + _qq`, false)];
    const body = [block(`for (let _qq: i32 = 0; _qq < ${intlit(this.v.Q)}; _qq++) {`, perQ)];
    return [...cg.top([this.root]), ...this.finalLine(), ...this.pLoop(body)];
  }

  private classify(L: number | null): Access[] | null {
    const acc = this.spec.inputs.map((m) => classifyInput(m, L));
    return acc.every((a) => a !== null) ? (acc as Access[]) : null;
  }

  private finish(access: Access[], gen: (cg: EwCodegen) => string[], extra: string[]): { body: string; needs: string[] } {
    const cg = new EwCodegen(this.dag, this.spec.inputs, access);
    return { body: gen(cg).join("\n"), needs: [...cg.needs(this.roots), ...extra] };
  }

  emit(): { body: string; needs: string[] } {
    const { Q, R } = this.v;
    const alongQ = Q >= 4 ? this.classify(Q) : null;
    if (alongQ) return this.finish(alongQ, (cg) => this.alongQ(cg), []);
    if (this.roots.length > 1) throw new Error("internal: a reduction with terms needs column tiles (Q ≥ 4, contiguous inputs)");
    const longR = typeof R !== "number" || R >= 4;
    const alongR = Q === 1 && longR ? this.classify(typeof R === "number" ? R : null) : null;
    if (alongR) return this.finish(alongR, (cg) => this.alongR(cg), [this.c.h]);
    const generic: Access[] = this.spec.inputs.map((m) => ({ kind: "contig", first: (e) => inputIndex(m, e) }));
    return this.finish(generic, (cg) => this.scalar(cg), []);
  }
}

/**
 * Whether the kernel stores every output element once, with its final value, at the sizes given
 * (the largest batch's): no accumulation into the output, and column sums that fit one row chunk
 * (more chunks store a partial sum first, then add to it). Threaded builds run such a reduction
 * on every thread at once (threads.ts: replicated steps).
 */
export function storesOnce(spec: ReduceSpec & { outer: number }): boolean {
  return !spec.accumulate && new ReduceGen(spec, view(spec)).rowChunk() === 0;
}

export function emitReduce(spec: ReduceSpec): KernelDef {
  checkCount("mid", spec.mid);
  checkCount("inner", spec.inner);
  if (typeof spec.outer === "number") checkCount("outer", spec.outer);
  if (!(spec.op in COMBINE) && spec.op !== "mean") throw new Error(`internal: unknown reduction ${spec.op}`);
  if (spec.axis !== "mid" && spec.axis !== "outer") throw new Error(`internal: unknown reduction axis ${spec.axis}`);
  if (spec.terms?.length && (spec.op !== "sum" || spec.accumulate || (spec.scale ?? 1) !== 1)) throw new Error("internal: reduction terms need a plain sum (no accumulation, no scale)");
  const gen = new ReduceGen(spec, view(spec));
  const { body, needs } = gen.emit();
  const canon = {
    outer: spec.outer, mid: spec.mid, inner: spec.inner, axis: spec.axis, op: spec.op, pre: spec.pre ?? null,
    inputs: spec.inputs.map((m) => [m.div, m.mod ?? 0, m.dtype ?? "f32"]), scale: spec.scale ?? 1, acc: !!spec.accumulate,
    ...(spec.terms?.length ? { terms: spec.terms } : {}),
  };
  return {
    key: `reduce:${JSON.stringify(canon)}`,
    label: `reduce ${spec.op} ${spec.outer}x${spec.mid}x${spec.inner} over ${spec.axis}`,
    params: kernelParams(REDUCE_LOCALS, [...spec.inputs.map((_, i) => `in${i}`), "out"], spec.outer),
    body,
    needs,
  };
}
