/**
 * A small MobileNetV3Small-style model written as Keras 3's applications would save it
 * (keras/src/applications/mobilenet_v3.py; the fixture follows Keras's saving code, it was NOT
 * produced by Keras, as no Python runs here): Rescaling(1/127.5, offset -1), hard_swish
 * activations, inverted residual blocks with correct_pad before stride-2 depthwise convs, and
 * squeeze-and-excitation whose pool keeps its axes (GlobalAveragePooling2D keepdims=True) and
 * whose gate is MobileNetV3's hard_sigmoid `ReLU(6.0)(x + 3.0) * (1.0 / 6.0)` — Python arithmetic
 * on tensors, which Keras 3 records as op nodes (module keras.src.ops.numpy, class Add / Multiply,
 * called with a number). Keras 2 records the same arithmetic as TFOpLambda layers; the second test
 * writes that form. Predictions are compared with kiln's float64 reference interpreter fed the
 * weights the fixture put at each Keras path.
 */
import { describe, expect, test } from "vitest";
import { importModel } from "../../compiler/index.js";
import { kerasSnakeCase } from "../../compiler/import/topology.js";
import { asFloat32, readSafetensors } from "../../runtime/safetensors.js";
import { runReference, type RefGraph } from "../reference/interpret.js";
import { relErr, rng } from "../compile/harness.js";
import { feedsFor, kilnModel } from "./helpers.js";
import { k3layer, k3tensor, keras2H5, kerasWeightsH5, kerasZip, type H5Tensor } from "./keras-fixtures.js";
import { correctPad } from "./efficientnet-models.js";

type Shape = (number | null)[];

/** Builds a Keras 3 functional config layer by layer, with seeded weights at Keras 3's store paths. */
class Keras3Builder {
  readonly layers: Record<string, unknown>[] = [];
  readonly vars: Record<string, H5Tensor> = {};
  readonly empty: string[] = [];
  private readonly shapes = new Map<string, Shape>();
  private readonly stores = new Map<string, number>();
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = rng(seed);
  }

  input(name: string, shape: number[]): string {
    this.store("InputLayer");
    this.layers.push({ ...k3layer("InputLayer", { batch_shape: [null, ...shape], dtype: "float32", sparse: false, name }), name, inbound_nodes: [] });
    this.shapes.set(name, [null, ...shape]);
    return name;
  }

  /** A layer called on `inputs` (a list for merges), its output shape, and its variables' shapes in Keras 3's order. */
  layer(cls: string, name: string, config: Record<string, unknown>, inputs: string[], shape: Shape, vars: number[][] = [], positive: number[] = []): string {
    const store = this.store(cls);
    const tensors = inputs.map((i) => k3tensor(i, this.shapes.get(i)!));
    this.layers.push({ ...k3layer(cls, { name, ...config }), name, inbound_nodes: [{ args: inputs.length > 1 ? [tensors] : tensors, kwargs: {} }] });
    if (vars.length === 0) this.empty.push(store);
    vars.forEach((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      this.vars[`${store}/vars/${i}`] = { shape: s, data: Float32Array.from({ length: n }, () => (positive.includes(i) ? 0.5 + this.next() : (this.next() * 2 - 1) * 0.5)) };
    });
    this.shapes.set(name, shape);
    return name;
  }

  /** A Keras 3 op node (Python arithmetic on a tensor): no store, a number among its arguments. */
  op(cls: "Add" | "Multiply", name: string, input: string, value: number): string {
    const shape = this.shapes.get(input)!;
    this.layers.push({ module: "keras.src.ops.numpy", class_name: cls, config: { name }, registered_name: cls, name, inbound_nodes: [{ args: [k3tensor(input, shape), value], kwargs: {} }] });
    this.shapes.set(name, shape);
    return name;
  }

  private store(cls: string): string {
    const base = kerasSnakeCase(cls);
    const n = this.stores.get(base) ?? 0;
    this.stores.set(base, n + 1);
    return `layers/${n ? `${base}_${n}` : base}`;
  }
}

const BN = { axis: -1, epsilon: 1e-3, momentum: 0.999, center: true, scale: true };

/**
 * MobileNetV3Small's layers on 16×16 images, two blocks and the top; arithmetic as `arith` writes
 * it. hard_swish is Keras 3's Activation("hard_swish"), or (`keras2`) tf.keras's
 * Multiply()([x, hard_sigmoid(x)]).
 */
function mobileNetV3Small(b: Keras3Builder, arith: (name: string, input: string, kind: "add" | "mul", value: number) => string, keras2 = false): void {
  const bn = (name: string, x: string, c: number) => b.layer("BatchNormalization", name, BN, [x], b["shapes"].get(x)!, [[c], [c], [c], [c]], [3]);
  const conv = (name: string, x: string, filters: number, k: number, shape: Shape, opts: Record<string, unknown> = {}) => {
    const c = b["shapes"].get(x)!.at(-1) as number;
    const useBias = opts.use_bias !== false;
    return b.layer("Conv2D", name, { filters, kernel_size: [k, k], strides: [1, 1], padding: "same", data_format: "channels_last", dilation_rate: [1, 1], groups: 1, activation: "linear", use_bias: useBias, ...opts }, [x], shape,
      useBias ? [[k, k, c, filters], [filters]] : [[k, k, c, filters]]);
  };
  const hardSwish = (name: string, x: string) => keras2
    ? b.layer("Multiply", name, {}, [x, hardSigmoid(`${name}_`, x)], b["shapes"].get(x)!)
    : b.layer("Activation", name, { activation: "hard_swish" }, [x], b["shapes"].get(x)!);
  function hardSigmoid(prefix: string, x: string): string {
    const plus3 = arith(`${prefix}add`, x, "add", 3.0);
    const relu6 = b.layer("ReLU", `${prefix}re_lu_6`, { max_value: 6.0, negative_slope: 0.0, threshold: 0.0 }, [plus3], b["shapes"].get(x)!);
    return arith(`${prefix}multiply`, relu6, "mul", 1.0 / 6.0);
  }
  const se = (prefix: string, x: string, filters: number) => {
    let s = b.layer("GlobalAveragePooling2D", `${prefix}squeeze_excite_avg_pool`, { data_format: "channels_last", keepdims: true }, [x], [null, 1, 1, filters]);
    s = conv(`${prefix}squeeze_excite_conv`, s, 8, 1, [null, 1, 1, 8]);
    s = b.layer("ReLU", `${prefix}squeeze_excite_relu`, { max_value: null, negative_slope: 0.0, threshold: 0.0 }, [s], [null, 1, 1, 8]);
    s = conv(`${prefix}squeeze_excite_conv_1`, s, filters, 1, [null, 1, 1, filters]);
    s = hardSigmoid(`${prefix}squeeze_excite_`, s);
    return b.layer("Multiply", `${prefix}squeeze_excite_mul`, {}, [x, s], b["shapes"].get(x)!);
  };
  let x = b.input("input_layer", [16, 16, 3]);
  x = b.layer("Rescaling", "rescaling", { scale: 1.0 / 127.5, offset: -1.0 }, [x], [null, 16, 16, 3]);
  x = conv("conv", x, 8, 3, [null, 8, 8, 8], { strides: [2, 2], use_bias: false });
  x = bn("conv_bn", x, 8);
  x = hardSwish("activation", x);
  // Block 0: expansion 1, stride 2, SE, relu (the first block has no expand conv).
  let p = "expanded_conv_";
  x = b.layer("ZeroPadding2D", `${p}depthwise_pad`, { padding: correctPad(8, 3), data_format: "channels_last" }, [x], [null, 9, 9, 8]);
  x = b.layer("DepthwiseConv2D", `${p}depthwise`, { kernel_size: [3, 3], strides: [2, 2], padding: "valid", data_format: "channels_last", dilation_rate: [1, 1], depth_multiplier: 1, activation: "linear", use_bias: false }, [x], [null, 4, 4, 8], [[3, 3, 8, 1]]);
  x = bn(`${p}depthwise_bn`, x, 8);
  x = b.layer("ReLU", "re_lu", { max_value: null, negative_slope: 0.0, threshold: 0.0 }, [x], [null, 4, 4, 8]);
  x = se(p, x, 8);
  x = conv(`${p}project`, x, 8, 1, [null, 4, 4, 8], { use_bias: false });
  const shortcut = bn(`${p}project_bn`, x, 8);
  // Block 1: expansion 3, kernel 5, stride 1, SE, hard_swish, residual.
  p = "expanded_conv_1_";
  x = conv(`${p}expand`, shortcut, 24, 1, [null, 4, 4, 24], { use_bias: false });
  x = bn(`${p}expand_bn`, x, 24);
  x = hardSwish(`${p}expand_activation`, x);
  x = b.layer("DepthwiseConv2D", `${p}depthwise`, { kernel_size: [5, 5], strides: [1, 1], padding: "same", data_format: "channels_last", dilation_rate: [1, 1], depth_multiplier: 1, activation: "linear", use_bias: false }, [x], [null, 4, 4, 24], [[5, 5, 24, 1]]);
  x = bn(`${p}depthwise_bn`, x, 24);
  x = hardSwish(`${p}depthwise_activation`, x);
  x = se(p, x, 24);
  x = conv(`${p}project`, x, 8, 1, [null, 4, 4, 8], { use_bias: false });
  x = bn(`${p}project_bn`, x, 8);
  x = b.layer("Add", `${p}add`, {}, [shortcut, x], [null, 4, 4, 8]);
  // Top.
  x = conv("conv_1", x, 48, 1, [null, 4, 4, 48], { use_bias: false });
  x = bn("conv_1_bn", x, 48);
  x = hardSwish("activation_1", x);
  x = b.layer("GlobalAveragePooling2D", "global_average_pooling2d", { data_format: "channels_last", keepdims: true }, [x], [null, 1, 1, 48]);
  x = conv("conv_2", x, 32, 1, [null, 1, 1, 32]);
  x = hardSwish("activation_2", x);
  x = b.layer("Dropout", "dropout", { rate: 0.2, noise_shape: null, seed: null }, [x], [null, 1, 1, 32]);
  x = conv("logits", x, 5, 1, [null, 1, 1, 5]);
  x = b.layer("Flatten", "flatten", { data_format: "channels_last" }, [x], [null, 5]);
  b.layer("Activation", "predictions", { activation: "softmax" }, [x], [null, 5]);
}

function functional(b: Keras3Builder): Record<string, unknown> {
  return {
    module: "keras.src.models.functional", class_name: "Functional", registered_name: "Functional",
    config: { name: "MobileNetV3Small", trainable: true, layers: b.layers, input_layers: ["input_layer", 0, 0], output_layers: ["predictions", 0, 0] },
  };
}

/** kiln's predictions of the imported model against the float64 reference on the imported graph and weights. */
async function againstReference(imported: Awaited<ReturnType<typeof importModel>>): Promise<{ err: number; spread: number }> {
  const weights: Record<string, Float32Array> = {};
  for (const [name, t] of readSafetensors(imported.weights).tensors) weights[name] = asFloat32(t, name);
  const feeds = feedsFor(imported.graph, 3, 82);
  const image = feeds.input_layer as Float32Array;
  for (let i = 0; i < image.length; i++) image[i] = Math.floor((image[i]! + 1) * 127.5); // pixels in 0–255
  const ref = runReference(imported.graph as unknown as RefGraph, weights, feeds, 3, { training: false });
  const ours = (await kilnModel(imported)).predict(feeds).predictions!;
  const theirs = ref.outputs.predictions!.data;
  return { err: relErr(ours, theirs), spread: Math.max(...theirs) - Math.min(...theirs) };
}

describe("a MobileNetV3Small-style model imports", () => {
  test("from .keras (Keras 3: hard_sigmoid's x + 3.0 and * (1/6) as op nodes, SE pools with keepdims=True): the arithmetic becomes rescaling, predictions equal the reference's", async () => {
    const b = new Keras3Builder(81);
    mobileNetV3Small(b, (name, input, kind, value) => b.op(kind === "add" ? "Add" : "Multiply", name, input, value));
    const imported = await importModel(kerasZip(functional(b), await kerasWeightsH5(b.vars, b.empty)));
    const layers = imported.graph.layers as Record<string, unknown>[];
    const byName = (n: string) => layers.find((l) => l.name === n)!;
    expect(byName("expanded_conv_squeeze_excite_add")).toMatchObject({ op: "rescaling", scale: 1, offset: 3 });
    expect(byName("expanded_conv_squeeze_excite_multiply")).toMatchObject({ op: "rescaling", scale: 1 / 6, offset: 0 });
    expect(byName("expanded_conv_squeeze_excite_avg_pool")).toMatchObject({ op: "global_average_pooling2d", keepdims: true });
    expect(byName("expanded_conv_squeeze_excite_mul")).toMatchObject({ op: "multiply" });
    expect(byName("expanded_conv_1_add")).toMatchObject({ op: "add", inputs: ["expanded_conv_project_bn", "expanded_conv_1_project_bn"] });
    expect(byName("activation")).toMatchObject({ op: "activation", activation: "hard_silu" });
    expect(imported.notes).toEqual([]);
    const { err, spread } = await againstReference(imported);
    expect(err).toBeLessThan(1e-4);
    expect(spread).toBeGreaterThan(1e-3);
  });

  test("from a Keras 2 .h5 (tf.keras: the arithmetic as TFOpLambda tf.__operators__.add and tf.math.multiply with y, hard_swish as Multiply([x, hard_sigmoid(x)]))", async () => {
    const b = new Keras3Builder(81);
    const tfOps: Record<string, [string, number]> = {};
    mobileNetV3Small(b, (name, input, kind, value) => {
      tfOps[name] = [kind === "add" ? "__operators__.add" : "math.multiply", value];
      return b.layer("TFOpLambdaPlaceholder", name, {}, [input], b["shapes"].get(input)!);
    }, true);
    // The same layers in Keras 2's form: [[name, 0, 0, kwargs]] nodes, weights by weight_names.
    const k2 = b.layers.map((l) => {
      const name = l.name as string;
      const cfg: Record<string, unknown> = { ...(l.config as Record<string, unknown>), dtype: "float32" };
      const refs = (l.inbound_nodes as { args: unknown[] }[]).map((n) => (n.args.flat() as { config: { keras_history: [string] } }[]).map((t) => [t.config.keras_history[0], 0, 0, {}]));
      if (tfOps[name]) {
        const [fn, y] = tfOps[name]!;
        return { class_name: "TFOpLambda", config: { name: `tf.${fn}`, trainable: true, dtype: "float32", function: fn }, name, inbound_nodes: [[[refs[0]![0]![0], 0, 0, { y, name: null }]]] };
      }
      if (l.class_name === "InputLayer") return { class_name: "InputLayer", config: { batch_input_shape: cfg.batch_shape, dtype: "float32", sparse: false, ragged: false, name }, name, inbound_nodes: [] };
      return { class_name: l.class_name, config: cfg, name, inbound_nodes: refs };
    });
    const names: Record<string, string[]> = {
      Conv2D: ["kernel", "bias"], DepthwiseConv2D: ["depthwise_kernel"], BatchNormalization: ["gamma", "beta", "moving_mean", "moving_variance"],
    };
    const storeOf = new Map<string, string>();
    {
      const counts = new Map<string, number>();
      for (const l of b.layers) {
        if (l.class_name === "TFOpLambdaPlaceholder") continue;
        const base = kerasSnakeCase(l.class_name as string);
        const n = counts.get(base) ?? 0;
        counts.set(base, n + 1);
        storeOf.set(l.name as string, `layers/${n ? `${base}_${n}` : base}`);
      }
    }
    const layerWeights = k2.map((l) => {
      const store = storeOf.get(l.name)!;
      const weights: Record<string, H5Tensor> = {};
      (names[l.class_name as string] ?? []).forEach((w, i) => {
        const t = b.vars[`${store}/vars/${i}`];
        if (t) weights[`${l.name}/${w}:0`] = t;
      });
      return { name: l.name, weights };
    });
    const modelConfig = { class_name: "Functional", config: { name: "MobilenetV3small", layers: k2, input_layers: [["input_layer", 0, 0]], output_layers: [["predictions", 0, 0]] } };
    const imported = await importModel(await keras2H5(modelConfig, null, layerWeights));
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers.find((l) => l.name === "expanded_conv_1_squeeze_excite_add")).toMatchObject({ op: "rescaling", scale: 1, offset: 3 });
    expect(layers.find((l) => l.name === "expanded_conv_1_squeeze_excite_multiply")).toMatchObject({ op: "rescaling", scale: 1 / 6, offset: 0 });
    expect(layers.find((l) => l.name === "activation")).toMatchObject({ op: "multiply" });
    const { err } = await againstReference(imported);
    expect(err).toBeLessThan(1e-4);
  });
});

describe("arithmetic kiln cannot express is refused, naming the layer", () => {
  test("a TFOpLambda of another op, 1/x, a Keras 3 op node of two numbers' worth, and a Keras 3 op class kiln lacks: every one listed", async () => {
    const b = new Keras3Builder(91);
    const x = b.input("input_layer", [4]);
    b.layers.push({ module: "keras.src.ops.numpy", class_name: "TrueDivide", config: { name: "reciprocal" }, registered_name: "TrueDivide", name: "reciprocal", inbound_nodes: [{ args: [2.0, k3tensor(x, [null, 4])], kwargs: {} }] });
    b.layers.push({ module: "keras.src.ops.numpy", class_name: "Absolute", config: { name: "absolute" }, registered_name: "Absolute", name: "absolute", inbound_nodes: [{ args: [k3tensor("reciprocal", [null, 4])], kwargs: {} }] });
    b.layers.push({ module: "keras.src.ops.numpy", class_name: "Add", config: { name: "add" }, registered_name: "Add", name: "add", inbound_nodes: [{ args: [k3tensor("absolute", [null, 4]), 1.0, 2.0], kwargs: {} }] });
    const config = { module: "keras.src.models.functional", class_name: "Functional", registered_name: "Functional", config: { name: "m", trainable: true, layers: b.layers, input_layers: ["input_layer", 0, 0], output_layers: ["add", 0, 0] } };
    const err = await importModel(kerasZip(config, await kerasWeightsH5({}))).then(() => undefined, (e: unknown) => e as Error);
    const lines = err!.message.split("\n");
    expect(lines.find((l) => l.includes('"reciprocal"'))).toMatch(/layer "reciprocal" \(TrueDivide\): a number divided by a tensor \(a reciprocal\) has no kiln op; kiln imports x \+ c, x − c, c − x, x·c and x \/ c/);
    expect(lines.find((l) => l.includes('"absolute"'))).toMatch(/kiln cannot import the Keras class "Absolute"/);
    expect(lines.find((l) => l.includes('"add"'))).toMatch(/kiln imports arithmetic of one tensor and one number \(as x·scale \+ offset\); this call has 1 tensor\(s\) and 2 number\(s\)/);

    const k2 = {
      class_name: "Functional",
      config: {
        name: "model", layers: [
          { class_name: "InputLayer", config: { batch_input_shape: [null, 4], dtype: "float32", name: "x" }, name: "x", inbound_nodes: [] },
          { class_name: "TFOpLambda", config: { name: "tf.math.reduce_mean", trainable: true, dtype: "float32", function: "math.reduce_mean" }, name: "tf.math.reduce_mean", inbound_nodes: [[["x", 0, 0, { axis: -1, name: null }]]] },
        ],
        input_layers: [["x", 0, 0]], output_layers: [["tf.math.reduce_mean", 0, 0]],
      },
    };
    const err2 = await importModel(await keras2H5(k2, null, [{ name: "x", weights: {} }, { name: "tf.math.reduce_mean", weights: {} }])).then(() => undefined, (e: unknown) => e as Error);
    expect(err2!.message).toMatch(/layer "tf\.math\.reduce_mean" \(TFOpLambda\): the TensorFlow op "math\.reduce_mean" recorded as a layer is not one kiln imports/);
  });
});
