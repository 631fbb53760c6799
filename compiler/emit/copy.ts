/**
 * Emitter: strided copies (head transposes, slices, concatenation into a slice, splits) and fills.
 * Axes of size 1 are dropped and axes contiguous in both source and destination are merged, so a
 * copy becomes nested loops (one per remaining axis, as many as there are) around the longest possible run; unit-stride runs use memory.copy
 * (long) or f32x4 (short, or accumulating), other runs a scalar strided loop. Strides are in elements.
 */
import { block, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { flit } from "./elementwise.js";

export interface CopySpec { shape: SizeArg[]; srcStrides: number[]; dstStrides: number[]; accumulate?: boolean }
export interface FillSpec { n: SizeArg; value: number }
export interface ConstantSpec { values: readonly number[] }

/** Locals of copy and fill kernels start with "_". */
export const COPY_LOCALS = locals("emitCopy", "prefixed");

/** Below this many elements a run is copied with f32x4 instead of a memory.copy call. */
const MEMCOPY_MIN = 32;

interface Axis { size: SizeArg; src: number; dst: number }

/** Drops size-1 axes and merges neighbours that are contiguous in both buffers. */
export function simplifyAxes(spec: CopySpec): Axis[] {
  const axes: Axis[] = spec.shape.map((size, k) => ({ size, src: spec.srcStrides[k], dst: spec.dstStrides[k] })).filter((a) => a.size !== 1);
  const out: Axis[] = [];
  for (const a of axes) {
    const prev = out[out.length - 1];
    const inner = typeof a.size === "number" ? a.size : null;
    if (prev && inner !== null && prev.src === a.src * inner && prev.dst === a.dst * inner) {
      const size: SizeArg = typeof prev.size === "number" ? prev.size * inner : `${prev.size}*${inner}`;
      out[out.length - 1] = { size, src: a.src, dst: a.dst };
    } else {
      out.push({ ...a });
    }
  }
  return out;
}

/** Copies (or adds) n contiguous f32 from `s` to `d` (byte addresses); `n` is i32 source text. */
export function runCopy(d: string, s: string, n: string, nConst: number | null, accumulate: boolean): string[] {
  if (!accumulate && (nConst === null || nConst >= MEMCOPY_MIN)) return [`memory.copy(${d}, ${s}, <usize>(${n}) << 2);`];
  const vec = accumulate ? `f32x4.add(v128.load(${d} + _o), v128.load(${s} + _o))` : `v128.load(${s} + _o)`;
  const sca = accumulate ? `load<f32>(${d} + _o) + load<f32>(${s} + _o)` : `load<f32>(${s} + _o)`;
  const lines = ["let _k: i32 = 0;"];
  if (nConst === null || nConst >= 4) {
    lines.push(block(`for (; _k + 4 <= ${n}; _k += 4) {`, [`const _o: usize = <usize>_k << 2;`, `v128.store(${d} + _o, ${vec});`]));
  }
  if (nConst === null || nConst % 4 !== 0) {
    lines.push(block(`for (; _k < ${n}; _k++) {`, [`const _o: usize = <usize>_k << 2;`, `store<f32>(${d} + _o, ${sca});`]));
  }
  return [block("{", lines)];
}

/** Size source text for an axis whose size may be a merged `name*k` runtime product. */
function axisSize(a: Axis): { src: string; c: number | null } {
  if (typeof a.size === "number") return { src: intlit(a.size), c: a.size };
  const [name, ...factors] = a.size.split("*");
  return { src: [sizeSrc(COPY_LOCALS, name), ...factors.map((f) => intlit(Number(f)))].join(" * "), c: null };
}

function innerRun(a: Axis, s: string, d: string, accumulate: boolean): string[] {
  const { src: n, c } = axisSize(a);
  const sp = `src + (<usize>(${s}) << 2)`, dp = `dst + (<usize>(${d}) << 2)`;
  if (a.src === 1 && a.dst === 1) return runCopy(dp, sp, n, c, accumulate);
  const from = `load<f32>(${sp} + (<usize>(_k * ${intlit(a.src)}) << 2))`;
  const to = `${dp} + (<usize>(_k * ${intlit(a.dst)}) << 2)`;
  return [`for (let _k: i32 = 0; _k < ${n}; _k++) store<f32>(${to}, ${accumulate ? `load<f32>(${to}) + ${from}` : from});`];
}

export function emitCopy(spec: CopySpec): KernelDef {
  const r = spec.shape.length;
  // Any number of axes: one nested loop per axis left after simplifyAxes (kiln shapes have at most
  // MAX_RANK = 8 axes, so a copy has at most 9 with the batch).
  if (r === 0 || spec.srcStrides.length !== r || spec.dstStrides.length !== r) throw new Error("internal: copy needs at least one axis and a stride for each");
  spec.shape.forEach((d, k) => {
    if (typeof d === "string" ? k !== 0 : !Number.isInteger(d) || d < 1) throw new Error(`internal: copy axis ${k} has bad size ${d}`);
  });
  [...spec.srcStrides, ...spec.dstStrides].forEach((s) => intlit(s));
  const acc = !!spec.accumulate;
  const axes = simplifyAxes(spec);
  let body: string[];
  if (axes.length === 0) {
    body = [`store<f32>(dst, ${acc ? "load<f32>(dst) + " : ""}load<f32>(src));`];
  } else {
    body = innerRun(axes[axes.length - 1], axes.length > 1 ? `_s${axes.length - 2}` : "0", axes.length > 1 ? `_d${axes.length - 2}` : "0", acc);
    for (let k = axes.length - 2; k >= 0; k--) {
      const ps = k > 0 ? `_s${k - 1} + ` : "", pd = k > 0 ? `_d${k - 1} + ` : "";
      body = [block(`for (let _i${k}: i32 = 0; _i${k} < ${axisSize(axes[k]).src}; _i${k}++) {`, [
        `const _s${k}: i32 = ${ps}_i${k} * ${intlit(axes[k].src)};`, `const _d${k}: i32 = ${pd}_i${k} * ${intlit(axes[k].dst)};`, ...body,
      ])];
    }
  }
  return {
    key: `copy:${JSON.stringify([spec.shape, spec.srcStrides, spec.dstStrides, acc])}`,
    label: `copy [${spec.shape.join(",")}]${acc ? " accumulate" : ""}`,
    params: kernelParams(COPY_LOCALS, ["src", "dst"], spec.shape[0]),
    body: body.join("\n"),
    needs: [],
  };
}

export function emitFill(spec: FillSpec): KernelDef {
  if (typeof spec.n === "number" && (!Number.isInteger(spec.n) || spec.n < 0)) throw new Error(`internal: fill of ${spec.n} elements`);
  const n = sizeSrc(COPY_LOCALS, spec.n);
  const zero = spec.value === 0 && !Object.is(spec.value, -0);
  const body = zero ? [`memory.fill(out, 0, <usize>(${n}) << 2);`] : [
    `const _v: f32 = ${flit(spec.value)};`,
    "const _vv: v128 = f32x4.splat(_v);",
    "let _k: i32 = 0;",
    `for (; _k + 4 <= ${n}; _k += 4) v128.store(out + (<usize>_k << 2), _vv);`,
    `for (; _k < ${n}; _k++) store<f32>(out + (<usize>_k << 2), _v);`,
  ];
  return {
    key: `fill:${JSON.stringify([spec.n, zero ? 0 : flit(spec.value)])}`,
    label: `fill ${spec.n}`,
    params: kernelParams(COPY_LOCALS, ["out"], spec.n),
    body: body.join("\n"),
    needs: [],
  };
}

/**
 * The `constant` kernel: compile-time values (a rescaling's per-channel scale, a normalization's
 * mean) stored one by one. Values are numbers from a checked graph, written only through `flit`.
 */
export function emitConstant(spec: ConstantSpec): KernelDef {
  if (spec.values.length === 0) throw new Error("internal: a constant of no values");
  const lits = spec.values.map(flit);
  return {
    key: `constant:${JSON.stringify(lits)}`,
    label: `constant ${spec.values.length}`,
    params: kernelParams(COPY_LOCALS, ["out"]),
    body: lits.map((v, k) => `store<f32>(out + ${intlit(k * 4)}, ${v});`).join("\n"),
    needs: [],
  };
}
