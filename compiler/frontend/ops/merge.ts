/**
 * Merge ops: elementwise add/multiply/average/maximum/minimum (two or more inputs of one shape, no
 * broadcasting), subtract (exactly two), and concatenate (shapes equal except on `axis`).
 */
import type { OpContext, OpDef } from "./op.js";
import { axisAttr, fmtShape, kerasAxis, normAxis } from "./attrs.js";
import { lowerConcatenate } from "../../passes/lower/layers.js";
import { lowerMerge } from "../../passes/lower/layers.js";

type Elementwise = "add" | "multiply" | "average" | "maximum" | "minimum" | "subtract";

function sameShapes(xs: readonly (readonly number[])[], ctx: OpContext, op: string): number[] | undefined {
  const first = xs[0];
  for (let i = 1; i < xs.length; i++) {
    if (xs[i].length !== first.length || xs[i].some((d, j) => d !== first[j])) {
      ctx.error(`${op} needs inputs of one shape (no broadcasting); "${ctx.inputNames[0]}" is ${fmtShape(first)} but "${ctx.inputNames[i]}" is ${fmtShape(xs[i])}`, "inputs");
      return undefined;
    }
  }
  return [...first];
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
    shape: (xs, _a, ctx) => sameShapes(xs, ctx, name),
    weights: () => [],
  };
}

export const add = elementwise("add", "Elementwise sum of two or more inputs of one shape.");
export const multiply = elementwise("multiply", "Elementwise product of two or more inputs of one shape.");
export const average = elementwise("average", "Elementwise mean of two or more inputs of one shape.");
export const maximum = elementwise("maximum", "Elementwise maximum of two or more inputs of one shape.");
export const minimum = elementwise("minimum", "Elementwise minimum of two or more inputs of one shape.");
export const subtract = elementwise("subtract", "First input minus the second (exactly two inputs of one shape).");

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
