/**
 * Keras 3 merge broadcasting (layers/merging/base_merge.py): per-example shapes are aligned on
 * their last axes (a shorter one gets leading 1s, as Keras's expand_dims at axis 1 gives), and on
 * each axis the sizes must be equal or one of them 1. `broadcastRuns` describes how an input is
 * read into the output's layout: maximal runs of output axes that are either all broadcast (the
 * input holds size 1 there) or all taken from the input, which is the strided copy that
 * materializes it (emit/copy.ts: one loop per run, besides the batch).
 */

/** The broadcast of per-example shapes, or the first pair of sizes that do not fit. */
export function broadcastShape(shapes: readonly (readonly number[])[]): { shape: number[] } | { conflict: { axis: number; a: number; b: number; input: number } } {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < shapes.length; i++) {
    const s = shapes[i]!;
    for (let k = 0; k < s.length; k++) {
      const axis = rank - s.length + k, d = s[k]!;
      if (d === out[axis] || d === 1) continue;
      if (out[axis] !== 1) return { conflict: { axis, a: out[axis]!, b: d, input: i } };
      out[axis] = d;
    }
  }
  return { shape: out };
}

/** One run of output axes: its size, and whether the input repeats one slice along it. */
export interface BroadcastRun { size: number; broadcast: boolean }

/** The runs of `out` axes along which `input` (a shape broadcastable to it) is repeated or read. */
export function broadcastRuns(input: readonly number[], out: readonly number[]): BroadcastRun[] {
  const padded = [...new Array<number>(out.length - input.length).fill(1), ...input];
  const runs: BroadcastRun[] = [];
  out.forEach((d, k) => {
    if (d === 1) return;
    const broadcast = padded[k] === 1;
    const last = runs[runs.length - 1];
    if (last && last.broadcast === broadcast) last.size *= d;
    else runs.push({ size: d, broadcast });
  });
  return runs;
}
