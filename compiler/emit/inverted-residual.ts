/**
 * Emitter: MobileNetV2's inverted-residual block as one kernel (passes/fuse-inverted-residual.ts
 * makes the node): expand 1×1 conv (+ its epilogue) → depthwise 3×3 (+ its epilogue) → project
 * 1×1 conv (+ its epilogue, the residual add included), computed per image by bands of output
 * rows, so the 6×-expanded tensor never goes to memory: per band the expanded rows the band's
 * depthwise windows read (halo included) are in scratch (E), the band's depthwise output too (D),
 * and the projection writes the band's output rows. Rows of E that the previous band already
 * computed (the halo: kh − stride rows) move to E's start instead of being recomputed; rows of E
 * outside the image are zeros, which is what the depthwise kernel's padding reads.
 *
 * The three steps are the separate kernels' own emitters (called as sub-kernels on band-sized
 * shapes), so every output element is the same chain of f32 operations as the unfused path's —
 * except that the depthwise adds 0·w for a tap in the top or bottom padding where the unfused
 * kernel skips it (the same value: s + 0 = s).
 */
import { intlit, kernelParams, locals } from "./code.js";
import { conv2dPackedBBytes, conv2dPrepackable, emitConv2d, emitConv2dPackB } from "./conv.js";
import type { Conv2dSpec } from "./conv/spec.js";
import { emitDepthwiseConv2d, type DepthwiseSpec } from "./depthwise.js";
import { roundUp } from "./gemm-core.js";
import type { KernelDef } from "./kernel.js";

export interface InvertedResidualSpec {
  /** The expand 1×1 conv (h×w×c → h×w×f), stride 1, no padding, no residual. */
  expand: Conv2dSpec;
  /** The depthwise conv on the expanded tensor (m = 1, dilation 1). */
  depthwise: DepthwiseSpec;
  /** The project 1×1 conv (stride 1, no padding), its residual add if any. */
  project: Conv2dSpec;
  /** Output rows per band (select/rules.ts: invertedResidualBandRows). */
  rows: number;
  relaxed?: boolean;
}

/** Locals end with "_" (the convolution emitters' convention). */
export const INVERTED_RESIDUAL_LOCALS = locals("emitInvertedResidual", "suffixed");

export function checkInvertedResidualSpec(s: InvertedResidualSpec): void {
  const { expand: e, depthwise: d, project: p } = s;
  const bad = (what: string) => new Error(`internal: emitInvertedResidual: ${what}`);
  if (e.kh !== 1 || e.kw !== 1 || e.sh !== 1 || e.sw !== 1 || e.padTop || e.padLeft || e.oh !== e.h || e.ow !== e.w || e.residual || e.accumulate) throw bad("the expand must be a plain 1×1 conv");
  if (p.kh !== 1 || p.kw !== 1 || p.sh !== 1 || p.sw !== 1 || p.padTop || p.padLeft || p.oh !== p.h || p.ow !== p.w || p.accumulate) throw bad("the project must be a plain 1×1 conv");
  if (d.m !== 1 || d.dh !== 1 || d.dw !== 1 || d.accumulate) throw bad("the depthwise must have m = 1, dilation 1");
  if (d.h !== e.oh || d.w !== e.ow || d.c !== e.f || p.h !== d.oh || p.w !== d.ow || p.c !== d.c) throw bad("the three shapes do not chain");
  if (!Number.isInteger(s.rows) || s.rows < 1 || s.rows > d.oh) throw bad(`rows must be in 1..${d.oh}, got ${s.rows}`);
}

/** Input rows of the expanded tensor a band of `rows` output rows reads. */
const bandInputRows = (d: DepthwiseSpec, rows: number) => (rows - 1) * d.sh + d.kh;

/** The depthwise conv of one band held in E: `rows` output rows, E's rows as the whole image (no top padding). */
function bandDepthwise(d: DepthwiseSpec, rows: number): DepthwiseSpec {
  return { ...d, h: bandInputRows(d, rows), oh: rows, padTop: 0 };
}

/** A 1×1 conv as a GEMM over one row of pixels: the kernel's batch count is then the number of rows. */
const rowConv = (s: Conv2dSpec, relaxed: boolean): Conv2dSpec => ({ ...s, h: 1, oh: 1, relaxed });

const call = (index: number, def: KernelDef, args: Record<string, string>) => {
  const missing = def.params.filter((p) => args[p.name] === undefined).map((p) => p.name);
  if (missing.length) throw new Error(`internal: emitInvertedResidual: no argument for ${missing.join(", ")} of ${def.label}`);
  return `$kernel${index}(${def.params.map((p) => args[p.name]).join(", ")});`;
};

/**
 * Params x, we, wd, wp, y, [be], [se], [bd], [sd], [bp], [sp], [residual], scratch, n (the
 * expand's, depthwise's and project's weights, biases and scales, as the spec has them).
 */
export function emitInvertedResidual(spec: InvertedResidualSpec): KernelDef {
  checkInvertedResidualSpec(spec);
  const relaxed = !!spec.relaxed, { expand: e, depthwise: d, project: p, rows: R } = spec;
  const OH = d.oh, last = OH % R || R;
  const eRow = rowConv(e, relaxed), pRow = rowConv(p, relaxed);
  // Each 1×1 conv's B (its scale folded in) is packed once per call, not once per band (a 1×1
  // conv's K is one block whatever its width): 14×14×96→576's is 221 KB.
  const ePacked = conv2dPrepackable(eRow), pPacked = conv2dPrepackable(pRow);
  const expand = emitConv2d(eRow, ePacked), project = emitConv2d(pRow, pPacked);
  const dwFull = emitDepthwiseConv2d(bandDepthwise(d, R)), dwLast = emitDepthwiseConv2d(bandDepthwise(d, last));
  // B packing calls: [kernel, its arguments]
  const packs: [KernelDef, Record<string, string>][] = [
    ...(ePacked ? [[emitConv2dPackB(eRow), { w: "we", scale: "se", sb: "PBE_" }] as [KernelDef, Record<string, string>]] : []),
    ...(pPacked ? [[emitConv2dPackB(pRow), { w: "wp", scale: "sp", sb: "PBP_" }] as [KernelDef, Record<string, string>]] : []),
  ];
  const calls = [expand, project, dwFull, ...(last === R ? [] : [dwLast]), ...packs.map(([k]) => k)];
  const rowBytes = d.w * d.c * 4, eRows = bandInputRows(d, R);
  const sub = roundUp(Math.max(expand.scratchBytes ?? 0, project.scratchBytes ?? 0), 64);
  const pbeBytes = ePacked ? conv2dPackedBBytes(eRow) : 0, pbpBytes = pPacked ? conv2dPackedBBytes(pRow) : 0;
  const eBytes = roundUp(eRows * rowBytes, 64), dBytes = R * d.ow * d.c * 4;
  const xImage = e.h * e.w * e.c * 4, yImage = p.oh * p.ow * p.f * 4, yRow = p.ow * p.f * 4, xRow = e.w * e.c * 4;
  const opt = (name: string, on: boolean | undefined) => (on ? [name] : []);
  const tensors = ["x", "we", "wd", "wp", "y", ...opt("be", e.bias), ...opt("se", e.scale), ...opt("bd", d.bias), ...opt("sd", d.scale),
    ...opt("bp", p.bias), ...opt("sp", p.scale), ...opt("residual", p.residual)];
  const expandArgs = { x: "(xi_ + <usize>(iy_ * " + intlit(xRow) + "))", w: ePacked ? "PBE_" : "we", y: "(E_ + <usize>((iy_ - lo_) * " + intlit(rowBytes) + "))", bias: "be", scale: "se", scratch: "scratch", n: "end_ - iy_" };
  const dwArgs = { x: "E_", w: "wd", y: "D_", bias: "bd", scale: "sd", n: "1" };
  const projectArgs = { x: "D_", w: pPacked ? "PBP_" : "wp", y: "(yi_ + <usize>(ob_ * " + intlit(yRow) + "))", bias: "bp", scale: "sp", residual: "(ri_ + <usize>(ob_ * " + intlit(yRow) + "))", scratch: "scratch", n: "rows_" };
  const body = [
    `const PBE_ = scratch + ${intlit(sub)};`,
    `const PBP_ = PBE_ + ${intlit(pbeBytes)};`,
    `const E_ = PBP_ + ${intlit(pbpBytes)};`,
    ...packs.map(([k, args], i) => call(calls.length - packs.length + i, k, args)),
    `const D_ = E_ + ${intlit(eBytes)};`,
    `for (let img_ = 0; img_ < n; img_++) {`,
    `  const xi_ = x + <usize>img_ * ${intlit(xImage)};`,
    `  const yi_ = y + <usize>img_ * ${intlit(yImage)};`,
    p.residual ? `  const ri_ = residual + <usize>img_ * ${intlit(yImage)};` : `  const ri_: usize = 0;`,
    // E holds expanded rows [have0_, have1_) at its start
    `  let have0_: i32 = 0, have1_: i32 = 0;`,
    `  for (let ob_: i32 = 0; ob_ < ${intlit(OH)}; ob_ += ${intlit(R)}) {`,
    `    const rows_ = min<i32>(${intlit(R)}, ${intlit(OH)} - ob_);`,
    `    const lo_ = ob_ * ${intlit(d.sh)} - ${intlit(d.padTop)};`,
    `    const hi_ = lo_ + (rows_ - 1) * ${intlit(d.sh)} + ${intlit(d.kh)};`,
    `    let iy_ = lo_;`,
    `    if (have1_ > have0_ && lo_ >= have0_ && lo_ < have1_) {`,
    `      memory.copy(E_, E_ + <usize>((lo_ - have0_) * ${intlit(rowBytes)}), <usize>((have1_ - lo_) * ${intlit(rowBytes)}));`,
    `      iy_ = have1_;`,
    `    }`,
    `    while (iy_ < hi_) {`,
    `      if (iy_ < 0 || iy_ >= ${intlit(d.h)}) {`,
    `        memory.fill(E_ + <usize>((iy_ - lo_) * ${intlit(rowBytes)}), 0, ${intlit(rowBytes)});`,
    `        iy_++;`,
    `        continue;`,
    `      }`,
    `      const end_ = min<i32>(hi_, ${intlit(d.h)});`,
    `      ${call(0, expand, expandArgs)}`,
    `      iy_ = end_;`,
    `    }`,
    `    have0_ = lo_;`,
    `    have1_ = hi_;`,
    last === R ? `    ${call(2, dwFull, dwArgs)}`
      : `    if (rows_ == ${intlit(R)}) ${call(2, dwFull, dwArgs)} else ${call(3, dwLast, dwArgs)}`,
    `    ${call(1, project, projectArgs)}`,
    `  }`,
    `}`,
  ].join("\n");
  const geometry = `${e.h}x${e.w}x${e.c}->${e.f}->${p.oh}x${p.ow}x${p.f}${d.sh === 1 ? "" : ` stride ${d.sh}`}`;
  return {
    key: `inverted_residual:${JSON.stringify({ ...spec, relaxed })}`,
    label: `inverted_residual ${geometry} rows ${R}${p.residual ? " +residual" : ""}`,
    params: kernelParams(INVERTED_RESIDUAL_LOCALS, [...tensors, "scratch"], "n"),
    body,
    calls,
    scratchBytes: sub + pbeBytes + pbpBytes + eBytes + dBytes,
  };
}
