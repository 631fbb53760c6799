/**
 * Emitter: embedding lookups. gather: out[r, :] = table[ids[r], :]; scatter-add (its gradient):
 * dtable[ids[r], :] += dy[r, :], touching only the rows used (the caller zeroes dtable first).
 * ids are i32. The runtime validates ids before a step; an id outside [0, vocab) that slips
 * through anyway reads as a zero row and contributes no gradient instead of touching other memory.
 */
import { block, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { runCopy } from "./copy.js";
import { checkCount } from "./elementwise.js";

/** Locals start with "_". */
export const GATHER_LOCALS = locals("emitGather", "prefixed");

export interface GatherSpec { rows: SizeArg; dim: number; vocab: number }

function check(spec: GatherSpec): void {
  checkCount("dim", spec.dim);
  checkCount("vocab", spec.vocab);
  if (typeof spec.rows === "number") checkCount("rows", spec.rows);
}

/** Loop over rows with `_id` loaded and range-checked; `bad` runs for ids outside the vocabulary. */
function rowLoop(spec: GatherSpec, bad: string, body: string[]): string {
  const row = [
    "const _id: i32 = load<i32>(ids + (<usize>_r << 2));",
    `if (<u32>_id >= <u32>${intlit(spec.vocab)}) { ${bad} continue; }`,
    ...body,
  ];
  return [block(`for (let _r: i32 = 0; _r < ${sizeSrc(GATHER_LOCALS, spec.rows)}; _r++) {`, row)].join("\n");
}

const rowAddr = (base: string, row: string, dim: number): string => `${base} + ((<usize>${row} * ${intlit(dim)}) << 2)`;

export function emitGather(spec: GatherSpec): KernelDef {
  check(spec);
  const bytes = intlit(spec.dim * 4);
  const body = rowLoop(spec, `memory.fill(${rowAddr("out", "_r", spec.dim)}, 0, ${bytes});`, [
    `const _d: usize = ${rowAddr("out", "_r", spec.dim)};`,
    `const _s: usize = ${rowAddr("table", "_id", spec.dim)};`,
    ...runCopy("_d", "_s", intlit(spec.dim), spec.dim, false),
  ]);
  return {
    key: `gather:${JSON.stringify([spec.rows, spec.dim, spec.vocab])}`,
    label: `gather ${spec.rows}x${spec.dim} from ${spec.vocab}`,
    params: kernelParams(GATHER_LOCALS, ["ids", "table", "out"], spec.rows),
    body,
    needs: [],
  };
}

export function emitScatterAdd(spec: GatherSpec): KernelDef {
  check(spec);
  const body = rowLoop(spec, "", [
    `const _d: usize = ${rowAddr("dtable", "_id", spec.dim)};`,
    `const _s: usize = ${rowAddr("dy", "_r", spec.dim)};`,
    ...runCopy("_d", "_s", intlit(spec.dim), spec.dim, true),
  ]);
  return {
    key: `scatter_add:${JSON.stringify([spec.rows, spec.dim, spec.vocab])}`,
    label: `scatter-add ${spec.rows}x${spec.dim} into ${spec.vocab}`,
    params: kernelParams(GATHER_LOCALS, ["ids", "dy", "dtable"], spec.rows),
    body,
    needs: [],
  };
}
