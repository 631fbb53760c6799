/**
 * Merge ops: elementwise add/multiply/average/maximum/minimum (two or more inputs) and subtract
 * (exactly two), whose shapes broadcast as Keras 3's merges do (broadcast.ts), and concatenate
 * (shapes equal except on `axis`).
 */
import type { OpContext, OpDef } from "./op.js";
import { axisAttr, fmtShape, kerasAxis, normAxis } from "./attrs.js";
import { lowerConcatenate } from "../../passes/lower/layers.js";
import { lowerMerge } from "../../passes/lower/layers.js";
import { broadcastShape } from "./broadcast.js";

type Elementwise = "add" | "multiply" | "average" | "maximum" | "minimum" | "subtract";

/** The broadcast output shape (Keras 3 merges), or undefined after reporting the misfit. */
function mergedShape(xs: readonly (readonly number[])[], ctx: OpContext, op: string): number[] | undefined {
  const b = broadcastShape(xs);
  if ("conflict" in b) {
    const { input, a, b: d } = b.conflict;
    ctx.error(`${op} needs input shapes that broadcast as in Keras (aligned on the last axis, sizes equal or 1); "${ctx.inputNames[input]}" is ${fmtShape(xs[input])}, which does not fit ${a} against ${d} with the inputs before it (${xs.slice(0, input).map(fmtShape).join(", ")})`, "inputs", "shape");
    return undefined;
  }
  return b.shape;
}

function elementwise(name: Elementwise, description: string): OpDef {
  return {
    lower: lowerMerge(name),
    name,
    description,
    minInputs: 2,
    maxInputs: name === "subtract" ? 2 : Infinity,
    attrs: {},
    normalize: () => ({}),
    shape: (xs, _a, ctx) => mergedShape(xs, ctx, name),
    weights: () => [],
  };
}

export const add = elementwise("add", "Elementwise sum of two or more inputs (shapes broadcast as in Keras 3).");
export const multiply = elementwise("multiply", "Elementwise product of two or more inputs (shapes broadcast as in Keras 3: [H, W, C] times [1, 1, C] is a squeeze-and-excitation gate).");
export const average = elementwise("average", "Elementwise mean of two or more inputs (shapes broadcast as in Keras 3).");
export const maximum = elementwise("maximum", "Elementwise maximum of two or more inputs (shapes broadcast as in Keras 3).");
export const minimum = elementwise("minimum", "Elementwise minimum of two or more inputs (shapes broadcast as in Keras 3).");
export const subtract = elementwise("subtract", "First input minus the second (exactly two inputs; shapes broadcast as in Keras 3).");

export const concatenate: OpDef = {
  lower: lowerConcatenate,
  name: "concatenate",
  description: "Joins two or more inputs along `axis`; their shapes must match on every other axis.",
  minInputs: 2,
  maxInputs: Infinity,
  attrs: { axis: axisAttr("Axis to join along.") },
  normalize(raw, ctx) {
    const axis = normAxis((raw.axis ?? -1) as number, ctx.inputShapes[0].length, ctx);
    return axis === undefined ? undefined : { axis };
  },
  shape(xs, a, ctx) {
    const axis = a.axis as number;
    const first = xs[0];
    let total = 0;
    for (let i = 0; i < xs.length; i++) {
      const s = xs[i];
      if (s.length !== first.length || s.some((d, j) => j !== axis && d !== first[j])) {
        ctx.error(`concatenate on axis ${kerasAxis(axis)} needs shapes equal except on that axis; "${ctx.inputNames[0]}" is ${fmtShape(first)} but "${ctx.inputNames[i]}" is ${fmtShape(s)}`, "inputs");
        return undefined;
      }
      total += s[axis];
    }
    return first.map((d, j) => (j === axis ? total : d));
  },
  weights: () => [],
};
