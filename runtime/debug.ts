/**
 * Debug builds (`kiln compile --debug`): a guard region follows every buffer. The runtime fills
 * the guards with a pattern at load, runs each program one kernel call at a time through its
 * `<program>_range` export, and after every call checks every guard, so a kernel that writes
 * past its buffer is caught at the call that did it. `predict` and `evaluate` must not change
 * weights or optimizer state: in debug builds they are checksummed around each call.
 */
import { isInt, isObject, KilnError } from "./core.js";
import type { Checker, Manifest } from "./manifest.js";
import { bad } from "./part-checks.js";

const PATTERN = 0x7fc0dead; // a NaN no kernel computes

export interface DebugInfo {
  /** Guards between persistent buffers, and per program those in its (shared) arena. */
  guards: { persistent: [number, number][]; programs: Record<string, [number, number][]> };
}

type Guards = [number, number][];

/** Fills the persistent guards of a debug build's fresh memory; returns the checked way to run its programs. */
export function attach(manifest: Manifest, memory: WebAssembly.Memory): typeof runChecked {
  fillGuards(memory, manifest.debug!.guards.persistent);
  return runChecked;
}

export function fillGuards(memory: WebAssembly.Memory, guards: Guards): void {
  for (const [offset, bytes] of guards) new Uint32Array(memory.buffer, offset, bytes >> 2).fill(PATTERN);
}

function brokenGuard(memory: WebAssembly.Memory, guards: Guards): number | undefined {
  for (const [offset, bytes] of guards) {
    const words = new Uint32Array(memory.buffer, offset, bytes >> 2);
    for (let i = 0; i < words.length; i++) if (words[i] !== PATTERN) return offset;
  }
  return undefined;
}

function checksum(memory: WebAssembly.Memory, regions: [number, number][]): number {
  let h = 0x811c9dc5;
  for (const [offset, bytes] of regions) {
    const b = new Uint8Array(memory.buffer, offset, bytes);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  }
  return h >>> 0;
}

/** Runs `name` call by call, checking the guards after each call (and weights for inference). */
export function runChecked(manifest: Manifest, exports: WebAssembly.Exports, memory: WebAssembly.Memory, name: string, batch: number): void {
  const debug = (manifest as { debug?: DebugInfo }).debug!;
  // Programs share the arena: this program's arena guards are laid anew at its start.
  const arena = debug.guards.programs[name] ?? [];
  fillGuards(memory, arena);
  const guards = [...debug.guards.persistent, ...arena];
  const calls = manifest.kernels?.calls[name] ?? [];
  const range = exports[`${name}_range`] as (batch: number, from: number, to: number) => void;
  const size = (shape: number[]) => 4 * shape.reduce((a, b) => a * b, 1);
  const state: [number, number][] = manifest.weights.map((w) => [w.offset, size(w.shape)]);
  for (const s of manifest.training?.slots ?? []) state.push([s.offset, size(manifest.weights.find((w) => w.name === s.weight)!.shape)]);
  const inference = name !== manifest.exports.trainStep;
  const before = inference ? checksum(memory, state) : 0;
  for (let i = 0; i < calls.length; i++) {
    range(batch, i, i + 1);
    const broken = brokenGuard(memory, guards);
    if (broken !== undefined) {
      const [kernel, layer] = calls[i]!;
      throw new KilnError({ code: "corruption", path: name, layer, message: `kernel ${kernel} (call ${i} of ${name}) wrote past a buffer: the guard at byte ${broken} changed` });
    }
  }
  if (inference && checksum(memory, state) !== before) {
    throw new KilnError({ code: "corruption", path: name, message: `${name} changed the weights or optimizer state` });
  }
}

/** The manifest's debug part (manifest.ts checks the rest): every guard a region inside memory. */
export function checkGuards(m: Manifest, c: Checker): void {
  const g = (m.debug as { guards?: { persistent?: unknown; programs?: unknown } } | undefined)?.guards;
  const list = (l: unknown) => Array.isArray(l) && l.every((x) => Array.isArray(x) && x.length === 2 && isInt(x[1]) && x[1] % 4 === 0 && (c.region("debug.guards", x[0], x[1]), true));
  if (!isObject(g) || !list(g.persistent) || !isObject(g.programs) || !Object.values(g.programs).every(list)) bad("debug.guards: expected lists of [offset, bytes] inside memory");
}
