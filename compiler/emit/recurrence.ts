/**
 * Emitters of the fused recurrent primitives (prims/recurrence.ts): one kernel loops over the
 * examples of its share and, inside, over the T steps — the step count is a constant of the loop,
 * so the source is the same size for T = 10 and T = 100,000. h·U runs four columns per f32x4
 * (each lane one column's mul-then-add, as the scalar tail), the rest is scalar f32; every sum runs
 * in a fixed order (h·U: over i ascending, per column), so a thread's share never changes a result.
 * Scratch (per thread): h, h_new, c, the recurrent products (G·u), r ⊙ h₋₁; backward: dh, the
 * next dh, dc, d(r ⊙ h₋₁).
 */
import { block, intlit, kernelParams, locals, sizeSrc, type SizeArg } from "./code.js";
import type { KernelDef } from "./kernel.js";
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
const forJ = (n: number, body: string[]): string => block(`for (let _j: i32 = 0; _j < ${intlit(n)}; _j++) {`, body);

/**
 * acc[j] = Σ_i v[i]·W[i, col0 + j], j < n, i < u ascending: per column the same mul-then-add
 * chain whether it runs in a lane of one of four f32x4 accumulators (16 columns held in registers
 * while i sweeps down the rows), of one f32x4, or in the scalar tail.
 */
function vecMat(acc: string, v: string, u: number, gu: number, col0: number, n: number): string[] {
  const col = (j: string) => `w + ${bytes(col0)} + (<usize>(${j}) << 2)`;
  const rowsLoop = (body: string[]) => block(`for (let _i: i32 = 0; _i < ${intlit(u)}; _i++) {`, [
    `const _vv: v128 = f32x4.splat(${ld(v, "_i")});`,
    `const _row: usize = _col + <usize>_i * ${bytes(gu)};`,
    ...body,
  ]);
  const regs = [0, 1, 2, 3];
  // Its own block: a kernel may take two such products in one step (GRU reset_after=false).
  return [block("{", [
    "let _j: i32 = 0;",
    block(`for (; _j + 16 <= ${intlit(n)}; _j += 16) {`, [
      `const _col: usize = ${col("_j")};`,
      ...regs.map((r) => `let _a${r}: v128 = f32x4.splat(0.0);`),
      rowsLoop(regs.map((r) => `_a${r} = f32x4.add(_a${r}, f32x4.mul(_vv, v128.load(_row, ${16 * r})));`)),
      ...regs.map((r) => `v128.store(${f(acc, "_j")}, _a${r}, ${16 * r});`),
    ]),
    block(`for (; _j + 4 <= ${intlit(n)}; _j += 4) {`, [
      `const _col: usize = ${col("_j")};`,
      "let _a0: v128 = f32x4.splat(0.0);",
      rowsLoop(["_a0 = f32x4.add(_a0, f32x4.mul(_vv, v128.load(_row)));"]),
      `v128.store(${f(acc, "_j")}, _a0);`,
    ]),
    block(`for (; _j < ${intlit(n)}; _j++) {`, [
      `const _col: usize = ${col("_j")};`,
      "let _s: f32 = 0.0;",
      block(`for (let _i: i32 = 0; _i < ${intlit(u)}; _i++) {`, [`_s += ${ld(v, "_i")} * load<f32>(_col + <usize>_i * ${bytes(gu)});`]),
      st(acc, "_j", "_s"),
    ]),
  ])];
}

/** h·Uᵀ-style product for the backward: out[i] += Σ_j d[col0 + j]·W[i, col0 + j], j < n ascending. */
function matVecT(out: string, d: string, u: number, gu: number, col0: number, n: number): string {
  // Four partial sums (j mod 4) in one f32x4, added in lane order, then the tail: a fixed order.
  return block(`for (let _i: i32 = 0; _i < ${intlit(u)}; _i++) {`, [
    `const _row: usize = w + <usize>_i * ${bytes(gu)} + ${bytes(col0)};`,
    `const _dd: usize = ${d} + ${bytes(col0)};`,
    "let _s4: v128 = f32x4.splat(0.0);",
    "let _j: i32 = 0;",
    block(`for (; _j + 4 <= ${intlit(n)}; _j += 4) {`, [`_s4 = f32x4.add(_s4, f32x4.mul(v128.load(${f("_dd", "_j")}), v128.load(${f("_row", "_j")})));`]),
    "let _s: f32 = hsum4(_s4);",
    block(`for (; _j < ${intlit(n)}; _j++) {`, [`_s += ${ld("_dd", "_j")} * ${ld("_row", "_j")};`]),
    st(out, "_i", `${ld(out, "_i")} + _s`),
  ]);
}

function activate(act: string, x: string): string {
  switch (act) {
    case "tanh": return `tanhf(${x})`;
    case "sigmoid": return `sigmoidf(${x})`;
    case "relu": return `max<f32>(${x}, 0.0)`;
    default: return x;
  }
}

/** d act / d pre-activation from the activation's output h. */
function derivative(act: string, h: string): string {
  switch (act) {
    case "tanh": return `(<f32>1.0 - ${h} * ${h})`;
    case "sigmoid": return `(${h} * (<f32>1.0 - ${h}))`;
    case "relu": return `(${h} > <f32>0.0 ? <f32>1.0 : <f32>0.0)`;
    default: return "<f32>1.0";
  }
}

/** One step of the cell: from P's row `_pt`, the products in `_acc` (and `_rh`), h in `_h`; writes h_new, Sv's row `_svk`. */
function forwardCell(s: RecurrenceSpec): string[] {
  const u = s.units, gu = CELL_GATES[s.cell] * u;
  const P = (g: number) => ld("_pt", `${intlit(g * u)} + _j`);
  const A = (g: number) => ld("_acc", `${intlit(g * u)} + _j`);
  const save = (g: number, v: string) => st("_svk", `${intlit(g * u)} + _j`, v);
  switch (s.cell) {
    case "simple_rnn":
      return [forJ(u, [`const _hv: f32 = ${activate(s.activation!, `${P(0)} + ${A(0)}`)};`, st("_hn", "_j", "_hv"), save(0, "_hv")])];
    case "lstm":
      return [forJ(u, [
        `const _ig: f32 = sigmoidf(${P(0)} + ${A(0)});`,
        `const _fg: f32 = sigmoidf(${P(1)} + ${A(1)});`,
        `const _gg: f32 = tanhf(${P(2)} + ${A(2)});`,
        `const _og: f32 = sigmoidf(${P(3)} + ${A(3)});`,
        `const _cv: f32 = _fg * ${ld("_c", "_j")} + _ig * _gg;`,
        st("_c", "_j", "_cv"),
        st("_hn", "_j", "_og * tanhf(_cv)"),
        save(0, "_ig"), save(1, "_fg"), save(2, "_gg"), save(3, "_og"), save(4, "_cv"),
      ])];
    case "gru_after": {
      const RB = (g: number) => ld("rb", `${intlit(g * u)} + _j`);
      return [forJ(u, [
        `const _z: f32 = sigmoidf(${P(0)} + (${A(0)} + ${RB(0)}));`,
        `const _r: f32 = sigmoidf(${P(1)} + (${A(1)} + ${RB(1)}));`,
        `const _q: f32 = ${A(2)} + ${RB(2)};`,
        `const _hh: f32 = tanhf(${P(2)} + _r * _q);`,
        st("_hn", "_j", `_z * ${ld("_h", "_j")} + (<f32>1.0 - _z) * _hh`),
        save(0, "_z"), save(1, "_r"), save(2, "_hh"), save(3, "_q"),
      ])];
    }
    case "gru_before":
      return [
        // z, r from the first 2u products; r ⊙ h₋₁ into _rh (and RH, U_h's input for dU); then (r ⊙ h₋₁)·U_h.
        forJ(u, [
          `const _z: f32 = sigmoidf(${P(0)} + ${A(0)});`,
          `const _r: f32 = sigmoidf(${P(1)} + ${A(1)});`,
          save(0, "_z"), save(1, "_r"),
          st("_rh", "_j", `_r * ${ld("_h", "_j")}`),
        ]),
        `memory.copy(_rhk, _rh, ${bytes(u)});`,
        ...vecMat("_acc", "_rh", u, gu, 2 * u, u),
        forJ(u, [
          `const _z: f32 = ${ld("_svk", "_j")};`,
          `const _hh: f32 = tanhf(${P(2)} + ${ld("_acc", "_j")});`,
          save(2, "_hh"),
          st("_hn", "_j", `_z * ${ld("_h", "_j")} + (<f32>1.0 - _z) * _hh`),
        ]),
      ];
  }
}

/** Row offsets of example _b and step/position variables shared by both kernels. */
const stepIndex = (s: RecurrenceSpec) => (s.goBackwards ? `${intlit(s.steps - 1)} - _k` : "_k");
const outPos = (s: RecurrenceSpec) => (s.reverseOutput ? `${intlit(s.steps - 1)} - _k` : "_k");

export function emitRecurrence(spec: RecurrenceSpec): KernelDef {
  check(spec);
  const u = spec.units, T = spec.steps, gu = CELL_GATES[spec.cell] * u, sw = CELL_SAVED[spec.cell] * u;
  const nRec = spec.cell === "gru_before" ? 2 * u : gu;
  const gruBefore = spec.cell === "gru_before";
  const step = [
    `const _t: i32 = ${stepIndex(spec)};`,
    `const _pt: usize = _pb + <usize>_t * ${bytes(gu)};`,
    `const _svk: usize = _svb + <usize>_k * ${bytes(sw)};`,
    ...(gruBefore ? [`const _rhk: usize = _rhb + <usize>_k * ${bytes(u)};`] : []),
    `memory.copy(_hpb + <usize>_k * ${bytes(u)}, _h, ${bytes(u)});`,
    ...vecMat("_acc", "_h", u, gu, 0, nRec),
    ...forwardCell(spec),
    `memory.copy(_h, _hn, ${bytes(u)});`,
    ...(spec.sequences ? [`memory.copy(_yb + <usize>(${outPos(spec)}) * ${bytes(u)}, _h, ${bytes(u)});`] : []),
  ];
  const example = [
    `const _pb: usize = p + <usize>_b * ${bytes(T * gu)};`,
    `const _yb: usize = y + <usize>_b * ${bytes(spec.sequences ? T * u : u)};`,
    `const _hpb: usize = hp + <usize>_b * ${bytes(T * u)};`,
    `const _svb: usize = sv + <usize>_b * ${bytes(T * sw)};`,
    ...(gruBefore ? [`const _rhb: usize = rh + <usize>_b * ${bytes(T * u)};`] : []),
    `memory.fill(_h, 0, ${bytes(u)});`,
    `memory.fill(_c, 0, ${bytes(u)});`,
    block(`for (let _k: i32 = 0; _k < ${intlit(T)}; _k++) {`, step),
    ...(spec.sequences ? [] : [`memory.copy(_yb, _h, ${bytes(u)});`]),
  ];
  const body = [
    "const _h: usize = scratch;",
    `const _hn: usize = scratch + ${bytes(u)};`,
    `const _c: usize = scratch + ${bytes(2 * u)};`,
    `const _rh: usize = scratch + ${bytes(3 * u)};`,
    `const _acc: usize = scratch + ${bytes(4 * u)};`,
    block(`for (let _b: i32 = 0; _b < ${sizeSrc(RECURRENCE_LOCALS, spec.batch)}; _b++) {`, example),
  ];
  const tensors = ["p", "w", ...(spec.cell === "gru_after" ? ["rb"] : []), "y", "hp", "sv", ...(gruBefore ? ["rh"] : []), "scratch"];
  return {
    key: keyOf("recurrence", spec),
    label: `recurrence ${spec.cell}${spec.activation ? ` ${spec.activation}` : ""} T=${T} u=${u}${spec.goBackwards ? " backwards" : ""}`,
    params: kernelParams(RECURRENCE_LOCALS, tensors, spec.batch),
    body: body.join("\n"),
    needs: ["tanhf", "sigmoidf"],
    scratchBytes: 4 * (4 * u + gu),
  };
}

/**
 * Step k's gate pre-activation gradients into `_dzr` (row k, step order) and `_dzx` (row t, input
 * order) from dh (`_dh`, dc `_dc`), Sv's row `_svk` and h₋₁ (`_hpk`); the direct part of the next
 * dh into `_dn`.
 */
function backwardCell(s: RecurrenceSpec): string[] {
  const u = s.units, gu = CELL_GATES[s.cell] * u;
  const sv = (g: number) => ld("_svk", `${intlit(g * u)} + _j`);
  const both = (g: number, v: string) => [st("_dzr", `${intlit(g * u)} + _j`, v), st("_dzx", `${intlit(g * u)} + _j`, v)];
  switch (s.cell) {
    case "simple_rnn":
      return [forJ(u, [`const _hv: f32 = ${sv(0)};`, `const _da: f32 = ${ld("_dh", "_j")} * ${derivative(s.activation!, "_hv")};`, ...both(0, "_da"), st("_dn", "_j", "0.0")])];
    case "lstm":
      return [forJ(u, [
        `const _ig: f32 = ${sv(0)};`, `const _fg: f32 = ${sv(1)};`, `const _gg: f32 = ${sv(2)};`, `const _og: f32 = ${sv(3)};`, `const _cv: f32 = ${sv(4)};`,
        // c₋₁: the c of the previous step's saved row (5u floats back, c at 4u), 0 before the first step.
        `const _cp: f32 = _k > 0 ? ${ld(`(_svk - ${bytes(u)})`, "_j")} : <f32>0.0;`,
        `const _dhv: f32 = ${ld("_dh", "_j")};`,
        "const _tc: f32 = tanhf(_cv);",
        `const _dcv: f32 = ${ld("_dc", "_j")} + _dhv * _og * (<f32>1.0 - _tc * _tc);`,
        st("_dc", "_j", "_dcv * _fg"),
        ...both(0, "_dcv * _gg * (_ig * (<f32>1.0 - _ig))"),
        ...both(1, "_dcv * _cp * (_fg * (<f32>1.0 - _fg))"),
        ...both(2, "_dcv * _ig * (<f32>1.0 - _gg * _gg)"),
        ...both(3, "_dhv * _tc * (_og * (<f32>1.0 - _og))"),
        st("_dn", "_j", "0.0"),
      ])];
    case "gru_after":
      return [forJ(u, [
        `const _z: f32 = ${sv(0)};`, `const _r: f32 = ${sv(1)};`, `const _hh: f32 = ${sv(2)};`, `const _q: f32 = ${sv(3)};`,
        `const _dhv: f32 = ${ld("_dh", "_j")};`, `const _hpv: f32 = ${ld("_hpk", "_j")};`,
        "const _dp: f32 = _dhv * (<f32>1.0 - _z) * (<f32>1.0 - _hh * _hh);",
        ...both(0, "_dhv * (_hpv - _hh) * (_z * (<f32>1.0 - _z))"),
        ...both(1, "_dp * _q * (_r * (<f32>1.0 - _r))"),
        st("_dzx", `${intlit(2 * u)} + _j`, "_dp"),
        st("_dzr", `${intlit(2 * u)} + _j`, "_dp * _r"),
        st("_dn", "_j", "_dhv * _z"),
      ])];
    case "gru_before":
      return [
        forJ(u, [
          `const _z: f32 = ${sv(0)};`, `const _hh: f32 = ${sv(2)};`,
          `const _dhv: f32 = ${ld("_dh", "_j")};`,
          ...both(2, "_dhv * (<f32>1.0 - _z) * (<f32>1.0 - _hh * _hh)"),
          ...both(0, `_dhv * (${ld("_hpk", "_j")} - _hh) * (_z * (<f32>1.0 - _z))`),
          st("_dn", "_j", "_dhv * _z"),
          st("_drh", "_j", "0.0"),
        ]),
        // d(r ⊙ h₋₁) = dpre_h·U_hᵀ; then dr and the r ⊙ h₋₁ path into dh₋₁.
        matVecT("_drh", "_dzr", u, gu, 2 * u, u),
        forJ(u, [
          `const _r: f32 = ${sv(1)};`,
          `const _drhv: f32 = ${ld("_drh", "_j")};`,
          ...both(1, `_drhv * ${ld("_hpk", "_j")} * (_r * (<f32>1.0 - _r))`),
          st("_dn", "_j", `${ld("_dn", "_j")} + _drhv * _r`),
        ]),
      ];
  }
}

export function emitRecurrenceGrad(spec: RecurrenceSpec): KernelDef {
  check(spec);
  const u = spec.units, T = spec.steps, gu = CELL_GATES[spec.cell] * u, sw = CELL_SAVED[spec.cell] * u;
  const nRec = spec.cell === "gru_before" ? 2 * u : gu;
  const addDy = spec.sequences
    ? [forJ(u, [st("_dh", "_j", `${ld("_dh", "_j")} + ${ld(`_dyb + <usize>(${outPos(spec)}) * ${bytes(u)}`, "_j")}`)])]
    : [block(`if (_k == ${intlit(T - 1)}) {`, [forJ(u, [st("_dh", "_j", `${ld("_dh", "_j")} + ${ld("_dyb", "_j")}`)])])];
  const step = [
    `const _t: i32 = ${stepIndex(spec)};`,
    `const _svk: usize = _svb + <usize>_k * ${bytes(sw)};`,
    `const _hpk: usize = _hpb + <usize>_k * ${bytes(u)};`,
    `const _dzr: usize = _dzrb + <usize>_k * ${bytes(gu)};`,
    `const _dzx: usize = _dzxb + <usize>_t * ${bytes(gu)};`,
    ...addDy,
    ...backwardCell(spec),
    matVecT("_dn", "_dzr", u, gu, 0, nRec),
    `memory.copy(_dh, _dn, ${bytes(u)});`,
  ];
  const example = [
    `const _dyb: usize = dy + <usize>_b * ${bytes(spec.sequences ? T * u : u)};`,
    `const _hpb: usize = hp + <usize>_b * ${bytes(T * u)};`,
    `const _svb: usize = sv + <usize>_b * ${bytes(T * sw)};`,
    `const _dzxb: usize = dzx + <usize>_b * ${bytes(T * gu)};`,
    `const _dzrb: usize = dzr + <usize>_b * ${bytes(T * gu)};`,
    `memory.fill(_dh, 0, ${bytes(u)});`,
    `memory.fill(_dc, 0, ${bytes(u)});`,
    block(`for (let _k: i32 = ${intlit(T - 1)}; _k >= 0; _k--) {`, step),
  ];
  const body = [
    "const _dh: usize = scratch;",
    `const _dn: usize = scratch + ${bytes(u)};`,
    `const _dc: usize = scratch + ${bytes(2 * u)};`,
    `const _drh: usize = scratch + ${bytes(3 * u)};`,
    block(`for (let _b: i32 = 0; _b < ${sizeSrc(RECURRENCE_LOCALS, spec.batch)}; _b++) {`, example),
  ];
  return {
    key: keyOf("recurrence_grad", spec),
    label: `recurrence grad ${spec.cell}${spec.activation ? ` ${spec.activation}` : ""} T=${T} u=${u}${spec.goBackwards ? " backwards" : ""}`,
    params: kernelParams(RECURRENCE_LOCALS, ["dy", "hp", "sv", "w", "dzx", "dzr", "scratch"], spec.batch),
    body: body.join("\n"),
    needs: ["tanhf", "sigmoidf", "hsum4"],
    scratchBytes: 4 * 4 * u,
  };
}
