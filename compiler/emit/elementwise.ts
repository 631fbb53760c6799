/**
 * Emitter: fused elementwise loops. An EwExpr tree per output is turned into a DAG (common
 * subexpressions once), each node gets a level (0 constant, 1 invariant within a contiguous run,
 * 2 varying), and the kernel walks the flat output in runs over which every input is either
 * contiguous (f32x4 loads) or one value (a splat hoisted out of the run), with a scalar tail.
 * The DAG/input-access machinery is shared with emit/reduce.ts.
 */
import type { ActivationName } from "../frontend/graph-types.js";
import type { EwBinary, EwCmp, EwExpr, EwInput, EwUnary } from "../ir/expr.js";
import { activationNeeds, activationScalar, activationSimd } from "./activation.js";
import { block, f32lit, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";

export interface ElementwiseSpec { rows: SizeArg; cols: number; inputs: EwInput[]; outputs: { expr: EwExpr; accumulate?: boolean }[] }

/** Locals of the elementwise kernels (and of reduce's, which share EwCodegen) start with "_". */
export const EW_LOCALS = locals("emitElementwise", "prefixed");

/** An f32 literal that AssemblyScript accepts in f32 context, non-finite values included. */
export function flit(v: number): string {
  if (Number.isNaN(v)) return "(<f32>NaN)";
  if (v === Infinity) return "(<f32>Infinity)";
  if (v === -Infinity) return "(<f32>-Infinity)";
  return f32lit(v);
}

export function checkCount(what: string, n: number, min = 1): void {
  if (!Number.isInteger(n) || n < min) throw new Error(`internal: ${what} must be an integer ≥ ${min}, got ${n}`);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

// ---------------------------------------------------------------- expression DAG

type DagNode =
  | { k: "in"; i: number; args: number[] }
  | { k: "const"; v: number; args: number[] }
  | { k: "un"; op: EwUnary; args: number[] }
  | { k: "bin"; op: EwBinary; args: number[] }
  | { k: "sel"; cmp: EwCmp; args: number[] };

/** Expression trees with structurally equal subtrees merged; children always precede parents. */
export class ExprDag {
  readonly nodes: DagNode[] = [];
  private readonly ids = new Map<string, number>();
  constructor(private readonly nInputs: number) {}

  add(e: EwExpr): number {
    switch (e.k) {
      case "in":
        if (!Number.isInteger(e.i) || e.i < 0 || e.i >= this.nInputs) throw new Error(`internal: expression reads input ${e.i} of ${this.nInputs}`);
        return this.intern(`in${e.i}`, { k: "in", i: e.i, args: [] });
      case "const":
        return this.intern(`c${Object.is(e.v, -0) ? "-0" : Math.fround(e.v)}`, { k: "const", v: e.v, args: [] });
      case "un": {
        const a = this.add(e.a);
        if (!(e.op in UNARY)) throw new Error(`internal: unknown unary op ${e.op}`);
        return this.intern(`${e.op}(${a})`, { k: "un", op: e.op, args: [a] });
      }
      case "bin": {
        const a = this.add(e.a), b = this.add(e.b);
        if (!(e.op in BINARY)) throw new Error(`internal: unknown binary op ${e.op}`);
        return this.intern(`${e.op}(${a},${b})`, { k: "bin", op: e.op, args: [a, b] });
      }
      case "sel": {
        const args = [this.add(e.a), this.add(e.b), this.add(e.then), this.add(e.else)];
        if (!(e.cmp in CMP)) throw new Error(`internal: unknown comparison ${e.cmp}`);
        return this.intern(`${e.cmp}?(${args.join(",")})`, { k: "sel", cmp: e.cmp, args });
      }
      default:
        throw new Error(`internal: unknown expression kind ${(e as { k: string }).k}`);
    }
  }

  private intern(key: string, node: DagNode): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.nodes.length;
      this.nodes.push(node);
      this.ids.set(key, id);
    }
    return id;
  }
}

type Un = { s: (a: string) => string; v: (a: string) => string; needs: string[] };
const ONE = f32lit(1);
const ACT = (name: ActivationName): Un => ({
  s: (a) => activationScalar(name, a), v: (a) => activationSimd(name, a), needs: activationNeeds(name),
});
const UNARY: Record<EwUnary, Un> = {
  neg: { s: (a) => `(-${a})`, v: (a) => `f32x4.neg(${a})`, needs: [] },
  abs: { s: (a) => `abs<f32>(${a})`, v: (a) => `f32x4.abs(${a})`, needs: [] },
  exp: { s: (a) => `expf(${a})`, v: (a) => `exp4(${a})`, needs: ["expf", "exp4"] },
  log: { s: (a) => `logf(${a})`, v: (a) => `log4(${a})`, needs: ["logf", "log4"] },
  sqrt: { s: (a) => `sqrt<f32>(${a})`, v: (a) => `f32x4.sqrt(${a})`, needs: [] },
  rsqrt: { s: (a) => `(${ONE} / sqrt<f32>(${a}))`, v: (a) => `f32x4.div(f32x4.splat(${ONE}), f32x4.sqrt(${a}))`, needs: [] },
  square: { s: (a) => `(${a} * ${a})`, v: (a) => `f32x4.mul(${a}, ${a})`, needs: [] },
  recip: { s: (a) => `(${ONE} / ${a})`, v: (a) => `f32x4.div(f32x4.splat(${ONE}), ${a})`, needs: [] },
  tanh: ACT("tanh"), sigmoid: ACT("sigmoid"),
  erf: { s: (a) => `erff(${a})`, v: (a) => `erf4(${a})`, needs: ["erff", "erf4"] },
  relu: ACT("relu"), gelu: ACT("gelu"), leaky_relu: ACT("leaky_relu"), elu: ACT("elu"), silu: ACT("silu"), softplus: ACT("softplus"),
};
const BINARY: Record<EwBinary, { s: (a: string, b: string) => string; v: string }> = {
  add: { s: (a, b) => `(${a} + ${b})`, v: "f32x4.add" },
  sub: { s: (a, b) => `(${a} - ${b})`, v: "f32x4.sub" },
  mul: { s: (a, b) => `(${a} * ${b})`, v: "f32x4.mul" },
  div: { s: (a, b) => `(${a} / ${b})`, v: "f32x4.div" },
  max: { s: (a, b) => `max<f32>(${a}, ${b})`, v: "f32x4.max" },
  min: { s: (a, b) => `min<f32>(${a}, ${b})`, v: "f32x4.min" },
};
const CMP: Record<EwCmp, { s: string; v: string }> = {
  gt: { s: ">", v: "f32x4.gt" }, ge: { s: ">=", v: "f32x4.ge" }, lt: { s: "<", v: "f32x4.lt" },
  le: { s: "<=", v: "f32x4.le" }, eq: { s: "==", v: "f32x4.eq" },
};

function nodeScalar(n: DagNode, a: string[]): string {
  switch (n.k) {
    case "const": return flit(n.v);
    case "un": return UNARY[n.op].s(a[0]);
    case "bin": return BINARY[n.op].s(a[0], a[1]);
    case "sel": return `select<f32>(${a[2]}, ${a[3]}, ${a[0]} ${CMP[n.cmp].s} ${a[1]})`;
    case "in": throw new Error("internal: inputs are leaves");
  }
}

function nodeVector(n: DagNode, a: string[]): string {
  switch (n.k) {
    case "const": return `f32x4.splat(${flit(n.v)})`;
    case "un": return UNARY[n.op].v(a[0]);
    case "bin": return `${BINARY[n.op].v}(${a[0]}, ${a[1]})`;
    case "sel": return `v128.bitselect(${a[2]}, ${a[3]}, ${CMP[n.cmp].v}(${a[0]}, ${a[1]}))`;
    case "in": throw new Error("internal: inputs are leaves");
  }
}

// ---------------------------------------------------------------- input access

/**
 * How an input is read over a run of L consecutive flat indices starting at block·L:
 * `contig` — L consecutive elements from index `first(block)`; `splat` — one element `index(block)`.
 * L null means one run covering everything (a runtime length): only full and scalar inputs fit.
 */
export type Access =
  | { kind: "contig"; first: (block: string) => string }
  | { kind: "splat"; index: (block: string) => string };

export function classifyInput(m: EwInput, L: number | null): Access | null {
  checkCount("div", m.div);
  if (m.mod !== undefined) checkCount("mod", m.mod);
  if (m.mod === 1) return { kind: "splat", index: () => "0" };
  if (m.div === 1 && m.mod === undefined) return { kind: "contig", first: (b) => (L === null || b === "0" ? "0" : `${b} * ${intlit(L)}`) };
  if (L === null) return null;
  if (m.div === 1) {
    const m0 = m.mod!;
    if (m0 % L !== 0) return null;
    return { kind: "contig", first: (b) => (m0 === L ? "0" : `(${b} % ${intlit(m0 / L)}) * ${intlit(L)}`) };
  }
  if (m.div % L !== 0) return null;
  const per = m.div / L;
  return {
    kind: "splat",
    index: (b) => {
      const q = per === 1 ? b : `(${b} / ${intlit(per)})`;
      return m.mod === undefined ? q : `(${q} % ${intlit(m.mod)})`;
    },
  };
}

/** The i32 index expression of input m at flat index `e` (generic, for scalar fallbacks). */
export function inputIndex(m: EwInput, e: string): string {
  checkCount("div", m.div);
  const q = m.div === 1 ? e : `(${e} / ${intlit(m.div)})`;
  return m.mod === undefined ? q : m.mod === 1 ? "0" : `(${q} % ${intlit(m.mod)})`;
}

const addr = (base: string, idx: string): string => (idx === "0" ? base : `${base} + (<usize>(${idx}) << 2)`);

/** Scalar f32 load of input i at element `idx` of its buffer (i32 inputs are converted). */
export function loadScalar(m: EwInput, base: string, idx: string): string {
  return m.dtype === "i32" ? `(<f32>load<i32>(${addr(base, idx)}))` : `load<f32>(${addr(base, idx)})`;
}

function loadVector(m: EwInput, base: string, idx: string): string {
  const v = `v128.load(${addr(base, idx)})`;
  return m.dtype === "i32" ? `f32x4.convert_i32x4_s(${v})` : v;
}

// ---------------------------------------------------------------- code generation

/**
 * Code generator for a DAG whose inputs are read through `access` (one per input). Level-0 nodes
 * (constants) are declared once, level-1 nodes (functions of splat inputs) once per run, level-2
 * nodes inside the loops, in scalar (`s`) or vector (`v`) form.
 */
export class EwCodegen {
  readonly level: number[];
  constructor(readonly dag: ExprDag, readonly inputs: EwInput[], readonly access: Access[]) {
    this.level = dag.nodes.map(() => 0);
    dag.nodes.forEach((n, id) => {
      this.level[id] = n.k === "in" ? (access[n.i].kind === "splat" ? 1 : 2) : Math.max(0, ...n.args.map((a) => this.level[a]));
    });
  }

  /** Prelude helpers the code calls (scalar and vector forms). */
  needs(roots: number[]): string[] {
    const out = new Set<string>();
    for (const id of this.reachable(roots)) {
      const n = this.dag.nodes[id];
      if (n.k === "un") UNARY[n.op].needs.forEach((x) => out.add(x));
    }
    return [...out];
  }

  reachable(roots: number[]): number[] {
    const seen = new Set<number>();
    const visit = (id: number): void => {
      if (seen.has(id)) return;
      seen.add(id);
      this.dag.nodes[id].args.forEach(visit);
    };
    roots.forEach(visit);
    return [...seen].sort((a, b) => a - b);
  }

  private ref(id: number, mode: "s" | "v", tag: string): string {
    const lv = this.level[id];
    if (lv === 0) return mode === "s" ? `_c${id}` : `_cv${id}`;
    if (lv === 1) return mode === "s" ? `_h${id}` : `_hv${id}`;
    return `_${mode}${tag}_${id}`;
  }

  /** Declarations of the constant nodes (function top). */
  top(roots: number[]): string[] {
    return this.invariant(roots, 0, "_c", () => "");
  }

  /** Run prologue for run number `block`: input pointers `p<i>` and the level-1 nodes. */
  block(roots: number[], block: string): string[] {
    const lines: string[] = [];
    this.access.forEach((a, i) => {
      if (a.kind === "contig" && this.used(roots, i)) lines.push(`const _p${i}: usize = ${addr(`in${i}`, a.first(block))};`);
    });
    return lines.concat(this.invariant(roots, 1, "_h", (i) => {
      const a = this.access[i];
      return a.kind === "splat" ? loadScalar(this.inputs[i], `in${i}`, a.index(block)) : "";
    }));
  }

  private used(roots: number[], input: number): boolean {
    return this.reachable(roots).some((id) => { const n = this.dag.nodes[id]; return n.k === "in" && n.i === input; });
  }

  private invariant(roots: number[], lv: number, prefix: string, leaf: (i: number) => string): string[] {
    const lines: string[] = [];
    for (const id of this.reachable(roots)) {
      if (this.level[id] !== lv) continue;
      const n = this.dag.nodes[id];
      const s = n.k === "in" ? leaf(n.i) : nodeScalar(n, n.args.map((a) => this.ref(a, "s", "")));
      lines.push(`const ${prefix}${id}: f32 = ${s};`, `const ${prefix}v${id}: v128 = f32x4.splat(${prefix}${id});`);
    }
    return lines;
  }

  /** Level-2 statements computing `roots` at run offset `j` (an i32 expression); returns their value names. */
  body(roots: number[], mode: "s" | "v", j: string, tag: string): { lines: string[]; vals: string[] } {
    const lines: string[] = [];
    for (const id of this.reachable(roots)) {
      if (this.level[id] !== 2) continue;
      const n = this.dag.nodes[id];
      const name = this.ref(id, mode, tag);
      let src: string;
      if (n.k === "in") {
        src = mode === "s" ? loadScalar(this.inputs[n.i], `_p${n.i}`, j) : loadVector(this.inputs[n.i], `_p${n.i}`, j);
      } else {
        const args = n.args.map((a) => this.ref(a, mode, tag));
        src = mode === "s" ? nodeScalar(n, args) : nodeVector(n, args);
      }
      lines.push(`const ${name}: ${mode === "s" ? "f32" : "v128"} = ${src};`);
    }
    return { lines, vals: roots.map((r) => this.ref(r, mode, tag)) };
  }
}

// ---------------------------------------------------------------- the elementwise kernel

/** Run length: the largest L dividing cols over which every input is contiguous or constant (null: one run). */
function runLength(spec: ElementwiseSpec): number | null {
  let L: number | null = null;
  for (const m of spec.inputs) {
    if (m.mod === 1 || (m.div === 1 && m.mod === undefined)) continue;
    const c = m.div === 1 ? m.mod! : m.div;
    L = gcd(L ?? spec.cols, c);
  }
  if (L === null && typeof spec.rows === "number") return spec.rows * spec.cols;
  return L === null ? null : gcd(L, spec.cols);
}

function storeLines(outputs: ElementwiseSpec["outputs"], vals: string[], mode: "s" | "v", j: string): string[] {
  return outputs.map((o, k) => {
    const at = addr(`_o${k}`, j);
    if (mode === "s") return o.accumulate ? `store<f32>(${at}, load<f32>(${at}) + ${vals[k]});` : `store<f32>(${at}, ${vals[k]});`;
    return o.accumulate ? `v128.store(${at}, f32x4.add(v128.load(${at}), ${vals[k]}));` : `v128.store(${at}, ${vals[k]});`;
  });
}

export function emitElementwise(spec: ElementwiseSpec): KernelDef {
  checkCount("cols", spec.cols);
  if (typeof spec.rows === "number") checkCount("rows", spec.rows);
  if (spec.outputs.length === 0) throw new Error("internal: elementwise kernel without outputs");
  const dag = new ExprDag(spec.inputs.length);
  const roots = spec.outputs.map((o) => dag.add(o.expr));
  const L = runLength(spec);
  const access = spec.inputs.map((m) => {
    const a = classifyInput(m, L);
    if (!a) throw new Error("internal: elementwise run length does not fit an input");
    return a;
  });
  const cg = new EwCodegen(dag, spec.inputs, access);
  const rows = sizeSrc(EW_LOCALS, spec.rows, "rows");
  const runLen = L === null ? "_n" : intlit(L);
  const blocks = L === null ? "1" : typeof spec.rows === "number" ? intlit((spec.rows * spec.cols) / L) : spec.cols === L ? rows : `${rows} * ${intlit(spec.cols / L)}`;
  const vec = cg.body(roots, "v", "_j", "");
  const sca = cg.body(roots, "s", "_j", "");
  const inner: string[] = [
    ...cg.block(roots, L === null ? "0" : "_b"),
    ...spec.outputs.map((_, k) => `const _o${k}: usize = ${addr(`out${k}`, L === null ? "0" : `_b * ${runLen}`)};`),
    "let _j: i32 = 0;",
  ];
  if (L === null || L >= 4) {
    inner.push(block(`for (; _j + 4 <= ${runLen}; _j += 4) {`, [...vec.lines, ...storeLines(spec.outputs, vec.vals, "v", "_j")]));
  }
  if (L === null || L % 4 !== 0) {
    inner.push(block(`for (; _j < ${runLen}; _j++) {`, [...sca.lines, ...storeLines(spec.outputs, sca.vals, "s", "_j")]));
  }
  const body = [
    ...cg.top(roots),
    ...(L === null ? [`const _n: i32 = ${rows} * ${intlit(spec.cols)};`] : []),
    block(`for (let _b: i32 = 0; _b < ${blocks}; _b++) {`, inner),
  ];
  const params = kernelParams(EW_LOCALS, [...spec.inputs.map((_, i) => `in${i}`), ...spec.outputs.map((_, k) => `out${k}`)], spec.rows);
  const canon = { rows: spec.rows, cols: spec.cols, inputs: spec.inputs.map((m) => [m.div, m.mod ?? 0, m.dtype ?? "f32"]), outputs: spec.outputs.map((o) => [o.expr, !!o.accumulate]) };
  return {
    key: `ew:${JSON.stringify(canon)}`,
    label: `elementwise ${spec.rows}x${spec.cols} ${spec.inputs.length}->${spec.outputs.length}`,
    params,
    body: body.join("\n"),
    needs: cg.needs(roots),
  };
}
