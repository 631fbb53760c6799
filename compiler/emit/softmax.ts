/**
 * Emitter: softmax / log-softmax over the middle axis of x[outer, mid, inner] and its gradient.
 * Stable: the row maximum is subtracted before exp. inner = 1 rows are vectorized along the row
 * (horizontal max/sum); inner > 1 is vectorized across inner. `causal` (inner = 1, rows = groups·T,
 * mid = S): row r is query i = r % T and keys j > i are masked (softmax 0, log-softmax −∞, grad 0).
 */
import { block, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { checkCount } from "./elementwise.js";
import { SCALAR, SIMD, type Ops } from "./ops.js";

export interface SoftmaxSpec { outer: SizeArg; mid: number; inner: number; causal?: { t: number; s: number }; log?: boolean }
export interface SoftmaxGradSpec extends SoftmaxSpec { accumulate?: boolean }

/** Locals start with "_". */
export const SOFTMAX_LOCALS = locals("emitSoftmax", "prefixed");
const NEEDS = ["exp4", "expf", "log4", "logf", "hmax4", "hsum4"];

const at = (base: string, idx: string): string => `${base} + (<usize>(${idx}) << 2)`;

/** A loop over k in [from, to) written twice: f32x4 steps while 4 fit, then single steps. */
function rowLoop(from: string, to: string, body: (lane: Ops, k: string) => string[]): string[] {
  return [
    `_k = ${from};`,
    block(`for (; _k + 4 <= ${to}; _k += 4) {`, body(SIMD, "_k")),
    block(`for (; _k < ${to}; _k++) {`, body(SCALAR, "_k")),
  ];
}

function checkSpec(spec: SoftmaxSpec): void {
  checkCount("mid", spec.mid);
  checkCount("inner", spec.inner);
  if (typeof spec.outer === "number") checkCount("outer", spec.outer);
  if (spec.causal) {
    checkCount("causal.t", spec.causal.t);
    if (spec.inner !== 1 || spec.causal.s !== spec.mid) throw new Error("internal: causal softmax needs inner = 1 and s = mid");
  }
}

/** Row prologue (inner = 1): row pointers and the unmasked length `_len`. */
function rowHead(spec: SoftmaxSpec, ptrs: string[]): string[] {
  const lines = ptrs.map((p) => `const _${p}: usize = ${at(p, `_r * ${intlit(spec.mid)}`)};`);
  const len = spec.causal ? `min<i32>(_r % ${intlit(spec.causal.t)} + 1, ${intlit(spec.mid)})` : intlit(spec.mid);
  return [...lines, `const _len: i32 = ${len};`, "let _k: i32 = 0;"];
}

/** Masked tail of a causal row: positions [_len, mid) get `value` (unless nothing is to be written). */
function maskTail(spec: SoftmaxSpec, ptr: string, value: string | null): string[] {
  if (!spec.causal || value === null) return [];
  return [`for (_k = _len; _k < ${intlit(spec.mid)}; _k++) store<f32>(${at(ptr, "_k")}, ${value});`];
}

function softmaxRows(spec: SoftmaxSpec): string[] {
  const log = !!spec.log;
  const row = [
    ...rowHead(spec, ["x", "y"]),
    "let _m4: v128 = f32x4.splat(<f32>-Infinity);",
    `for (; _k + 4 <= _len; _k += 4) _m4 = f32x4.max(_m4, v128.load(${at("_x", "_k")}));`,
    "let _m: f32 = hmax4(_m4);",
    `for (; _k < _len; _k++) _m = max<f32>(_m, load<f32>(${at("_x", "_k")}));`,
    "const _mv: v128 = f32x4.splat(_m);",
    "let _s4: v128 = f32x4.splat(0.0);",
    "let _s: f32 = 0.0;",
    ...rowLoop("0", "_len", (L, k) => {
      const e = L.exp(L.sub(L.load(at("_x", k)), L === SIMD ? "_mv" : "_m")), sum = L === SIMD ? "_s4" : "_s";
      return log ? [`${sum} = ${L.add(sum, e)};`] : [`const _e: ${L.ty} = ${e};`, L.store(at("_y", k), "_e"), `${sum} = ${L.add(sum, "_e")};`];
    }),
    "_s += hsum4(_s4);",
    ...(log ? ["const _lg: f32 = logf(_s);"] : ["const _inv: f32 = <f32>1.0 / _s;"]),
    ...rowLoop("0", "_len", (L, k) => log
      ? [L.store(at("_y", k), L.sub(L.sub(L.load(at("_x", k)), L.splat("_m")), L.splat("_lg")))]
      : [L.store(at("_y", k), L.mul(L.load(at("_y", k)), L.splat("_inv")))]),
    ...maskTail(spec, "_y", log ? "<f32>-Infinity" : "0.0"),
  ];
  return [block(`for (let _r: i32 = 0; _r < ${sizeSrc(SOFTMAX_LOCALS, spec.outer)}; _r++) {`, row)];
}

/** inner > 1: one column group (`lane` wide at column `_i`), three strided passes over mid. */
function softmaxColumns(spec: SoftmaxSpec, L: Ops): string[] {
  const idx = (k: string): string => `_base + ${k} * ${intlit(spec.inner)}`;
  const loop = (body: string[]): string[] => [block(`for (let _k: i32 = 0; _k < ${intlit(spec.mid)}; _k++) {`, body)];
  return [
    `const _base: i32 = _o * ${intlit(spec.mid * spec.inner)} + _i;`,
    `let _m: ${L.ty} = ${L.splat("<f32>-Infinity")};`,
    ...loop([`_m = ${L.max("_m", L.load(at("x", idx("_k"))))};`]),
    `let _s: ${L.ty} = ${L.splat("<f32>0.0")};`,
    ...loop(spec.log ? [`_s = ${L.add("_s", L.exp(L.sub(L.load(at("x", idx("_k"))), "_m")))};`]
      : [`const _e: ${L.ty} = ${L.exp(L.sub(L.load(at("x", idx("_k"))), "_m"))};`, L.store(at("y", idx("_k")), "_e"), `_s = ${L.add("_s", "_e")};`]),
    spec.log ? `const _lg: ${L.ty} = ${L.log("_s")};` : `const _inv: ${L.ty} = ${L.div(L.splat("<f32>1.0"), "_s")};`,
    ...loop([spec.log ? L.store(at("y", idx("_k")), L.sub(L.sub(L.load(at("x", idx("_k"))), "_m"), "_lg"))
      : L.store(at("y", idx("_k")), L.mul(L.load(at("y", idx("_k"))), "_inv"))]),
  ];
}

function columnsKernel(spec: SoftmaxSpec, group: (L: Ops) => string[]): string[] {
  const per = [
    "let _i: i32 = 0;",
    block(`for (; _i + 4 <= ${intlit(spec.inner)}; _i += 4) {`, group(SIMD)),
    block(`for (; _i < ${intlit(spec.inner)}; _i++) {`, group(SCALAR)),
  ];
  return [block(`for (let _o: i32 = 0; _o < ${sizeSrc(SOFTMAX_LOCALS, spec.outer)}; _o++) {`, per)];
}

function keyOf(kind: string, spec: SoftmaxGradSpec): string {
  return `${kind}:${JSON.stringify([spec.outer, spec.mid, spec.inner, spec.causal ? [spec.causal.t, spec.causal.s] : null, !!spec.log, !!spec.accumulate])}`;
}

export function emitSoftmax(spec: SoftmaxSpec): KernelDef {
  checkSpec(spec);
  const body = spec.inner === 1 ? softmaxRows(spec) : columnsKernel(spec, (L) => softmaxColumns(spec, L));
  return {
    key: keyOf("softmax", { ...spec, accumulate: false }),
    label: `${spec.log ? "log_softmax" : "softmax"} ${spec.outer}x${spec.mid}x${spec.inner}${spec.causal ? " causal" : ""}`,
    params: kernelParams(SOFTMAX_LOCALS, ["x", "y"], spec.outer),
    body: body.join("\n"),
    needs: NEEDS,
  };
}

// ---------------------------------------------------------------- gradient

/** dx from y, dy and the row sum s: softmax y·(dy − s) with s = Σ dy·y; log-softmax dy − e^y·s with s = Σ dy. */
function gradValue(L: Ops, log: boolean, y: string, dy: string, s: string): string {
  return log ? L.sub(dy, L.mul(L.exp(y), s)) : L.mul(y, L.sub(dy, s));
}

function storeDx(L: Ops, p: string, v: string, acc: boolean): string {
  return L.store(p, acc ? L.add(L.load(p), v) : v);
}

function gradRows(spec: SoftmaxGradSpec): string[] {
  const log = !!spec.log, acc = !!spec.accumulate;
  const term = (L: Ops, k: string): string => (log ? L.load(at("_dy", k)) : L.mul(L.load(at("_dy", k)), L.load(at("_y", k))));
  const row = [
    ...rowHead(spec, ["y", "dy", "dx"]),
    "let _s4: v128 = f32x4.splat(0.0);",
    `for (; _k + 4 <= _len; _k += 4) _s4 = f32x4.add(_s4, ${term(SIMD, "_k")});`,
    "let _s: f32 = hsum4(_s4);",
    `for (; _k < _len; _k++) _s += ${term(SCALAR, "_k")};`,
    "const _sv: v128 = f32x4.splat(_s);",
    ...rowLoop("0", "_len", (L, k) => [storeDx(L, at("_dx", k), gradValue(L, log, L.load(at("_y", k)), L.load(at("_dy", k)), L === SIMD ? "_sv" : "_s"), acc)]),
    ...maskTail(spec, "_dx", acc ? null : "0.0"),
  ];
  return [block(`for (let _r: i32 = 0; _r < ${sizeSrc(SOFTMAX_LOCALS, spec.outer)}; _r++) {`, row)];
}

function gradColumns(spec: SoftmaxGradSpec, L: Ops): string[] {
  const idx = (k: string): string => `_base + ${k} * ${intlit(spec.inner)}`;
  const loop = (body: string[]): string[] => [block(`for (let _k: i32 = 0; _k < ${intlit(spec.mid)}; _k++) {`, body)];
  const dy = L.load(at("dy", idx("_k"))), y = L.load(at("y", idx("_k")));
  return [
    `const _base: i32 = _o * ${intlit(spec.mid * spec.inner)} + _i;`,
    `let _s: ${L.ty} = ${L.splat("<f32>0.0")};`,
    ...loop([`_s = ${L.add("_s", spec.log ? dy : L.mul(dy, y))};`]),
    ...loop([storeDx(L, at("dx", idx("_k")), gradValue(L, !!spec.log, y, dy, "_s"), !!spec.accumulate)]),
  ];
}

export function emitSoftmaxGrad(spec: SoftmaxGradSpec): KernelDef {
  checkSpec(spec);
  const body = spec.inner === 1 ? gradRows(spec) : columnsKernel(spec, (L) => gradColumns(spec, L));
  return {
    key: keyOf("softmax_grad", spec),
    label: `${spec.log ? "log_softmax" : "softmax"} grad ${spec.outer}x${spec.mid}x${spec.inner}${spec.causal ? " causal" : ""}`,
    params: kernelParams(SOFTMAX_LOCALS, ["y", "dy", "dx"], spec.outer),
    body: body.join("\n"),
    needs: NEEDS,
  };
}
