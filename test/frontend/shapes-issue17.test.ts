// Shape inference of the 1-D, padding, cropping, upsampling and movement ops of issue 17 against
// the shapes Keras 3 gives (worked out from its compute_output_shape rules and written down here),
// their normalized attributes and weights, and the errors for what Keras refuses.
import { describe, expect, test } from "vitest";
import { checkGraph } from "../../compiler/frontend/index.js";
import { errorOf, graphOf, input, outShape } from "./helpers.js";

/** The (path, message) of every problem of a one-layer graph on `shape`. */
function problems(shape: number[], layer: object): [string, string][] {
  return errorOf(graphOf([input(shape)], [{ name: "l", ...layer }])).diagnostics.map((d) => [d.path, d.message]);
}

describe("conv1d", () => {
  const conv = (extra: object) => ({ op: "conv1d", filters: 8, kernel_size: 3, ...extra });
  test.each([
    ["valid 3", [10, 3], conv({}), [8, 8]],
    ["valid stride 2", [10, 3], conv({ strides: 2 }), [4, 8]],
    ["same stride 2, even", [10, 3], conv({ padding: "same", strides: 2 }), [5, 8]],
    ["same stride 2, odd", [11, 3], conv({ padding: "same", strides: 2 }), [6, 8]],
    ["valid dilation 2", [10, 3], conv({ dilation_rate: 2 }), [6, 8]],
    ["causal dilation 4 keeps the length", [10, 3], conv({ padding: "causal", dilation_rate: 4 }), [10, 8]],
    ["causal stride 2 on 11: floor((11 − 1)/2) + 1", [11, 3], conv({ padding: "causal", strides: 2 }), [6, 8]],
    ["list forms [k], [s]", [9, 2], conv({ kernel_size: [2], strides: [3] }), [3, 8]],
    ["kernel equal to the input", [3, 4], conv({}), [1, 8]],
  ])("%s", (_name, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("normalizes to ints and fills Keras defaults; kernel [k, C, filters] with fans k·C, k·filters", () => {
    const g = checkGraph(graphOf([input([9, 2])], [{ name: "c", op: "conv1d", filters: 4, kernel_size: [3], padding: "causal" }]));
    expect(g.layers[0].attrs).toEqual({
      filters: 4, kernel_size: 3, strides: 1, padding: "causal", dilation_rate: 1, activation: "linear",
      use_bias: true, kernel_initializer: "glorot_uniform", bias_initializer: "zeros",
    });
    expect(g.layers[0].weights.map((w) => [w.fullName, w.shape, w.initializer])).toEqual([
      ["c/kernel", [3, 2, 4], { name: "glorot_uniform", fanIn: 6, fanOut: 12 }],
      ["c/bias", [4], { name: "zeros", fanIn: 4, fanOut: 4 }],
    ]);
  });

  test("refuses what Keras refuses: a valid kernel longer than the input, strides with dilation, a rank-3 input, padding full", () => {
    expect(problems([4, 3], { op: "conv1d", filters: 2, kernel_size: 5 })).toEqual([
      ["/layers/0/kernel_size", 'a kernel of 5 with padding "valid" does not fit input 4x3'],
    ]);
    expect(problems([9, 3], { op: "conv1d", filters: 2, kernel_size: 2, strides: 2, dilation_rate: 2 })).toEqual([
      ["/layers/0/dilation_rate", "strides > 1 cannot be combined with dilation_rate > 1; got strides 2 and dilation_rate 2"],
    ]);
    expect(problems([4, 4, 3], { op: "conv1d", filters: 2, kernel_size: 2 })[0]![1]).toBe('conv1d expects an input of shape [T, C]; input "x" has shape [4, 4, 3]');
    expect(problems([9, 3], { op: "conv1d", filters: 2, kernel_size: 2, padding: "full" })[0]![0]).toBe("/layers/0/padding");
    expect(problems([9, 3], { op: "conv1d", filters: 2, kernel_size: [2, 2] })[0]![0]).toBe("/layers/0/kernel_size");
  });
});

describe("1-D pooling", () => {
  test.each([
    ["max default 2 on 10", [10, 3], { op: "max_pooling1d" }, [5, 3]],
    ["max default 2 on 11 drops the last step", [11, 3], { op: "max_pooling1d" }, [5, 3]],
    ["max 2 same on 11", [11, 3], { op: "max_pooling1d", padding: "same" }, [6, 3]],
    ["average 3 stride 2 valid on 7", [7, 2], { op: "average_pooling1d", pool_size: 3, strides: 2 }, [3, 2]],
    ["average [3] stride [1] same on 7", [7, 2], { op: "average_pooling1d", pool_size: [3], strides: [1], padding: "same" }, [7, 2]],
    ["global average", [7, 5], { op: "global_average_pooling1d" }, [5]],
    ["global max", [7, 5], { op: "global_max_pooling1d" }, [5]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("strides default to pool_size", () => {
    const g = checkGraph(graphOf([input([9, 1])], [{ name: "p", op: "max_pooling1d", pool_size: [3] }]));
    expect(g.layers[0].attrs).toEqual({ pool_size: 3, strides: 3, padding: "valid" });
    expect(g.layers[0].shape).toEqual([3, 1]);
  });

  test("refuses a valid window longer than the input and a [H, W, C] input", () => {
    expect(problems([2, 3], { op: "max_pooling1d", pool_size: 3 })).toEqual([["/layers/0/pool_size", 'a pool of 3 with padding "valid" does not fit input 2x3']]);
    expect(problems([4, 4, 3], { op: "global_max_pooling1d" })[0]![1]).toBe('global_max_pooling1d expects an input of shape [T, C]; input "x" has shape [4, 4, 3]');
  });
});

describe("upsampling", () => {
  test.each([
    ["2-D default 2", [3, 4, 2], { op: "upsampling2d" }, [6, 8, 2]],
    ["2-D [2, 3]", [3, 4, 2], { op: "upsampling2d", size: [2, 3] }, [6, 12, 2]],
    ["2-D bilinear [3, 1]", [3, 4, 2], { op: "upsampling2d", size: [3, 1], interpolation: "bilinear" }, [9, 4, 2]],
    ["1-D default 2", [4, 3], { op: "upsampling1d" }, [8, 3]],
    ["1-D 3", [4, 3], { op: "upsampling1d", size: 3 }, [12, 3]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("normalizes size; refuses an unknown interpolation, size 0 and the wrong rank", () => {
    expect(checkGraph(graphOf([input([2, 2, 1])], [{ name: "u", op: "upsampling2d", size: 3 }])).layers[0].attrs).toEqual({ size: [3, 3], interpolation: "nearest" });
    expect(problems([2, 2, 1], { op: "upsampling2d", interpolation: "bicubic" })[0]![0]).toBe("/layers/0/interpolation");
    expect(problems([2, 2], { op: "upsampling1d", size: 0 })[0]![0]).toBe("/layers/0/size");
    expect(problems([2, 2], { op: "upsampling2d" })[0]![1]).toBe('upsampling2d expects an input of shape [H, W, C]; input "x" has shape [2, 2]');
  });
});

describe("zero padding and cropping", () => {
  test.each([
    ["zero_padding2d default 1", [3, 4, 2], { op: "zero_padding2d" }, [5, 6, 2]],
    ["zero_padding2d [1, 2] symmetric", [3, 4, 2], { op: "zero_padding2d", padding: [1, 2] }, [5, 8, 2]],
    ["zero_padding2d [[1, 2], [0, 3]]", [3, 4, 2], { op: "zero_padding2d", padding: [[1, 2], [0, 3]] }, [6, 7, 2]],
    ["zero_padding1d default 1", [4, 3], { op: "zero_padding1d" }, [6, 3]],
    ["zero_padding1d [2, 0]", [4, 3], { op: "zero_padding1d", padding: [2, 0] }, [6, 3]],
    ["cropping2d default 0", [4, 6, 2], { op: "cropping2d" }, [4, 6, 2]],
    ["cropping2d 1", [4, 6, 2], { op: "cropping2d", cropping: 1 }, [2, 4, 2]],
    ["cropping2d [[1, 0], [2, 1]]", [4, 6, 2], { op: "cropping2d", cropping: [[1, 0], [2, 1]] }, [3, 3, 2]],
    ["cropping1d default [1, 1]", [6, 3], { op: "cropping1d" }, [4, 3]],
    ["cropping1d [0, 5]", [6, 3], { op: "cropping1d", cropping: [0, 5] }, [1, 3]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("normalizes every form to [[top, bottom], [left, right]] (1-D: [before, after])", () => {
    const g = checkGraph(graphOf([input([3, 4, 2])], [
      { name: "a", op: "zero_padding2d", padding: 2 },
      { name: "b", op: "zero_padding2d", padding: [1, 3], inputs: ["x"] },
      { name: "c", op: "cropping2d", cropping: [[0, 1], [2, 0]], inputs: ["x"] },
    ]));
    expect(g.layers.map((l) => l.attrs)).toEqual([
      { padding: [[2, 2], [2, 2]] }, { padding: [[1, 1], [3, 3]] }, { cropping: [[0, 1], [2, 0]] },
    ]);
    expect(checkGraph(graphOf([input([5, 2])], [{ name: "z", op: "zero_padding1d", padding: 3 }])).layers[0].attrs).toEqual({ padding: [3, 3] });
  });

  test("refuses cropping that leaves nothing (as Keras), negative amounts and mixed forms", () => {
    expect(problems([6, 3], { op: "cropping1d", cropping: [3, 3] })).toEqual([
      ["/layers/0/cropping", "cropping 3 + 3 off axis 1 of input [6, 3] leaves 0 (expected at least 1)"],
    ]);
    expect(problems([4, 6, 2], { op: "cropping2d", cropping: [[1, 0], [4, 2]] })).toEqual([
      ["/layers/0/cropping", "cropping 4 + 2 off axis 2 of input [4, 6, 2] leaves 0 (expected at least 1)"],
    ]);
    expect(problems([4, 3], { op: "zero_padding1d", padding: -1 })[0]![0]).toBe("/layers/0/padding");
    expect(problems([4, 4, 3], { op: "zero_padding2d", padding: [1, [2, 3]] })).toEqual([
      ["/layers/0/padding", "expected an int, [h, w] or [[top, bottom], [left, right]]; got [1,[2,3]], which mixes the forms"],
    ]);
  });
});

describe("repeat_vector and permute", () => {
  test.each([
    ["repeat_vector 4 of [5]", [5], { op: "repeat_vector", n: 4 }, [4, 5]],
    ["permute [2, 1]", [3, 5], { op: "permute", dims: [2, 1] }, [5, 3]],
    ["permute [3, 1, 2]", [2, 3, 4], { op: "permute", dims: [3, 1, 2] }, [4, 2, 3]],
    ["permute identity", [2, 3], { op: "permute", dims: [1, 2] }, [2, 3]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("refuses a repeat_vector input that is not [D], and dims that are not a permutation of 1..rank", () => {
    expect(problems([2, 5], { op: "repeat_vector", n: 3 })[0]![1]).toBe('repeat_vector expects an input of shape [D]; input "x" has shape [2, 5]');
    expect(problems([2, 5], { op: "permute", dims: [1, 3] })).toEqual([
      ["/layers/0/dims", 'dims [1, 3] is not a permutation of 1..2 for input "x" of shape [2, 5] (axes count from 1; the batch axis 0 cannot move)'],
    ]);
    expect(problems([2, 5], { op: "permute", dims: [2, 2] })).toEqual([["/layers/0/dims/0", "duplicate entry 2 (same as item 1)"]]);
    expect(problems([2, 5], { op: "permute", dims: [0, 1] })[0]![0]).toBe("/layers/0/dims/0");
  });

  test("takes a permutation with any number of runs of axes (the copy primitive has one loop per run)", () => {
    // [5, 4, 3, 2, 1] reverses five axes of size > 1: five runs (refused before the copy's 5-loop limit was lifted).
    expect(outShape([2, 3, 4, 5, 6], { op: "permute", dims: [5, 4, 3, 2, 1] })).toEqual([6, 5, 4, 3, 2]);
    expect(outShape([2, 3, 2, 3, 2, 3, 2, 3], { op: "permute", dims: [8, 7, 6, 5, 4, 3, 2, 1] })).toEqual([3, 2, 3, 2, 3, 2, 3, 2]);
    // Axes that stay together are one run: this one moves two.
    expect(outShape([2, 3, 4, 5, 6], { op: "permute", dims: [4, 5, 1, 2, 3] })).toEqual([5, 6, 2, 3, 4]);
  });
});

describe("time_distributed", () => {
  test.each([
    ["dense on [T, d]", [4, 5], { op: "time_distributed", layer: { op: "dense", units: 3 } }, [4, 3]],
    ["dense on [T, 2, d]", [3, 2, 4], { op: "time_distributed", layer: { op: "dense", units: 6 } }, [3, 2, 6]],
    // Keras: TimeDistributed(Conv2D(8, 3)) on (None, 10, 32, 32, 3) -> (None, 10, 30, 30, 8), and so on per frame.
    ["conv2d 3x3 valid on [10, 32, 32, 3]", [10, 32, 32, 3], { op: "time_distributed", layer: { op: "conv2d", filters: 8, kernel_size: 3 } }, [10, 30, 30, 8]],
    ["max_pooling2d on [10, 30, 30, 8]", [10, 30, 30, 8], { op: "time_distributed", layer: { op: "max_pooling2d" } }, [10, 15, 15, 8]],
    ["flatten on [10, 15, 15, 8]", [10, 15, 15, 8], { op: "time_distributed", layer: { op: "flatten" } }, [10, 1800]],
    ["global_average_pooling2d on [4, 5, 5, 6]", [4, 5, 5, 6], { op: "time_distributed", layer: { op: "global_average_pooling2d" } }, [4, 6]],
    ["conv1d same stride 2 on [3, 9, 2]", [3, 9, 2], { op: "time_distributed", layer: { op: "conv1d", filters: 4, kernel_size: 3, strides: 2, padding: "same" } }, [3, 5, 4]],
    ["upsampling2d on [2, 3, 4, 1]", [2, 3, 4, 1], { op: "time_distributed", layer: { op: "upsampling2d", size: [2, 3] } }, [2, 6, 12, 1]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("the inner layer's attributes get dense's defaults; weights <wrapper>/<inner name>/… with Keras shapes", () => {
    const g = checkGraph(graphOf([input([4, 5])], [
      { name: "td", op: "time_distributed", layer: { op: "dense", units: 3, activation: "swish" } },
      { name: "td2", op: "time_distributed", layer: { op: "dense", name: "proj", units: 2, use_bias: false } },
    ]));
    expect(g.layers[0].attrs).toEqual({
      layer: { op: "dense", name: "dense", units: 3, activation: "silu", use_bias: true, kernel_initializer: "glorot_uniform", bias_initializer: "zeros" },
    });
    expect(g.layers.flatMap((l) => l.weights.map((w) => [w.fullName, w.shape]))).toEqual([
      ["td/dense/kernel", [5, 3]], ["td/dense/bias", [3]], ["td2/proj/kernel", [3, 2]],
    ]);
  });

  test("refuses an input without a time axis, a missing inner attribute, an unwrappable op and a bad inner name", () => {
    expect(problems([5], { op: "time_distributed", layer: { op: "dense", units: 3 } })[0]![1])
      .toBe('time_distributed expects an input with a time axis and at least one more [T, ..., d]; input "x" has shape [5]');
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "dense" } })[0]![0]).toBe("/layers/0/layer/units");
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "lstm", units: 3 } })[0]![0]).toBe("/layers/0/layer/op");
    // Keras 3 runs batch normalization step by step with T moving-statistics updates: not wrapped.
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "batch_normalization" } })[0]![0]).toBe("/layers/0/layer/op");
    // The inner op's own checks, reported under layer/: a conv2d needs [H, W, C] steps.
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "conv2d", filters: 2, kernel_size: 3 } })[0]![0]).toMatch(/^\/layers\/0(\/layer)?/);
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "conv2d", filters: 2, kernel_size: 3 } })[0]![1]).toMatch(/^inner layer: .*\[H, W, C\]/);
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "dense", units: 3, name: "a/b" } })[0]![0]).toBe("/layers/0/layer/name");
    expect(problems([4, 5], { op: "time_distributed", layer: { op: "dense", units: 3, unit: 2 } })[0]![0]).toBe("/layers/0/layer/unit");
  });
});
