/**
 * Emitters of the fused recurrent primitives (prims/recurrence.ts): one kernel loops over the T
 * steps and, inside each, over the examples of its share — the step count is a constant of the
 * loop, so the source is the same size for T = 10 and T = 100,000. Steps outside, examples inside:
 * a block of U's columns is swept for every example while it sits in cache, as a batched matmul
 * would. h·U runs 16 columns in four f32x4 register accumulators down the rows (each lane one
 * column's mul-then-add chain, as the 4-column and scalar tails), dZ·Uᵀ with four lane partial
 * sums added in lane order; every sum runs in a fixed order and per example, so a thread's share of
 * the batch never changes a result.
 *
 * No scratch: the state lives in the kernels' own buffers. Forward: h₋₁ of step k is Hp[k] (step 0's
 * is zeroed first), the recurrent products go into Sv[k] and are replaced there, unit by unit, by
 * the saved activations; the new h goes to Hp[k+1] (and Y). Backward: once step k's gradients are
 * taken its saved row Sv[k] is dead, so it carries dh₋₁ (units [0, u)) and, for the LSTM, dc₋₁
 * ([u, 2u)) and d(r ⊙ h₋₁) ([2u, 3u), GRU reset_after=false) to step k−1.
 */
import { block, intlit, kernelParams, locals, sizeSrc, type SizeArg } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { SCALAR, SIMD, type Ops } from "./ops.js";
import { CELL_GATES, CELL_SAVED, type RecurrenceAttrs } from "../prims/recurrence.js";

export type RecurrenceSpec = Omit<RecurrenceAttrs, "batch"> & { batch: SizeArg };

/** Locals start with "_". */
export const RECURRENCE_LOCALS = locals("emitRecurrence", "prefixed");

const f = (base: string, idx: string): string => `${base} + (<usize>(${idx}) << 2)`;
const ld = (base: string, idx: string): string => `load<f32>(${f(base, idx)})`;
const st = (base: string, idx: string, v: string): string => `store<f32>(${f(base, idx)}, ${v});`;
const bytes = (floats: number): string => intlit(4 * floats);

function check(spec: RecurrenceSpec): void {
  for (const [what, n] of [["steps", spec.steps], ["units", spec.units]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`internal: emitRecurrence: ${what} must be a positive integer, got ${n}`);
  }
  if (spec.cell === "simple_rnn" && !spec.activation) throw new Error("internal: emitRecurrence: simple_rnn needs its activation");
}

function keyOf(kind: string, s: RecurrenceSpec): string {
  return `${kind}:${JSON.stringify([s.cell, s.activation ?? null, s.steps, s.units, s.batch, s.goBackwards, s.reverseOutput, s.sequences])}`;
}

/** Loop over j in [0, n) with `body` (scalar). */

/** Sizes and per-example row addresses shared by both kernels. */
class Layout {
  readonly u: number; readonly T: number; readonly gu: number; readonly sw: number;
  constructor(readonly s: RecurrenceSpec) {
    this.u = s.units; this.T = s.steps; this.gu = CELL_GATES[s.cell] * s.units; this.sw = CELL_SAVED[s.cell] * s.units;
  }
  get batch(): string { return sizeSrc(RECURRENCE_LOCALS, this.s.batch); }
  /** Row `step` of example `_b` of a [B, T(+), width] buffer. */
  row(buf: string, width: number, rows: number, step: string): string {
    return `${buf} + <usize>_b * ${bytes(rows * width)} + <usize>(${step}) * ${bytes(width)}`;
  }
  /** The loop over this call's examples. */
  examples(body: string[]): string {
    return block(`for (let _b: i32 = 0; _b < ${this.batch}; _b++) {`, body);
  }
}

/**
 * out_b[j] = Σ_i v_b[i]·W[i, col0 + j] for every example b, j < n, i < u ascending; `v`/`out` are
 * the row addresses of example `_b`. Column blocks outside, examples inside (W's block stays cached).
 */
function vecMat(L: Layout, out: string, v: string, col0: number, n: number): string {
  const { u, gu } = L;
  const rows = (body: string[]) => block(`for (let _i: i32 = 0; _i < ${intlit(u)}; _i++) {`, [
    `const _vv: v128 = f32x4.splat(${ld("_v", "_i")});`,
    `const _row: usize = _col + <usize>_i * ${bytes(gu)};`,
    ...body,
  ]);
  const perExample = (body: string[]) => L.examples([`const _v: usize = ${v};`, `const _o: usize = ${out};`, ...body]);
  const regs = [0, 1, 2, 3];
  return block("{", [
    "let _j: i32 = 0;",
    block(`for (; _j + 16 <= ${intlit(n)}; _j += 16) {`, [
      `const _col: usize = w + ${bytes(col0)} + (<usize>_j << 2);`,
      perExample([
        ...regs.map((r) => `let _a${r}: v128 = f32x4.splat(0.0);`),
        rows(regs.map((r) => `_a${r} = f32x4.add(_a${r}, f32x4.mul(_vv, v128.load(_row, ${16 * r})));`)),
        ...regs.map((r) => `v128.store(${f("_o", "_j")}, _a${r}, ${16 * r});`),
      ]),
    ]),
    block(`for (; _j + 4 <= ${intlit(n)}; _j += 4) {`, [
      `const _col: usize = w + ${bytes(col0)} + (<usize>_j << 2);`,
      perExample(["let _a0: v128 = f32x4.splat(0.0);", rows(["_a0 = f32x4.add(_a0, f32x4.mul(_vv, v128.load(_row)));"]), `v128.store(${f("_o", "_j")}, _a0);`]),
    ]),
    block(`for (; _j < ${intlit(n)}; _j++) {`, [
      `const _col: usize = w + ${bytes(col0)} + (<usize>_j << 2);`,
      perExample([
        "let _s: f32 = 0.0;",
        block(`for (let _i: i32 = 0; _i < ${intlit(u)}; _i++) {`, [`_s += ${ld("_v", "_i")} * load<f32>(_col + <usize>_i * ${bytes(gu)});`]),
        st("_o", "_j", "_s"),
      ]),
    ]),
  ]);
}

/** out_b[i] += Σ_j d_b[col0 + j]·W[i, col0 + j] for every example, j < n: rows of W outside, examples inside. */
function matVecT(L: Layout, out: string, d: string, col0: number, n: number): string {
  return block(`for (let _i: i32 = 0; _i < ${intlit(L.u)}; _i++) {`, [
    `const _row: usize = w + <usize>_i * ${bytes(L.gu)} + ${bytes(col0)};`,
    L.examples([
      `const _dd: usize = ${d} + ${bytes(col0)};`,
      `const _o: usize = ${out};`,
      // Four partial sums (j mod 4) in one f32x4, added in lane order, then the tail: a fixed order.
      "let _s4: v128 = f32x4.splat(0.0);",
      "let _j: i32 = 0;",
      block(`for (; _j + 4 <= ${intlit(n)}; _j += 4) {`, [`_s4 = f32x4.add(_s4, f32x4.mul(v128.load(${f("_dd", "_j")}), v128.load(${f("_row", "_j")})));`]),
      "let _s: f32 = hsum4(_s4);",
      block(`for (; _j < ${intlit(n)}; _j++) {`, [`_s += ${ld("_dd", "_j")} * ${ld("_row", "_j")};`]),
      st("_o", "_i", `${ld("_o", "_i")} + _s`),
    ]),
  ]);
}

/**
 * A loop over the units j in [0, u): f32x4 steps while four fit, then single steps, the same body
 * written for both (emit/ops.ts); a lane computes exactly what the scalar step does (tanh4 and
 * tanhf are one function), so results do not depend on which loop a unit falls in.
 */
function lanes(u: number, body: (L: Ops) => string[]): string {
  return block("{", [
    "let _j: i32 = 0;",
    block(`for (; _j + 4 <= ${intlit(u)}; _j += 4) {`, body(SIMD)),
    block(`for (; _j < ${intlit(u)}; _j++) {`, body(SCALAR)),
  ]);
}

const sigm = (L: Ops, x: string) => (L === SIMD ? `sigmoid4(${x})` : `sigmoidf(${x})`);
const tanhL = (L: Ops, x: string) => (L === SIMD ? `tanh4(${x})` : `tanhf(${x})`);
/** `cond ? x : 0` for a scalar bool condition. */
const orZero = (L: Ops, cond: string, x: string) => `(${cond} ? ${x} : ${L.k(0)})`;

function activate(L: Ops, act: string, x: string): string {
  switch (act) {
    case "tanh": return tanhL(L, x);
    case "sigmoid": return sigm(L, x);
    case "relu": return L.max(x, L.k(0));
    default: return x;
  }
}

/** d act / d pre-activation from the activation's output h. */
function derivative(L: Ops, act: string, h: string): string {
  const one = L.k(1);
  switch (act) {
    case "tanh": return L.sub(one, L.mul(h, h));
    case "sigmoid": return L.mul(h, L.sub(one, h));
    case "relu": return L === SIMD ? `v128.and(f32x4.gt(${h}, ${L.k(0)}), ${one})` : `(${h} > <f32>0.0 ? <f32>1.0 : <f32>0.0)`;
    default: return one;
  }
}

const stepIndex = (s: RecurrenceSpec) => (s.goBackwards ? `${intlit(s.steps - 1)} - _k` : "_k");
const outPos = (s: RecurrenceSpec) => (s.reverseOutput ? `${intlit(s.steps - 1)} - _k` : "_k");

/**
 * The cell for every example: P's row `_pt`, the products (replaced by the activations) in Sv's
 * row `_sv`, h₋₁ at `_hp`; h_new to `_hn`. Units j..j+3 read all their gates before writing any.
 */
function forwardCell(L: Layout): string[] {
  const { s, u, T, sw } = L;
  const at = (base: string, g: number) => f(base, `${intlit(g * u)} + _j`);
  const rows = [
    `const _pt: usize = ${L.row("p", L.gu, T, "_t")};`,
    `const _sv: usize = ${L.row("sv", sw, T, "_k")};`,
    `const _hp: usize = ${L.row("hp", u, T, "_k")};`,
    // The new h: h₋₁ of the next step, or (last step) straight into Y.
    `const _hn: usize = _k + 1 < ${intlit(T)} ? ${L.row("hp", u, T, "_k + 1")} : ${s.sequences ? L.row("y", u, T, outPos(s)) : L.row("y", u, 1, "0")};`,
  ];
  const each = (body: string[]) => L.examples([...rows, ...body]);
  const cell = (body: (V: Ops, P: (g: number) => string, A: (g: number) => string, save: (g: number, v: string) => string) => string[]) =>
    lanes(u, (V) => body(V, (g) => V.load(at("_pt", g)), (g) => V.load(at("_sv", g)), (g, v) => V.store(at("_sv", g), v)));
  /** h = z ⊙ h₋₁ + (1 − z) ⊙ h̃ into _hn. */
  const newH = (V: Ops) => V.store(f("_hn", "_j"), V.add(V.mul("_z", V.load(f("_hp", "_j"))), V.mul(V.sub(V.k(1), "_z"), "_hh")));
  switch (s.cell) {
    case "simple_rnn":
      return [each([cell((V, P, A, save) => [
        `const _hv: ${V.ty} = ${activate(V, s.activation!, V.add(P(0), A(0)))};`, V.store(f("_hn", "_j"), "_hv"), save(0, "_hv"),
      ])])];
    case "lstm":
      return [each([cell((V, P, A, save) => [
        `const _ig: ${V.ty} = ${sigm(V, V.add(P(0), A(0)))};`,
        `const _fg: ${V.ty} = ${sigm(V, V.add(P(1), A(1)))};`,
        `const _gg: ${V.ty} = ${tanhL(V, V.add(P(2), A(2)))};`,
        `const _og: ${V.ty} = ${sigm(V, V.add(P(3), A(3)))};`,
        // c₋₁: the c saved in the previous step's row (sw floats back, at 4u); 0 before the first step.
        `const _cp: ${V.ty} = ${orZero(V, "_k > 0", V.load(at(`(_sv - ${bytes(sw)})`, 4)))};`,
        `const _cv: ${V.ty} = ${V.add(V.mul("_fg", "_cp"), V.mul("_ig", "_gg"))};`,
        V.store(f("_hn", "_j"), V.mul("_og", tanhL(V, "_cv"))),
        save(0, "_ig"), save(1, "_fg"), save(2, "_gg"), save(3, "_og"), save(4, "_cv"),
      ])])];
    case "gru_after":
      return [each([cell((V, P, A, save) => [
        `const _z: ${V.ty} = ${sigm(V, V.add(P(0), V.add(A(0), V.load(at("rb", 0)))))};`,
        `const _r: ${V.ty} = ${sigm(V, V.add(P(1), V.add(A(1), V.load(at("rb", 1)))))};`,
        `const _q: ${V.ty} = ${V.add(A(2), V.load(at("rb", 2)))};`,
        `const _hh: ${V.ty} = ${tanhL(V, V.add(P(2), V.mul("_r", "_q")))};`,
        newH(V),
        save(0, "_z"), save(1, "_r"), save(2, "_hh"), save(3, "_q"),
      ])])];
    case "gru_before":
      // z, r from the first 2u products; r ⊙ h₋₁ into RH (U_h's input, kept for dU); then
      // (r ⊙ h₋₁)·U_h into Sv's h̃ columns; then h̃ and h.
      return [
        each([`const _rh: usize = ${L.row("rh", u, T, "_k")};`, cell((V, P, A, save) => [
          `const _z: ${V.ty} = ${sigm(V, V.add(P(0), A(0)))};`,
          `const _r: ${V.ty} = ${sigm(V, V.add(P(1), A(1)))};`,
          save(0, "_z"), save(1, "_r"),
          V.store(f("_rh", "_j"), V.mul("_r", V.load(f("_hp", "_j")))),
        ])]),
        vecMat(L, `${L.row("sv", sw, T, "_k")} + ${bytes(2 * u)}`, L.row("rh", u, T, "_k"), 2 * u, u),
        each([cell((V, P, A, save) => [
          `const _z: ${V.ty} = ${A(0)};`,
          `const _hh: ${V.ty} = ${tanhL(V, V.add(P(2), A(2)))};`,
          save(2, "_hh"),
          newH(V),
        ])]),
      ];
  }
}

export function emitRecurrence(spec: RecurrenceSpec): KernelDef {
  check(spec);
  const L = new Layout(spec);
  const { u, T, sw } = L;
  const nRec = spec.cell === "gru_before" ? 2 * u : L.gu;
  const step = [
    `const _t: i32 = ${stepIndex(spec)};`,
    vecMat(L, L.row("sv", sw, T, "_k"), L.row("hp", u, T, "_k"), 0, nRec),
    ...forwardCell(L),
    // Every state but the last also goes to Y (the last was written there).
    ...(spec.sequences ? [block(`if (_k + 1 < ${intlit(T)}) {`, [L.examples([`memory.copy(${L.row("y", u, T, outPos(spec))}, ${L.row("hp", u, T, "_k + 1")}, ${bytes(u)});`])])] : []),
  ];
  const body = [
    L.examples([`memory.fill(${L.row("hp", u, T, "0")}, 0, ${bytes(u)});`]),
    block(`for (let _k: i32 = 0; _k < ${intlit(T)}; _k++) {`, step),
  ];
  const tensors = ["p", "w", ...(spec.cell === "gru_after" ? ["rb"] : []), "y", "hp", "sv", ...(spec.cell === "gru_before" ? ["rh"] : [])];
  return {
    key: keyOf("recurrence", spec),
    label: `recurrence ${spec.cell}${spec.activation ? ` ${spec.activation}` : ""} T=${T} u=${u}${spec.goBackwards ? " backwards" : ""}`,
    params: kernelParams(RECURRENCE_LOCALS, tensors, spec.batch),
    body: body.join("\n"),
    needs: ["tanhf", "sigmoidf", "tanh4", "sigmoid4"],
  };
}

/**
 * Step k's gate pre-activation gradients for every example into dZr's row k (step order) and
 * dZx's row t (input order), from dh (dY's share plus the carry in Sv[k+1]) and Sv's row k; then
 * Sv[k] takes the carry: dh₋₁'s direct part at [0, u) (the dZ·Uᵀ part is added after), dc₋₁ at [u, 2u).
 */
function backwardCell(L: Layout): string[] {
  const { s, u, T, sw } = L;
  const at = (base: string, g: number) => f(base, `${intlit(g * u)} + _j`);
  const rows = [
    `const _sv: usize = ${L.row("sv", sw, T, "_k")};`,
    `const _hp: usize = ${L.row("hp", u, T, "_k")};`,
    `const _dzr: usize = ${L.row("dzr", L.gu, T, "_k")};`,
    `const _dzx: usize = ${L.row("dzx", L.gu, T, "_t")};`,
    // The carry from step k+1 (none after the last step), at its row of Sv.
    `const _last: bool = _k == ${intlit(T - 1)};`,
    `const _nx: usize = _sv + ${bytes(sw)};`,
    `const _dyk: usize = ${s.sequences ? L.row("dy", u, T, outPos(s)) : L.row("dy", u, 1, "0")};`,
  ];
  const each = (body: string[]) => L.examples([...rows, ...body]);
  type Cell = (V: Ops, sv: (g: number) => string, both: (g: number, v: string) => string[], one: string) => string[];
  const cell = (body: Cell) => lanes(u, (V) => body(V, (g) => V.load(at("_sv", g)), (g, v) => [V.store(at("_dzr", g), v), V.store(at("_dzx", g), v)], V.k(1)));
  const dh = (V: Ops) => {
    const dy = V.load(f("_dyk", "_j"));
    return `const _dhv: ${V.ty} = ${V.add(orZero(V, "!_last", V.load(f("_nx", "_j"))), s.sequences ? dy : orZero(V, "_last", dy))};`;
  };
  /** x·(1 − x) and 1 − x², the sigmoid and tanh derivatives from their outputs. */
  const dsig = (V: Ops, x: string) => V.mul(x, V.sub(V.k(1), x));
  const dtanh = (V: Ops, x: string) => V.sub(V.k(1), V.mul(x, x));
  switch (s.cell) {
    case "simple_rnn":
      return [each([cell((V, sv, both) => [dh(V), `const _da: ${V.ty} = ${V.mul("_dhv", derivative(V, s.activation!, sv(0)))};`, ...both(0, "_da"), V.store(at("_sv", 0), V.k(0))])])];
    case "lstm":
      return [each([cell((V, sv, both) => [
        dh(V),
        `const _ig: ${V.ty} = ${sv(0)};`, `const _fg: ${V.ty} = ${sv(1)};`, `const _gg: ${V.ty} = ${sv(2)};`, `const _og: ${V.ty} = ${sv(3)};`, `const _cv: ${V.ty} = ${sv(4)};`,
        `const _cp: ${V.ty} = ${orZero(V, "_k > 0", V.load(at(`(_sv - ${bytes(sw)})`, 4)))};`,
        `const _tc: ${V.ty} = ${tanhL(V, "_cv")};`,
        `const _dcv: ${V.ty} = ${V.add(orZero(V, "!_last", V.load(at("_nx", 1))), V.mul(V.mul("_dhv", "_og"), dtanh(V, "_tc")))};`,
        ...both(0, V.mul(V.mul("_dcv", "_gg"), dsig(V, "_ig"))),
        ...both(1, V.mul(V.mul("_dcv", "_cp"), dsig(V, "_fg"))),
        ...both(2, V.mul(V.mul("_dcv", "_ig"), dtanh(V, "_gg"))),
        ...both(3, V.mul(V.mul("_dhv", "_tc"), dsig(V, "_og"))),
        V.store(at("_sv", 0), V.k(0)),
        V.store(at("_sv", 1), V.mul("_dcv", "_fg")),
      ])])];
    case "gru_after":
      return [each([cell((V, sv, both, one) => [
        dh(V),
        `const _z: ${V.ty} = ${sv(0)};`, `const _r: ${V.ty} = ${sv(1)};`, `const _hh: ${V.ty} = ${sv(2)};`, `const _q: ${V.ty} = ${sv(3)};`,
        `const _hpv: ${V.ty} = ${V.load(f("_hp", "_j"))};`,
        `const _dp: ${V.ty} = ${V.mul(V.mul("_dhv", V.sub(one, "_z")), dtanh(V, "_hh"))};`,
        ...both(0, V.mul(V.mul("_dhv", V.sub("_hpv", "_hh")), dsig(V, "_z"))),
        ...both(1, V.mul(V.mul("_dp", "_q"), dsig(V, "_r"))),
        V.store(at("_dzx", 2), "_dp"),
        V.store(at("_dzr", 2), V.mul("_dp", "_r")),
        V.store(at("_sv", 0), V.mul("_dhv", "_z")),
      ])])];
    case "gru_before":
      return [
        each([cell((V, sv, both, one) => [
          dh(V),
          `const _z: ${V.ty} = ${sv(0)};`, `const _hh: ${V.ty} = ${sv(2)};`,
          ...both(2, V.mul(V.mul("_dhv", V.sub(one, "_z")), dtanh(V, "_hh"))),
          ...both(0, V.mul(V.mul("_dhv", V.sub(V.load(f("_hp", "_j")), "_hh")), dsig(V, "_z"))),
          V.store(at("_sv", 0), V.mul("_dhv", "_z")),
          V.store(at("_sv", 2), V.k(0)),
        ])]),
        // d(r ⊙ h₋₁) = dpre_h·U_hᵀ into Sv[k]'s [2u, 3u); then dr, and the r ⊙ h₋₁ path into dh₋₁.
        matVecT(L, `${L.row("sv", sw, T, "_k")} + ${bytes(2 * u)}`, L.row("dzr", L.gu, T, "_k"), 2 * u, u),
        each([cell((V, sv, both) => [
          `const _r: ${V.ty} = ${sv(1)};`,
          `const _drhv: ${V.ty} = ${sv(2)};`,
          ...both(1, V.mul(V.mul("_drhv", V.load(f("_hp", "_j"))), dsig(V, "_r"))),
          V.store(at("_sv", 0), V.add(sv(0), V.mul("_drhv", "_r"))),
        ])]),
      ];
  }
}

export function emitRecurrenceGrad(spec: RecurrenceSpec): KernelDef {
  check(spec);
  const L = new Layout(spec);
  const { u, T, sw } = L;
  const nRec = spec.cell === "gru_before" ? 2 * u : L.gu;
  const step = [
    `const _t: i32 = ${stepIndex(spec)};`,
    ...backwardCell(L),
    matVecT(L, L.row("sv", sw, T, "_k"), L.row("dzr", L.gu, T, "_k"), 0, nRec),
  ];
  return {
    key: keyOf("recurrence_grad", spec),
    label: `recurrence grad ${spec.cell}${spec.activation ? ` ${spec.activation}` : ""} T=${T} u=${u}${spec.goBackwards ? " backwards" : ""}`,
    params: kernelParams(RECURRENCE_LOCALS, ["dy", "hp", "sv", "w", "dzx", "dzr"], spec.batch),
    body: block(`for (let _k: i32 = ${intlit(T - 1)}; _k >= 0; _k--) {`, step),
    needs: ["tanhf", "sigmoidf", "tanh4", "sigmoid4", "hsum4"],
  };
}
