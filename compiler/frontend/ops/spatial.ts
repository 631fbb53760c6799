/**
 * Spatial movement ops, channels last, as Keras 3 defines them: zero padding and cropping of the
 * steps ([T, C]) or of the image ([H, W, C]), and upsampling (nearest: each value repeated; 2-D
 * bilinear: half-pixel centres, no corner alignment, edges clamped). No weights. They lower to
 * strided copies (passes/lower/shape.ts), whose gradients are the reverse copies.
 */
import type { Attrs } from "../graph-types.js";
import type { JsonSchema, OpContext, OpDef } from "./op.js";
import { MAX_DIM, expectRank, fmtShape, pair, pairAttr, withDefaults } from "./attrs.js";
import { lowerCrop, lowerPad, lowerUpsample } from "../../passes/lower/shape.js";

const NON_NEGATIVE = { title: "a non-negative integer", type: "integer", minimum: 0, maximum: MAX_DIM };

/** int, or [before, after] (1-D). */
function amounts1d(description: string, dflt: unknown): JsonSchema {
  return {
    title: "a non-negative integer or a list [before, after] of them",
    description,
    type: ["integer", "array"],
    minimum: 0,
    maximum: MAX_DIM,
    items: NON_NEGATIVE,
    minItems: 2,
    maxItems: 2,
    default: dflt,
  };
}

/** int, [h, w] (symmetric) or [[top, bottom], [left, right]] (2-D). */
function amounts2d(description: string, dflt: number): JsonSchema {
  return {
    title: "a non-negative integer, a list [h, w] of them, or [[top, bottom], [left, right]]",
    description,
    type: ["integer", "array"],
    minimum: 0,
    maximum: MAX_DIM,
    items: {
      title: "a non-negative integer or a list [before, after] of them",
      type: ["integer", "array"], minimum: 0, maximum: MAX_DIM, items: NON_NEGATIVE, minItems: 2, maxItems: 2,
    },
    minItems: 2,
    maxItems: 2,
    default: dflt,
  };
}

/** A 1-D amount → [before, after]. */
function normAmounts1d(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)];
}

/** A 2-D amount → [[top, bottom], [left, right]]; undefined (reported) when it mixes the forms as Keras refuses. */
function normAmounts2d(v: unknown, attr: string, ctx: OpContext): [[number, number], [number, number]] | undefined {
  if (!Array.isArray(v)) return [[Number(v), Number(v)], [Number(v), Number(v)]];
  if (v.every((e) => typeof e === "number")) return [[v[0], v[0]], [v[1], v[1]]];
  if (v.every(Array.isArray)) return [[v[0][0], v[0][1]], [v[1][0], v[1][1]]];
  ctx.error(`expected an int, [h, w] or [[top, bottom], [left, right]]; got ${JSON.stringify(v)}, which mixes the forms`, attr);
  return undefined;
}

/** Per-example padding (or cropping, negated) before and after each axis; the channel axis gets none. */
export interface Borders { before: number[]; after: number[] }

function bordersOf(a: Attrs, key: string): Borders {
  const p = a[key] as number[] | number[][];
  const rows = (typeof p[0] === "number" ? [p] : p) as number[][];
  return { before: [...rows.map((r) => r[0]!), 0], after: [...rows.map((r) => r[1]!), 0] };
}

function padding(name: "zero_padding1d" | "zero_padding2d", rank: 2 | 3): OpDef {
  const layout = rank === 2 ? "[T, C]" : "[H, W, C]";
  return {
    lower: lowerPad,
    name,
    description: `Zero padding before and after each ${rank === 2 ? "step axis" : "spatial axis"}: ${layout} -> ${rank === 2 ? "[T+before+after, C]" : "[H+top+bottom, W+left+right, C]"}.`,
    minInputs: 1,
    maxInputs: 1,
    attrs: {
      padding: rank === 2
        ? amounts1d("Zeros before and after the steps: an int (both) or [before, after].", 1)
        : amounts2d("Zeros around the image: an int (all sides), [h, w] (symmetric) or [[top, bottom], [left, right]].", 1),
    },
    normalize(raw, ctx) {
      const a = withDefaults(this.attrs, raw);
      const p = rank === 2 ? normAmounts1d(a.padding) : normAmounts2d(a.padding, "padding", ctx);
      return p && { padding: p };
    },
    shape([x], a, ctx) {
      if (!expectRank(ctx, name, layout, rank)) return undefined;
      const { before, after } = bordersOf(a, "padding");
      const out = x.map((d, i) => d + before[i]! + after[i]!);
      if (out.some((d) => d > MAX_DIM)) {
        ctx.error(`padding input ${fmtShape(x)} gives ${fmtShape(out)}, past the largest dimension ${MAX_DIM}`, "padding");
        return undefined;
      }
      return out;
    },
    weights: () => [],
  };
}

function cropping(name: "cropping1d" | "cropping2d", rank: 2 | 3): OpDef {
  const layout = rank === 2 ? "[T, C]" : "[H, W, C]";
  return {
    lower: lowerCrop,
    name,
    description: `Crops steps (or rows and columns) off the start and end: ${layout} -> ${rank === 2 ? "[T−before−after, C]" : "[H−top−bottom, W−left−right, C]"}.`,
    minInputs: 1,
    maxInputs: 1,
    attrs: {
      cropping: rank === 2
        ? amounts1d("Steps cropped at the start and end: an int (both) or [before, after] (Keras default [1, 1]).", [1, 1])
        : amounts2d("Cropped off the image: an int (all sides), [h, w] (symmetric) or [[top, bottom], [left, right]] (Keras default 0).", 0),
    },
    normalize(raw, ctx) {
      const a = withDefaults(this.attrs, raw);
      const c = rank === 2 ? normAmounts1d(a.cropping) : normAmounts2d(a.cropping, "cropping", ctx);
      return c && { cropping: c };
    },
    shape([x], a, ctx) {
      if (!expectRank(ctx, name, layout, rank)) return undefined;
      const { before, after } = bordersOf(a, "cropping");
      const out = x.map((d, i) => d - before[i]! - after[i]!);
      const bad = out.findIndex((d) => d < 1);
      if (bad >= 0) {
        // Keras refuses cropping that leaves nothing, too.
        ctx.error(`cropping ${before[bad]} + ${after[bad]} off axis ${bad + 1} of input ${fmtShape(x)} leaves ${out[bad]} (expected at least 1)`, "cropping");
        return undefined;
      }
      return out;
    },
    weights: () => [],
  };
}

export const zero_padding1d = padding("zero_padding1d", 2);
export const zero_padding2d = padding("zero_padding2d", 3);
export const cropping1d = cropping("cropping1d", 2);
export const cropping2d = cropping("cropping2d", 3);

function checkedGrowth(x: readonly number[], factors: number[], ctx: OpContext): number[] | undefined {
  const out = x.map((d, i) => d * (factors[i] ?? 1));
  if (out.every((d) => d <= MAX_DIM)) return out;
  ctx.error(`upsampling input ${fmtShape(x)} gives ${fmtShape(out)}, past the largest dimension ${MAX_DIM}`, "size");
  return undefined;
}

export const upsampling1d: OpDef = {
  lower: lowerUpsample,
  name: "upsampling1d",
  description: "Repeats each step `size` times: [T, C] -> [T·size, C].",
  minInputs: 1,
  maxInputs: 1,
  attrs: { size: { title: "a positive integer", description: "Repetitions of each step.", type: "integer", minimum: 1, maximum: MAX_DIM, default: 2 } },
  normalize(raw) {
    return withDefaults(this.attrs, raw);
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "upsampling1d", "[T, C]", 2)) return undefined;
    return checkedGrowth(x, [a.size as number], ctx);
  },
  weights: () => [],
};

export const upsampling2d: OpDef = {
  lower: lowerUpsample,
  name: "upsampling2d",
  description: "Upsamples rows and columns by integer factors: [H, W, C] -> [H·sh, W·sw, C]; nearest or bilinear (half-pixel centres).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    size: pairAttr("Factors: an int or [sh, sw].", 2),
    interpolation: {
      title: 'one of "nearest", "bilinear"',
      description: '"nearest": each pixel repeated; "bilinear": Keras 3 resize (half-pixel centres, no corner alignment, edges clamped).',
      enum: ["nearest", "bilinear"],
      default: "nearest",
    },
  },
  normalize(raw) {
    const a = withDefaults(this.attrs, raw);
    a.size = pair(a.size);
    return a;
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "upsampling2d", "[H, W, C]", 3)) return undefined;
    return checkedGrowth(x, a.size as number[], ctx);
  },
  weights: () => [],
};
