// Shapes, normalized attributes, weights and errors of the Keras activation layers (relu,
// leaky_relu, elu, prelu), the normalization options (center/scale, group_normalization) and
// the merges with Keras 3 broadcasting, dot, spatial dropout and the Gaussian noise layers,
// against the shapes and weights Keras gives (worked out from Keras's rules).
import { describe, expect, test } from "vitest";
import { checkGraph } from "../../compiler/frontend/index.js";
import { countParams, layerParams } from "../../compiler/frontend/params.js";
import { errorOf, graphOf, input, outShape } from "./helpers.js";

const only = (shape: number[], layer: object) => checkGraph(graphOf([input(shape)], [{ name: "l", ...layer }])).layers[0]!;
const weightsOf = (shape: number[], layer: object) => only(shape, layer).weights.map((w) => [w.fullName, w.shape, w.initializer.name, w.trainable]);

describe("activation layers", () => {
  test.each([
    ["relu", { op: "relu" }], ["relu max_value 6", { op: "relu", max_value: 6 }], ["leaky_relu", { op: "leaky_relu" }],
    ["elu", { op: "elu", alpha: 0.5 }], ["prelu", { op: "prelu" }], ["prelu shared [1, 2]", { op: "prelu", shared_axes: [1, 2] }],
    ["activation relu6", { op: "activation", activation: "relu6" }], ["activation log_softmax", { op: "activation", activation: "log_softmax" }],
  ])("%s keeps the shape", (_n, layer) => {
    expect(outShape([4, 5, 3], layer)).toEqual([4, 5, 3]);
  });

  test("Keras defaults: ReLU (no max, slope 0, threshold 0), LeakyReLU slope 0.3, ELU alpha 1", () => {
    expect(only([3], { op: "relu" }).attrs).toEqual({ max_value: null, negative_slope: 0, threshold: 0 });
    expect(only([3], { op: "leaky_relu" }).attrs).toEqual({ negative_slope: 0.3 });
    expect(only([3], { op: "elu" }).attrs).toEqual({ alpha: 1 });
  });

  test("hard_swish is an alias of hard_silu, as in Keras", () => {
    expect(only([3], { op: "activation", activation: "hard_swish" }).attrs).toEqual({ activation: "hard_silu" });
    expect(only([3], { op: "dense", units: 2, activation: "hard_swish" }).attrs.activation).toBe("hard_silu");
  });

  test.each([
    ["no shared axes: one alpha per element", [4, 5, 3], {}, [4, 5, 3], 60],
    ["shared_axes [1, 2]: one per channel", [4, 5, 3], { shared_axes: [1, 2] }, [1, 1, 3], 3],
    ["shared_axes [2] (a middle axis)", [4, 5, 3], { shared_axes: [2] }, [4, 1, 3], 12],
    ["shared_axes [-1] (the last axis, Keras counting)", [4, 5], { shared_axes: [-1] }, [4, 1], 4],
    ["every axis shared: one alpha", [4, 5, 3], { shared_axes: [1, 2, 3] }, [1, 1, 1], 1],
  ])("prelu %s: alpha %j", (_n, shape, extra, alpha, count) => {
    expect(weightsOf(shape, { op: "prelu", ...extra })).toEqual([["l/alpha", alpha, "zeros", true]]);
    expect((alpha as number[]).reduce((p, q) => p * q, 1)).toBe(count);
  });

  test("prelu shared_axes are normalized (sorted, per example) and the batch axis is refused", () => {
    expect(only([4, 5, 3], { op: "prelu", shared_axes: [2, 1] }).attrs.shared_axes).toEqual([0, 1]);
    const err = errorOf(graphOf([input([4, 5])], [{ name: "p", op: "prelu", shared_axes: [0] }]));
    expect(err.diagnostics[0]!.path).toBe("/layers/0/shared_axes");
    expect(err.diagnostics[0]!.message).toMatch(/axis 0 is the batch axis of input shape \[batch, 4, 5\]/);
  });

  test("relu refuses a negative max_value or negative_slope, with the attribute's path", () => {
    expect(errorOf(graphOf([input([3])], [{ name: "r", op: "relu", max_value: -1 }])).diagnostics[0]!.path).toBe("/layers/0/max_value");
    expect(errorOf(graphOf([input([3])], [{ name: "r", op: "leaky_relu", negative_slope: -0.1 }])).diagnostics[0]!.path).toBe("/layers/0/negative_slope");
  });
});

describe("normalization: center, scale, group_normalization", () => {
  test.each([
    ["batch_normalization (defaults)", { op: "batch_normalization" }, ["gamma", "beta", "moving_mean", "moving_variance"]],
    ["batch_normalization center=false: no beta", { op: "batch_normalization", center: false }, ["gamma", "moving_mean", "moving_variance"]],
    ["batch_normalization scale=false: no gamma", { op: "batch_normalization", scale: false }, ["beta", "moving_mean", "moving_variance"]],
    ["batch_normalization neither", { op: "batch_normalization", center: false, scale: false }, ["moving_mean", "moving_variance"]],
    ["layer_normalization center=false", { op: "layer_normalization", center: false }, ["gamma"]],
    ["layer_normalization scale=false", { op: "layer_normalization", scale: false }, ["beta"]],
    ["layer_normalization neither", { op: "layer_normalization", center: false, scale: false }, []],
    ["group_normalization groups 2", { op: "group_normalization", groups: 2 }, ["gamma", "beta"]],
    ["group_normalization scale=false", { op: "group_normalization", groups: 2, scale: false }, ["beta"]],
  ])("%s: weights as Keras stores them", (_n, layer, names) => {
    const l = only([5, 6], layer);
    expect(l.shape).toEqual([5, 6]);
    expect(l.weights.map((w) => w.name)).toEqual(names);
    for (const w of l.weights) expect(w.shape).toEqual([6]);
  });

  test("group_normalization: Keras defaults (groups 32, epsilon 1e-3), -1 means one group per channel", () => {
    expect(only([4, 64], { op: "group_normalization" }).attrs).toMatchObject({ groups: 32, epsilon: 0.001, center: true, scale: true, axis: 1 });
    expect(only([3, 3, 12], { op: "group_normalization", groups: -1 }).attrs.groups).toBe(12);
  });

  test("group_normalization refuses groups that do not divide the channels, naming both", () => {
    const err = errorOf(graphOf([input([4, 6])], [{ name: "gn", op: "group_normalization", groups: 4 }]));
    expect(err.diagnostics[0]!.path).toBe("/layers/0/groups");
    expect(err.diagnostics[0]!.message).toBe('group_normalization needs groups to divide the channel count: input "x" has 6 channels (shape [4, 6]), groups is 4');
  });

  test("group_normalization refuses groups 0; another channel axis splits that axis (gamma and beta its size)", () => {
    expect(errorOf(graphOf([input([4, 6])], [{ name: "gn", op: "group_normalization", groups: 0 }])).diagnostics[0]!.path).toBe("/layers/0/groups");
    const g = checkGraph(graphOf([input([4, 6])], [{ name: "gn", op: "group_normalization", groups: 2, axis: 1 }]));
    expect(g.layers[0]!.weights.map((w) => [w.fullName, w.shape])).toEqual([["gn/gamma", [4]], ["gn/beta", [4]]]);
    expect(errorOf(graphOf([input([4, 6])], [{ name: "gn", op: "group_normalization", groups: 3, axis: 1 }])).diagnostics[0]!.message).toBe('group_normalization needs groups to divide the channel count: input "x" has 4 channels (shape [4, 6]), groups is 3');
  });

  test("layer_normalization over another axis or a list: gamma and beta have those sizes in the order listed (Keras 3)", () => {
    const weights = (shape: number[], axis: unknown) => checkGraph(graphOf([input(shape)], [{ name: "ln", op: "layer_normalization", axis }])).layers[0]!.weights.map((w) => [w.fullName, w.shape]);
    expect(weights([3, 5], 1)).toEqual([["ln/gamma", [3]], ["ln/beta", [3]]]);
    expect(weights([2, 3, 4], [-1, -3])).toEqual([["ln/gamma", [4, 2]], ["ln/beta", [4, 2]]]);
    expect(weights([2, 3, 4], [2])).toEqual([["ln/gamma", [3]], ["ln/beta", [3]]]);
  });
});

describe("merges broadcast as in Keras 3; dot", () => {
  const merged = (shapes: number[][], layer: object) =>
    checkGraph(graphOf(shapes.map((s, i) => input(s, `in${i}`)), [{ name: "m", inputs: shapes.map((_, i) => `in${i}`), ...layer }])).layers[0]!.shape;

  test.each([
    ["[H, W, C] by [1, 1, C] (the SE gate)", [[7, 7, 16], [1, 1, 16]], [7, 7, 16]],
    ["[H, W, C] by [C] (lower rank)", [[7, 7, 16], [16]], [7, 7, 16]],
    ["[4, 1] and [1, 3]", [[4, 1], [1, 3]], [4, 3]],
    ["three inputs", [[2, 3, 4], [2, 1, 4], [4]], [2, 3, 4]],
    ["equal shapes", [[3, 4], [3, 4]], [3, 4]],
  ])("%s", (_n, shapes, want) => {
    for (const op of ["add", "multiply", "average", "maximum", "minimum"]) expect(merged(shapes, { op })).toEqual(want);
    if (shapes.length === 2) expect(merged(shapes, { op: "subtract" })).toEqual(want);
  });

  test("shapes that do not broadcast are refused, naming the input and both shapes", () => {
    const err = errorOf(graphOf([input([3, 4], "a"), input([2, 4], "b")], [{ name: "m", op: "multiply", inputs: ["a", "b"] }]));
    expect(err.diagnostics[0]!.path).toBe("/layers/0/inputs");
    expect(err.diagnostics[0]!.message).toBe('multiply needs input shapes that broadcast as in Keras (aligned on the last axis, sizes equal or 1); "b" is [2, 4], which does not fit 3 against 2 with the inputs before it ([3, 4])');
  });

  test.each([
    ["axes 1 of [6] and [6] (Word2Vec-style similarity)", [[6], [6]], 1, [1]],
    ["axes [2, 2] of [3, 4] and [5, 4]", [[3, 4], [5, 4]], [2, 2], [3, 5]],
    ["axes [1, 2] of [3, 4] and [5, 3]", [[3, 4], [5, 3]], [1, 2], [4, 5]],
    ["axes 1 of [3, 4] and [3, 2]", [[3, 4], [3, 2]], 1, [4, 2]],
    ["axes -1 of [3, 4] and [4]", [[3, 4], [4]], -1, [3]],
  ])("dot %s", (_n, shapes, axes, want) => {
    expect(merged(shapes, { op: "dot", axes })).toEqual(want);
  });

  test("dot refuses contracted sizes that differ and inputs of 3 axes", () => {
    const err = errorOf(graphOf([input([3, 4], "a"), input([5, 3], "b")], [{ name: "m", op: "dot", axes: 2, inputs: ["a", "b"] }]));
    expect(err.diagnostics[0]!.path).toBe("/layers/0/axes");
    expect(err.diagnostics[0]!.message).toBe('dot contracts axis 2 of "a" [3, 4] (size 4) with axis 2 of "b" [5, 3] (size 3); the sizes must be equal');
    const rank3 = errorOf(graphOf([input([2, 3, 4], "a"), input([4], "b")], [{ name: "m", op: "dot", axes: -1, inputs: ["a", "b"] }]));
    expect(rank3.diagnostics[0]!.message).toMatch(/dot takes inputs of 1 or 2 axes per example/);
  });

  test("dot refuses the batch axis", () => {
    const err = errorOf(graphOf([input([4], "a"), input([4], "b")], [{ name: "m", op: "dot", axes: 0, inputs: ["a", "b"] }]));
    expect(err.diagnostics[0]!.message).toMatch(/input "a": axis 0 is the batch axis/);
  });
});

describe("spatial dropout and the Gaussian noise layers", () => {
  test.each([
    ["spatial_dropout1d", [7, 4], { op: "spatial_dropout1d", rate: 0.2 }],
    ["spatial_dropout2d", [5, 6, 4], { op: "spatial_dropout2d", rate: 0.2 }],
    ["gaussian_noise", [5, 6, 4], { op: "gaussian_noise", stddev: 0.1 }],
    ["gaussian_dropout", [3], { op: "gaussian_dropout", rate: 0.5 }],
  ])("%s keeps the shape and owns no weight", (_n, shape, layer) => {
    const l = only(shape, layer);
    expect(l.shape).toEqual(shape);
    expect(l.weights).toEqual([]);
  });

  test("spatial dropout needs [T, C] / [H, W, C] inputs, and a rate in [0, 1)", () => {
    expect(errorOf(graphOf([input([5, 6, 4])], [{ name: "s", op: "spatial_dropout1d", rate: 0.2 }])).diagnostics[0]!.message)
      .toBe('spatial_dropout1d expects an input of shape [T, C]; input "x" has shape [5, 6, 4]');
    expect(errorOf(graphOf([input([6, 4])], [{ name: "s", op: "spatial_dropout2d", rate: 0.2 }])).diagnostics[0]!.message)
      .toBe('spatial_dropout2d expects an input of shape [H, W, C]; input "x" has shape [6, 4]');
    expect(errorOf(graphOf([input([6, 4])], [{ name: "s", op: "spatial_dropout1d", rate: 1 }])).diagnostics[0]!.path).toBe("/layers/0/rate");
    expect(errorOf(graphOf([input([6])], [{ name: "s", op: "gaussian_dropout", rate: 1 }])).diagnostics[0]!.path).toBe("/layers/0/rate");
    expect(errorOf(graphOf([input([6])], [{ name: "s", op: "gaussian_noise", stddev: -1 }])).diagnostics[0]!.path).toBe("/layers/0/stddev");
  });
});

describe("parameter counts as Keras's model.summary() gives them", () => {
  test("a squeeze-and-excitation block with ReLU6, BN without beta, PReLU per channel and GroupNormalization", () => {
    const g = checkGraph(graphOf([input([8, 8, 16])], [
      { name: "c", op: "conv2d", filters: 16, kernel_size: 3, padding: "same" }, // 3·3·16·16 + 16 = 2320
      { name: "bn", op: "batch_normalization", center: false }, // gamma 16 + moving 2·16 (non-trainable)
      { name: "r6", op: "relu", max_value: 6 },
      { name: "gap", op: "global_average_pooling2d" },
      { name: "sq", op: "dense", units: 4, activation: "relu" }, // 16·4 + 4 = 68
      { name: "ex", op: "dense", units: 16, activation: "hard_sigmoid" }, // 4·16 + 16 = 80
      { name: "gate", op: "multiply", inputs: ["r6", "ex"] },
      { name: "p", op: "prelu", shared_axes: [1, 2] }, // 16
      { name: "gn", op: "group_normalization", groups: 4 }, // 2·16
    ]));
    expect(g.layers.map((l) => layerParams(l).total)).toEqual([2320, 48, 0, 0, 68, 80, 0, 16, 32]);
    expect(countParams(g)).toEqual({ trainable: 2532, nonTrainable: 32, total: 2564 });
  });
});
