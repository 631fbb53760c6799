// Shapes, normalized attributes, weights and errors of the preprocessing layers rescaling (Keras
// Rescaling) and normalization (Keras 3 Normalization), against what Keras's build() gives.
import { describe, expect, test } from "vitest";
import { checkGraph } from "../../compiler/frontend/index.js";
import { countParams } from "../../compiler/frontend/params.js";
import { errorOf, graphOf, input } from "./helpers.js";

const only = (shape: number[], layer: object) => checkGraph(graphOf([input(shape)], [{ name: "l", ...layer }])).layers[0]!;
const weightsOf = (shape: number[], layer: object) => only(shape, layer).weights.map((w) => [w.fullName, w.shape, w.initializer.name, w.trainable]);
const firstError = (shape: number[], layer: object) => errorOf(graphOf([input(shape)], [{ name: "l", ...layer }])).diagnostics[0]!;

describe("rescaling", () => {
  test("keeps the shape, has no weights, offset defaults to 0", () => {
    const l = only([4, 5, 3], { op: "rescaling", scale: 1 / 255 });
    expect(l.shape).toEqual([4, 5, 3]);
    expect(l.weights).toEqual([]);
    expect(l.attrs).toEqual({ scale: 1 / 255, offset: 0 });
  });

  test("a list per channel, or of one value, broadcasts against the last axis", () => {
    expect(only([4, 3], { op: "rescaling", scale: [1, 2, 3], offset: [0.5] }).attrs).toEqual({ scale: [1, 2, 3], offset: [0.5] });
  });

  test("scale is required", () => {
    expect(firstError([3], { op: "rescaling" }).message).toMatch(/scale/);
  });

  test("a list that does not broadcast is refused at its attribute, naming the input's shape", () => {
    const d = firstError([4, 3], { op: "rescaling", scale: 1, offset: [1, 2] });
    expect(d.path).toBe("/layers/0/offset");
    expect(d.message).toBe('offset has 2 values, which do not broadcast against the last axis of input "x" (shape [4, 3]) (expected 1 or 3 values)');
  });
});

describe("normalization", () => {
  test("Keras defaults: axis -1, adapted weights mean and variance of the last axis, never trained", () => {
    expect(only([4, 5, 3], { op: "normalization" }).attrs).toEqual({ axis: [2], mean: null, variance: null, invert: false });
    expect(weightsOf([4, 5, 3], { op: "normalization" })).toEqual([["l/mean", [3], "zeros", false], ["l/variance", [3], "ones", false]]);
  });

  test.each([
    ["axis null: scalar statistics", { axis: null }, [], []],
    ["axis [1, 2]: one per position", { axis: [1, 2] }, [0, 1], [4, 5]],
    ["axis [-1, 1] (sorted, as Keras's _keep_axis)", { axis: [-1, 1] }, [0, 2], [4, 3]],
  ])("%s", (_n, extra, axes, shape) => {
    const l = only([4, 5, 3], { op: "normalization", ...extra });
    expect(l.attrs.axis).toEqual(axes);
    expect(l.weights.map((w) => w.shape)).toEqual([shape, shape]);
  });

  test("parameters as Keras's summary counts them: mean, variance and adapt()'s count (EfficientNet's normalization: 7 for RGB), all non-trainable", () => {
    const g = checkGraph(graphOf([input([8, 8, 3])], [{ name: "l", op: "normalization" }]));
    expect(countParams(g)).toEqual({ trainable: 0, nonTrainable: 7, total: 7 });
  });

  test("mean and variance given as attributes: no weights, no parameters", () => {
    const g = checkGraph(graphOf([input([4, 3])], [{ name: "l", op: "normalization", mean: [1, 2, 3], variance: [1, 1, 2] }]));
    expect(g.layers[0]!.weights).toEqual([]);
    expect(countParams(g).total).toBe(0);
  });

  test.each([
    ["mean without variance (reported at the missing one)", { mean: 1 }, "variance", /given together or not at all/],
    ["variance below 0", { mean: 1, variance: -1 }, "variance", /≥ 0/],
    ["mean and variance of different shapes", { mean: [1, 2, 3], variance: 1 }, "variance", /same shape/],
    ["a list with axis null", { axis: null, mean: [1, 2, 3], variance: [1, 1, 1] }, "mean", /needs a kept axis/],
    ["a list that does not fit the last kept axis", { mean: [1, 2], variance: [1, 1] }, "mean", /do not broadcast against kept axis 2 of input "x" \(shape \[4, 3\]\)/],
    ["the batch axis", { axis: 0 }, "axis", /batch axis/],
    ["an axis twice", { axis: [1, -2] }, "axis", /names axis 1 twice/],
  ])("refuses %s at its attribute", (_n, extra, attr, message) => {
    const d = firstError([4, 3], { op: "normalization", ...extra });
    expect(d.path).toBe(`/layers/0/${attr}`);
    expect(d.message).toMatch(message);
  });
});
