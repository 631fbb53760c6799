/**
 * Every kiln op has a Keras class the importer maps to it, and an entry in both export tables (the
 * tables are typed by op name, so a missing one does not compile). What a target format cannot
 * express is refused by layer, every one in one error, before anything is written.
 */
import { describe, expect, test } from "vitest";
import { exportKeras, exportTfjs, KilnError } from "../../compiler/index.js";
import { OP_NAMES } from "../../compiler/frontend/ops/index.js";
import { KERAS_LAYERS } from "../../compiler/import/layers.js";
import { writeSafetensors } from "../../runtime/safetensors.js";

const weights = writeSafetensors({});

function refusal(f: () => unknown): Promise<unknown> {
  return Promise.resolve().then(f).then(() => undefined, (e: unknown) => e);
}

describe("every op kiln has is imported and exported, or refused with the reason", () => {
  test("the Keras layer table maps a Keras class to every kiln op", () => {
    const mapped = new Set(Object.values(KERAS_LAYERS).map((m) => m.op));
    expect(OP_NAMES.filter((op) => !mapped.has(op))).toEqual([]);
  });

  test("TF.js export refuses what tfjs-layers cannot express, naming each layer and why", async () => {
    const graph = {
      format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [4, 4, 4] }],
      layers: [
        { name: "gn", op: "group_normalization", groups: 2 },
        { name: "sd", op: "spatial_dropout2d", rate: 0.1 },
        { name: "e", op: "elu", alpha: 0.5 },
        { name: "r", op: "relu", negative_slope: 0.1 },
        { name: "dw", op: "depthwise_conv2d", kernel_size: 2, dilation_rate: 2 },
        { name: "hs", op: "dense", units: 2, activation: "hard_silu" },
      ],
    };
    const err = await refusal(() => exportTfjs(JSON.stringify(graph), weights));
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).message.split("\n")).toEqual([
      "/layers/0, layer gn: cannot export group_normalization to TF.js: TF.js has no GroupNormalization layer",
      "/layers/1, layer sd: cannot export spatial_dropout2d to TF.js: TF.js has no SpatialDropout2D layer",
      "/layers/2, layer e: cannot export elu to TF.js: tfjs-layers' ELU refuses any alpha but 1; this elu has alpha 0.5",
      "/layers/3, layer r: cannot export relu to TF.js: TF.js's ReLU has no negative_slope; this relu sets it",
      "/layers/4, layer dw: cannot export depthwise_conv2d to TF.js: tfjs-layers' DepthwiseConv2D ignores dilation_rate; this layer is dilated",
      '/layers/5, layer hs: cannot export dense to TF.js: dense with activation "hard_silu": TF.js has no such activation name',
    ]);
  });

  test("time_distributed exports over any inner op; TF.js refuses an inner layer it cannot express, naming the wrapper and the inner layer", async () => {
    const graph = {
      format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [3, 6, 6, 2] }],
      layers: [
        { name: "tdu", op: "time_distributed", layer: { op: "upsampling2d", name: "up", interpolation: "bilinear" } },
        { name: "tde", op: "time_distributed", layer: { op: "elu", alpha: 0.5 } },
        { name: "tdc", op: "time_distributed", layer: { op: "conv2d", filters: 2, kernel_size: 3 } },
        { name: "tdf", op: "time_distributed", layer: { op: "flatten" } },
      ],
    };
    const err = await refusal(() => exportTfjs(JSON.stringify(graph), weights));
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).message.split("\n")).toEqual([
      "/layers/0, layer tdu: cannot export time_distributed to TF.js: inner layer up: TF.js's bilinear UpSampling2D resizes without half-pixel centres; kiln's bilinear is Keras 3's",
      "/layers/1, layer tde: cannot export time_distributed to TF.js: inner layer elu: tfjs-layers' ELU refuses any alpha but 1; this elu has alpha 0.5",
    ]);
    // Keras 3 has all four; the refusal above is TF.js's alone (the weights are checked after the layers, so these empty ones are the next complaint).
    const keras = await refusal(() => exportKeras(JSON.stringify(graph), weights));
    expect((keras as KilnError).message).not.toMatch(/cannot export time_distributed/);
    expect((keras as KilnError).message).toMatch(/tdc\/conv2d\/kernel.*weight missing/);
  });

  test("Keras export refuses an activation Keras 3 lacks (TF.js's and Keras 2's hard_sigmoid), also inside TimeDistributed", async () => {
    const graph = {
      format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [3, 4] }],
      layers: [
        { name: "d", op: "dense", units: 2, activation: "hard_sigmoid_legacy" },
        { name: "td", op: "time_distributed", layer: { op: "dense", units: 2, activation: "hard_sigmoid_legacy" } },
      ],
    };
    const err = await refusal(() => exportKeras(JSON.stringify(graph), weights));
    expect(err).toBeInstanceOf(KilnError);
    const lines = (err as KilnError).message.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('/layers/0, layer d: cannot export dense to Keras: dense with activation "hard_sigmoid_legacy": Keras 3 has no activation with that formula (its hard_sigmoid is relu6(x + 3) / 6)');
    expect(lines[1]).toMatch(/^\/layers\/1, layer td: cannot export time_distributed to Keras: inner layer dense: dense with activation "hard_sigmoid_legacy"/);
  });
});
