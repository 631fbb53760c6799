// Table-driven invalid graphs: each mutation of a valid graph must fail with a diagnostic at the
// exact JSON path, naming the layer where there is one, with the exact message.
import { describe, expect, test } from "vitest";
import { errorOf, type Obj } from "./helpers.js";

/** A valid graph with most features; every case mutates a fresh copy. */
function base(): G {
  return {
    format: "kiln.graph/v2",
    name: "base",
    inputs: [{ name: "image", shape: [8, 8, 1] }],
    targets: [{ name: "label", shape: [], dtype: "int32" }],
    layers: [
      { name: "conv1", op: "conv2d", filters: 4, kernel_size: 3, activation: "relu" },
      { name: "pool1", op: "max_pooling2d" },
      { name: "flat", op: "flatten" },
      { name: "fc1", op: "dense", units: 16, activation: "relu" },
      { name: "probs", op: "dense", units: 10, activation: "softmax" },
    ],
    outputs: ["probs"],
    training: {
      loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" },
      optimizer: { type: "adam", learning_rate: 0.001 },
      metrics: ["accuracy"],
    },
  };
}

type G = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const L = (g: G, i: number) => g.layers[i] as G;
const seq = (inputs: Obj[], layers: Obj[], extra: Obj = {}): G => ({ format: "kiln.graph/v2", name: "g", inputs, layers, ...extra });
const inp = (name: string, shape: number[], dtype?: string) => (dtype ? { name, shape, dtype } : { name, shape });

/** `also`: follow-on problems the case legitimately causes too (checked by path). */
interface Case { name: string; make: () => G; path: string; layer?: string; message: string; also?: string[] }

const KNOWN_OPS =
  "dense, conv2d, max_pooling2d, average_pooling2d, global_average_pooling2d, global_max_pooling2d, flatten, reshape, activation, softmax, dropout, batch_normalization, layer_normalization, embedding, position_embedding, simple_rnn, lstm, gru, bidirectional, multi_head_attention, add, multiply, average, maximum, minimum, subtract, concatenate, " +
  "conv1d, max_pooling1d, average_pooling1d, global_average_pooling1d, global_max_pooling1d, upsampling2d, upsampling1d, zero_padding2d, zero_padding1d, cropping2d, cropping1d, repeat_vector, permute, time_distributed, depthwise_conv2d, separable_conv2d, conv2d_transpose, " +
  "relu, leaky_relu, prelu, elu, group_normalization, dot, spatial_dropout1d, spatial_dropout2d, gaussian_noise, gaussian_dropout, rescaling, normalization";

const METRIC_LIST = '"accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "precision", "recall", "auc", "mean_squared_error", "mean_absolute_error", "root_mean_squared_error", "r2_score"';
/** fc1 as a second output, with a float target "hidden" for it. */
const twoOutputs = (g: G): G => { g.outputs = ["fc1", "probs"]; g.targets.push(inp("hidden", [16])); return g; };

const cases: Case[] = [
  // ---- top level
  { name: "wrong format", make: () => ({ ...base(), format: "kiln.graph/v3" }), path: "/format", message: 'expected "kiln.graph/v2" (or "kiln.graph/v1", still read), got "kiln.graph/v3"; did you mean "kiln.graph/v2"?' },
  { name: "bad graph name", make: () => ({ ...base(), name: "1net" }), path: "/name", message: 'expected a name matching ^[A-Za-z][A-Za-z0-9_]{0,63}$, got "1net"' },
  { name: "negative seed", make: () => ({ ...base(), seed: -1 }), path: "/seed", message: "expected an integer from 0 to 4294967295, got -1" },
  { name: "missing inputs", make: () => { const g: G = base(); delete g.inputs; return g; }, path: "/inputs", message: 'missing required "inputs" (a non-empty list of inputs {name, shape, dtype?})' },
  { name: "empty inputs", make: () => ({ ...base(), inputs: [] }), path: "/inputs", message: "expected a non-empty list of inputs {name, shape, dtype?}, got []" },
  { name: "misspelled top-level key", make: () => ({ ...base(), ouputs: ["probs"] }), path: "/ouputs", message: 'unknown property "ouputs"; did you mean "outputs"?' },
  { name: "zero dimension", make: () => ({ ...base(), inputs: [inp("image", [8, 0, 1])] }), path: "/inputs/0/shape/1", message: "expected a positive integer, got 0" },
  { name: "string dimension", make: () => ({ ...base(), inputs: [{ name: "image", shape: ["8", 8, 1] }] }), path: "/inputs/0/shape/0", message: 'expected a positive integer, got "8" (a string)' },
  { name: "unknown dtype", make: () => ({ ...base(), inputs: [inp("image", [8, 8, 1], "float64")] }), path: "/inputs/0/dtype", message: 'expected one of "float32", "int32", got "float64"; did you mean "float32"?' },
  { name: "training without targets", make: () => { const g: G = base(); delete g.targets; return g; }, path: "/targets", message: '"targets" is required when "training" is present' },
  // ---- schema errors inside layers
  { name: "unknown op", make: () => { const g = base(); L(g, 0).op = "conv"; return g; }, path: "/layers/0/op", layer: "conv1", message: `unknown op "conv"; did you mean "conv2d"? (known ops: ${KNOWN_OPS})` },
  { name: "unknown attribute", make: () => { const g = base(); L(g, 0).kernal_size = 3; return g; }, path: "/layers/0/kernal_size", layer: "conv1", message: 'unknown attribute "kernal_size" for conv2d; did you mean "kernel_size"?' },
  { name: "attribute of another op", make: () => { const g = base(); L(g, 3).filters = 3; return g; }, path: "/layers/3/filters", layer: "fc1", message: 'unknown attribute "filters" for dense (allowed: name, op, inputs, trainable, keras_name, units, activation, use_bias, kernel_initializer, bias_initializer)' },
  { name: "misspelled required attribute", make: () => { const g = base(); L(g, 3).unit = L(g, 3).units; delete L(g, 3).units; return g; }, path: "/layers/3/unit", layer: "fc1", message: 'unknown attribute "unit" for dense; did you mean "units"?' },
  { name: "missing units", make: () => { const g = base(); delete L(g, 3).units; return g; }, path: "/layers/3/units", layer: "fc1", message: 'missing required "units" (a positive integer)' },
  { name: "units 0", make: () => { const g = base(); L(g, 3).units = 0; return g; }, path: "/layers/3/units", layer: "fc1", message: "expected a positive integer, got 0" },
  { name: "units 2.5", make: () => { const g = base(); L(g, 3).units = 2.5; return g; }, path: "/layers/3/units", layer: "fc1", message: "expected a positive integer, got 2.5 (a number)" },
  { name: "kernel_size of one entry", make: () => { const g = base(); L(g, 0).kernel_size = [3]; return g; }, path: "/layers/0/kernel_size", layer: "conv1", message: "expected a positive integer or a list of 2 positive integers, got [3]" },
  { name: "misspelled padding", make: () => { const g = base(); L(g, 0).padding = "vaild"; return g; }, path: "/layers/0/padding", layer: "conv1", message: 'expected one of "valid", "same", got "vaild"; did you mean "valid"?' },
  { name: "misspelled activation", make: () => { const g = base(); L(g, 3).activation = "rellu"; return g; }, path: "/layers/3/activation", layer: "fc1", message: 'expected one of "linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "leaky_relu", "elu", "silu", "swish", "softplus", "relu6", "hard_sigmoid", "hard_sigmoid_legacy", "hard_silu", "hard_swish", "mish", "selu", "exponential", "log_softmax", got "rellu"; did you mean "relu"?' },
  { name: "dropout rate 1", make: () => seq([inp("x", [4])], [{ name: "d", op: "dropout", rate: 1 }]), path: "/layers/0/rate", layer: "d", message: "expected a number in [0, 1), got 1" },
  { name: "bad layer name", make: () => { const g = base(); L(g, 3).name = "fc-1"; return g; }, path: "/layers/3/name", message: 'expected a name matching ^[A-Za-z_][A-Za-z0-9_]{0,63}$, got "fc-1"' },
  { name: "trainable as string", make: () => { const g = base(); L(g, 3).trainable = "no"; return g; }, path: "/layers/3/trainable", layer: "fc1", message: 'expected true or false, got "no" (a string)' },
  // ---- names and references
  { name: "layer named like an input", make: () => { const g = base(); L(g, 2).name = "image"; L(g, 3).inputs = ["image"]; return g; }, path: "/layers/2/name", layer: "image", message: 'the name "image" is already used by the input at /inputs/0; names must be unique across inputs, targets and layers', also: ["/training/loss/target"] },
  { name: "reserved name", make: () => ({ ...base(), targets: [inp("__metadata__", [], "int32")] }), path: "/targets/0/name", message: 'the name "__metadata__" is reserved (safetensors uses it)', also: ["/training/loss/target"] },
  { name: "unknown input reference", make: () => { const g = base(); L(g, 4).inputs = ["fc"]; return g; }, path: "/layers/4/inputs/0", layer: "probs", message: 'unknown input "fc": no graph input or layer has that name; did you mean "fc1"?' },
  { name: "target as layer input", make: () => { const g = base(); L(g, 4).inputs = ["label"]; return g; }, path: "/layers/4/inputs/0", layer: "probs", message: '"label" is a target (what the loss compares against), not a value a layer can take' },
  { name: "first layer with two graph inputs", make: () => seq([inp("a", [2]), inp("b", [2])], [{ name: "s", op: "add" }]), path: "/layers/0", layer: "s", message: 'the first layer has no "inputs" and the graph has 2 inputs (a, b); list the ones it takes' },
  { name: "cycle", make: () => seq([inp("x", [2])], [{ name: "a", op: "add", inputs: ["x", "c"] }, { name: "b", op: "dense", units: 2, inputs: ["a"] }, { name: "c", op: "dense", units: 2, inputs: ["b"] }]), path: "/layers/0/inputs", layer: "a", message: "layers form a cycle: a -> b -> c -> a" },
  { name: "self cycle", make: () => seq([inp("x", [2])], [{ name: "a", op: "add", inputs: ["x", "a"] }]), path: "/layers/0/inputs", layer: "a", message: "layers form a cycle: a -> a" },
  { name: "unknown output", make: () => ({ ...base(), outputs: ["prob"] }), path: "/outputs/0", message: 'unknown layer "prob"; did you mean "probs"? (outputs name the layers whose values predict returns)' },
  { name: "input as output", make: () => ({ ...base(), outputs: ["image"] }), path: "/outputs/0", message: '"image" is a graph input, not a layer (outputs name the layers whose values predict returns)' },
  { name: "duplicate outputs", make: () => ({ ...base(), outputs: ["probs", "probs"] }), path: "/outputs/1", message: 'duplicate entry "probs" (same as item 0)' },
  // ---- arity and dtypes
  { name: "add with one (implicit) input", make: () => seq([inp("x", [2])], [{ name: "s", op: "add" }]), path: "/layers/0", layer: "s", message: 'add takes at least 2 inputs; got 1 ("x") (no "inputs" given, so it takes the previous layer)' },
  { name: "subtract with three inputs", make: () => seq([inp("x", [2])], [{ name: "s", op: "subtract", inputs: ["x", "x", "x"] }]), path: "/layers/0/inputs", layer: "s", message: 'subtract takes exactly 2 inputs; got 3 ("x", "x", "x")' },
  { name: "attention with four inputs", make: () => seq([inp("x", [3, 4])], [{ name: "m", op: "multi_head_attention", num_heads: 1, key_dim: 2, inputs: ["x", "x", "x", "x"] }]), path: "/layers/0/inputs", layer: "m", message: 'multi_head_attention takes 1 to 3 inputs; got 4 ("x", "x", "x", "x")' },
  { name: "embedding of floats", make: () => seq([inp("x", [5])], [{ name: "e", op: "embedding", input_dim: 10, output_dim: 2 }]), path: "/layers/0", layer: "e", message: 'embedding needs int32 token ids; input "x" is float32' },
  { name: "int32 into dense", make: () => seq([inp("ids", [5], "int32")], [{ name: "d", op: "dense", units: 2, inputs: ["ids"] }]), path: "/layers/0/inputs", layer: "d", message: 'dense needs float32 inputs; "ids" is int32 (int32 inputs can feed only embedding layers, or be targets)' },
  // ---- shapes
  { name: "kernel does not fit", make: () => seq([inp("x", [2, 2, 64])], [{ name: "conv3", op: "conv2d", filters: 8, kernel_size: 3 }]), path: "/layers/0/kernel_size", layer: "conv3", message: 'a 3x3 kernel with padding "valid" does not fit input 2x2x64' },
  { name: "dilated kernel does not fit", make: () => seq([inp("x", [4, 9, 1])], [{ name: "c", op: "conv2d", filters: 1, kernel_size: 3, dilation_rate: 2 }]), path: "/layers/0/kernel_size", layer: "c", message: 'a 3x3 kernel with dilation 2x2 with padding "valid" does not fit input 4x9x1' },
  { name: "strides with dilation", make: () => { const g = base(); Object.assign(L(g, 0), { strides: 2, dilation_rate: 2 }); return g; }, path: "/layers/0/dilation_rate", layer: "conv1", message: "strides > 1 cannot be combined with dilation_rate > 1; got strides 2x2 and dilation_rate 2x2" },
  { name: "depthwise: strides with dilation (Keras refuses them too)", make: () => seq([inp("x", [9, 9, 2])], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, strides: [1, 2], dilation_rate: [2, 1] }]), path: "/layers/0/dilation_rate", layer: "d", message: "strides > 1 cannot be combined with dilation_rate > 1; got strides 1x2 and dilation_rate 2x1" },
  { name: "depthwise: dilated kernel does not fit", make: () => seq([inp("x", [4, 9, 1])], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, dilation_rate: 2 }]), path: "/layers/0/kernel_size", layer: "d", message: 'a 3x3 kernel with dilation 2x2 with padding "valid" does not fit input 4x9x1' },
  { name: "depthwise: not an image", make: () => seq([inp("x", [9, 2])], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3 }]), path: "/layers/0", layer: "d", message: 'depthwise_conv2d expects an input of shape [H, W, C]; input "x" has shape [9, 2]' },
  { name: "separable: strides with dilation (Keras refuses them too)", make: () => seq([inp("x", [9, 9, 2])], [{ name: "s", op: "separable_conv2d", filters: 4, kernel_size: 3, strides: 2, dilation_rate: 2 }]), path: "/layers/0/dilation_rate", layer: "s", message: "strides > 1 cannot be combined with dilation_rate > 1; got strides 2x2 and dilation_rate 2x2" },
  { name: "separable: kernel does not fit", make: () => seq([inp("x", [2, 5, 3])], [{ name: "s", op: "separable_conv2d", filters: 4, kernel_size: 3 }]), path: "/layers/0/kernel_size", layer: "s", message: 'a 3x3 kernel with padding "valid" does not fit input 2x5x3' },
  { name: "separable: filters missing", make: () => seq([inp("x", [9, 9, 2])], [{ name: "s", op: "separable_conv2d", kernel_size: 3 }]), path: "/layers/0/filters", layer: "s", message: 'missing required "filters" (a positive integer)' },
  { name: "transpose: output_padding not below the stride (Keras refuses it)", make: () => seq([inp("x", [4, 4, 2])], [{ name: "t", op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: [2, 1], output_padding: [1, 1] }]), path: "/layers/0/output_padding", layer: "t", message: "output_padding must be less than strides on each axis; got output_padding 1x1 and strides 2x1" },
  { name: "transpose: strides with dilation (Keras refuses them too)", make: () => seq([inp("x", [4, 4, 2])], [{ name: "t", op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: 2, dilation_rate: 2 }]), path: "/layers/0/dilation_rate", layer: "t", message: "strides > 1 cannot be combined with dilation_rate > 1; got strides 2x2 and dilation_rate 2x2" },
  { name: "transpose: empty output", make: () => seq([inp("x", [1, 3, 2])], [{ name: "t", op: "conv2d_transpose", filters: 4, kernel_size: 2, padding: "same", output_padding: 0 }]), path: "/layers/0/output_padding", layer: "t", message: 'a 2x2 transposed convolution with padding "same" and output_padding 0x0 gives an empty output (0x2) for input 1x3x2' },
  { name: "transpose: negative output_padding", make: () => seq([inp("x", [4, 4, 2])], [{ name: "t", op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: 2, output_padding: -1 }]), path: "/layers/0/output_padding", layer: "t", message: "expected null, a non-negative integer or a list of 2 non-negative integers, got -1" },
  { name: "depthwise: depth_multiplier 0", make: () => seq([inp("x", [9, 9, 2])], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, depth_multiplier: 0 }]), path: "/layers/0/depth_multiplier", layer: "d", message: "expected a positive integer, got 0" },
  { name: "pool does not fit", make: () => seq([inp("x", [1, 5, 3])], [{ name: "p", op: "average_pooling2d" }]), path: "/layers/0/pool_size", layer: "p", message: 'a 2x2 pool with padding "valid" does not fit input 1x5x3' },
  { name: "conv2d on a rank-2 input", make: () => seq([inp("x", [8, 8])], [{ name: "c", op: "conv2d", filters: 1, kernel_size: 3 }]), path: "/layers/0", layer: "c", message: 'conv2d expects an input of shape [H, W, C]; input "x" has shape [8, 8]' },
  { name: "lstm on a rank-1 input", make: () => seq([inp("x", [8])], [{ name: "r", op: "lstm", units: 4 }]), path: "/layers/0", layer: "r", message: 'lstm expects an input of shape [T, F]; input "x" has shape [8]' },
  { name: "dense on a scalar", make: () => seq([inp("x", [])], [{ name: "d", op: "dense", units: 4 }]), path: "/layers/0", layer: "d", message: 'dense expects an input with at least 1 axis [..., d]; input "x" has shape [] (a scalar per example)' },
  { name: "reshape element count", make: () => seq([inp("x", [4, 6])], [{ name: "r", op: "reshape", target_shape: [5, -1] }]), path: "/layers/0/target_shape", layer: "r", message: 'cannot reshape input "x" of shape [4, 6] (24 elements) to [5, -1]' },
  { name: "reshape with two -1", make: () => seq([inp("x", [4, 6])], [{ name: "r", op: "reshape", target_shape: [-1, 2, -1] }]), path: "/layers/0/target_shape", layer: "r", message: "target_shape may contain -1 at most once; got [-1, 2, -1]" },
  { name: "reshape with 0", make: () => seq([inp("x", [4, 6])], [{ name: "r", op: "reshape", target_shape: [24, 0] }]), path: "/layers/0/target_shape", layer: "r", message: "target_shape entries must be positive or -1; got 0 at index 1" },
  { name: "add of shapes that do not broadcast", make: () => seq([inp("a", [3]), inp("b", [4])], [{ name: "s", op: "add", inputs: ["a", "b"] }]), path: "/layers/0/inputs", layer: "s", message: 'add needs input shapes that broadcast as in Keras (aligned on the last axis, sizes equal or 1); "b" is [4], which does not fit 3 against 4 with the inputs before it ([3])' },
  { name: "concatenate mismatch", make: () => seq([inp("a", [2, 3]), inp("b", [3, 3])], [{ name: "c", op: "concatenate", inputs: ["a", "b"] }]), path: "/layers/0/inputs", layer: "c", message: 'concatenate on axis 2 needs shapes equal except on that axis; "a" is [2, 3] but "b" is [3, 3]' },
  { name: "concatenate axis out of range", make: () => seq([inp("a", [2, 3]), inp("b", [2, 3])], [{ name: "c", op: "concatenate", axis: 3, inputs: ["a", "b"] }]), path: "/layers/0/axis", layer: "c", message: "axis 3 is out of range for input shape [batch, 2, 3] (axes count as in Keras: 0 is the batch axis); expected an axis of one example (valid: 1..2 or -2..-1)" },
  { name: "concatenate on the batch axis", make: () => seq([inp("a", [2, 3]), inp("b", [2, 3])], [{ name: "c", op: "concatenate", axis: 0, inputs: ["a", "b"] }]), path: "/layers/0/axis", layer: "c", message: "axis 0 is the batch axis of input shape [batch, 2, 3]: an axis may not span examples; expected an axis of one example (valid: 1..2 or -2..-1)" },
  { name: "softmax on the batch axis counted from the end", make: () => seq([inp("x", [4])], [{ name: "s", op: "softmax", axis: -2 }]), path: "/layers/0/axis", layer: "s", message: "axis -2 is the batch axis of input shape [batch, 4]: an axis may not span examples; expected an axis of one example (valid: 1..1 or -1..-1)" },
  { name: "batch_normalization on the batch axis", make: () => seq([inp("x", [4, 3])], [{ name: "bn", op: "batch_normalization", axis: 0 }]), path: "/layers/0/axis", layer: "bn", message: "axis 0 is the batch axis of input shape [batch, 4, 3]: an axis may not span examples; expected an axis of one example (valid: 1..2 or -2..-1)" },
  { name: "layer_normalization on the batch axis", make: () => seq([inp("x", [4, 3])], [{ name: "ln", op: "layer_normalization", axis: -3 }]), path: "/layers/0/axis", layer: "ln", message: "axis -3 is the batch axis of input shape [batch, 4, 3]: an axis may not span examples; expected an axis of one example (valid: 1..2 or -2..-1)" },
  { name: "softmax axis on a scalar", make: () => seq([inp("x", [])], [{ name: "s", op: "softmax" }]), path: "/layers/0/axis", layer: "s", message: "axis -1 is the batch axis of input shape [batch]: an axis may not span examples; expected an axis of one example (valid: none: the input is a scalar per example, it has only the batch axis)" },
  { name: "layer_normalization naming an axis twice", make: () => seq([inp("x", [3, 4])], [{ name: "n", op: "layer_normalization", axis: [2, -1] }]), path: "/layers/0/axis", layer: "n", message: "axis [2,-1] names axis 2 twice (input shape [3, 4])" },
  { name: "layer_normalization with an axis of a list out of range", make: () => seq([inp("x", [3, 4])], [{ name: "n", op: "layer_normalization", axis: [1, 3] }]), path: "/layers/0/axis/1", layer: "n", message: "axis 3 is out of range for input shape [batch, 3, 4] (axes count as in Keras: 0 is the batch axis); expected an axis of one example (valid: 1..2 or -2..-1)" },
  { name: "v1 axis out of range", make: () => ({ ...seq([inp("a", [2, 3]), inp("b", [2, 3])], [{ name: "c", op: "concatenate", axis: 2, inputs: ["a", "b"] }]), format: "kiln.graph/v1" }), path: "/layers/0/axis", layer: "c", message: "axis 2 is out of range for input shape [2, 3] (a kiln.graph/v1 file counts the axes of one example; valid: -2..1)" },
  { name: "position_embedding longer than sequence_length", make: () => seq([inp("x", [12, 4])], [{ name: "p", op: "position_embedding", sequence_length: 10 }]), path: "/layers/0/sequence_length", layer: "p", message: 'input "x" has 12 positions but sequence_length is 10' },
  { name: "attention key and value lengths differ", make: () => seq([inp("q", [3, 4]), inp("v", [5, 4]), inp("k", [6, 4])], [{ name: "m", op: "multi_head_attention", num_heads: 1, key_dim: 2, inputs: ["q", "v", "k"] }]), path: "/layers/0/inputs", layer: "m", message: 'key "k" [6, 4] and value "v" [5, 4] must have the same length S' },
  { name: "weights over 4 GiB", make: () => seq([inp("x", [65536])], [{ name: "small", op: "dense", units: 4 }, { name: "huge", op: "dense", units: 20000, inputs: ["x"] }, { name: "after", op: "dense", units: 2 }]), path: "/layers/1", layer: "huge", message: "weights and activations at batch 1 reach 4.88 GiB with layer \"huge\"; WebAssembly memory holds at most 4 GiB" },
  { name: "input over 4 GiB", make: () => seq([inp("x", [2147483647, 2147483647, 2147483647])], [{ name: "d", op: "flatten" }]), path: "/inputs/0/shape", message: "weights and activations at batch 1 reach more than 2^53 bytes with input \"x\"; WebAssembly memory holds at most 4 GiB" },
  // ---- training
  { name: "loss on a layer that is not an output", make: () => { const g = base(); g.training.loss.output = "fc1"; return g; }, path: "/training/loss/output", message: 'the loss applies to layer "fc1", which is not a graph output (outputs: probs)' },
  { name: "unknown loss target", make: () => { const g = base(); g.training.loss.target = "labels"; return g; }, path: "/training/loss/target", message: 'unknown target "labels"; did you mean "label"? (targets: label)' },
  { name: "sparse CE with float target", make: () => ({ ...base(), targets: [inp("label", [])] }), path: "/training/loss/target", message: 'sparse_categorical_crossentropy needs int32 class ids as target; "label" is float32' },
  { name: "sparse CE with a same-rank target", make: () => ({ ...base(), targets: [inp("label", [10], "int32")] }), path: "/training/loss/target", message: 'sparse_categorical_crossentropy needs a target with one axis fewer than output "probs" [10], i.e. []; "label" has shape [10]' },
  { name: "MSE target of the wrong shape", make: () => { const g = base(); g.targets = [inp("label", [2])]; g.training.loss.type = "mean_squared_error"; return g; }, path: "/training/loss/target", message: 'mean_squared_error needs a target of the shape of output "probs" [10]; "label" has shape [2]' },
  { name: "categorical CE with int32 target", make: () => { const g = base(); g.training.loss.type = "categorical_crossentropy"; return g; }, path: "/training/loss/target", message: 'categorical_crossentropy needs a float32 target; "label" is int32 (int32 class ids go with sparse_categorical_crossentropy)' },
  { name: "from_logits with MSE", make: () => { const g = base(); g.targets = [inp("label", [10])]; Object.assign(g.training.loss, { type: "mean_squared_error", from_logits: true }); return g; }, path: "/training/loss/from_logits", message: "from_logits applies only to crossentropy losses, not mean_squared_error" },
  { name: "clipnorm and global_clipnorm", make: () => { const g = base(); Object.assign(g.training.optimizer, { clipnorm: 1, global_clipnorm: 1 }); return g; }, path: "/training/optimizer/global_clipnorm", message: "clipnorm and global_clipnorm cannot both be set; choose one" },
  { name: "unknown optimizer", make: () => { const g = base(); g.training.optimizer.type = "adm"; return g; }, path: "/training/optimizer/type", message: 'expected one of "sgd", "adam", "adamw", "rmsprop", got "adm"; did you mean "adam"?' },
  { name: "optimizer attribute of another optimizer", make: () => { const g = base(); g.training.optimizer.rho = 0.9; return g; }, path: "/training/optimizer/rho", message: 'unknown property "rho" (allowed: type, learning_rate, beta_1, beta_2, epsilon, clipnorm, global_clipnorm)' },
  { name: "zero learning rate", make: () => { const g = base(); g.training.optimizer.learning_rate = 0; return g; }, path: "/training/optimizer/learning_rate", message: "expected a number > 0 (at most 3.4e38, float32) or a schedule object {schedule, ...}, got 0" },
  { name: "unknown metric", make: () => { const g = base(); g.training.metrics = ["acuracy"]; return g; }, path: "/training/metrics/0", message: `expected one of ${METRIC_LIST}, got "acuracy"; did you mean "accuracy"?` },
  { name: "unknown metric type in an object", make: () => { const g = base(); g.training.metrics = [{ type: "aucc", curve: "PR" }]; return g; }, path: "/training/metrics/0/type", message: `expected one of ${METRIC_LIST}, got "aucc"; did you mean "auc"?` },
  { name: "argument of another metric", make: () => { const g = base(); g.training.metrics = [{ type: "precision", k: 2 }]; return g; }, path: "/training/metrics/0/k", message: 'unknown property "k" (allowed: type, name, thresholds)' },
  { name: "auc with one threshold", make: () => { const g = base(); g.training.metrics = [{ type: "auc", num_thresholds: 1 }]; return g; }, path: "/training/metrics/0/num_thresholds", message: "expected an integer in [2, 100000], got 1" },
  { name: "a metric that needs a float target", make: () => { const g = base(); g.training.metrics = ["accuracy", "precision"]; return g; }, path: "/training/metrics/1", message: 'precision compares with a float32 target of the output\'s shape; "label" holds int32 class ids (use the sparse_ variant, or accuracy)' },
  { name: "a sparse metric on a float target", make: () => { const g = base(); g.targets = [inp("label", [10])]; g.training.loss.type = "categorical_crossentropy"; g.training.metrics = ["sparse_categorical_accuracy"]; return g; }, path: "/training/metrics/0", message: 'sparse_categorical_accuracy compares with int32 class ids; "label" is float32 (use the variant without sparse_)' },
  { name: "loss list shorter than the outputs", make: () => { const g = twoOutputs(base()); g.training.loss = [{ type: "sparse_categorical_crossentropy", target: "label" }]; return g; }, path: "/training/loss", message: "a list of losses has one loss per graph output, in order: the graph has 2 outputs (fc1, probs) and the list 1 loss" },
  { name: "one loss without output for two outputs", make: () => { const g = twoOutputs(base()); delete g.training.loss.output; g.training.metrics = []; return g; }, path: "/training/loss/output", message: 'missing "output": the graph has 2 outputs (fc1, probs); name one, or give a list or map of losses, one per output' },
  { name: "loss map key that is no output", make: () => { const g = twoOutputs(base()); g.training.loss = { prob: { type: "sparse_categorical_crossentropy", target: "label" }, fc1: { type: "mean_squared_error", target: "hidden" } }; return g; }, path: "/training/loss", message: 'a map of losses has one key per graph output (fc1, probs): "prob" is not a graph output; did you mean "probs"?; no loss for "probs"' },
  { name: "two losses on one output", make: () => { const g = twoOutputs(base()); g.training.loss = [{ type: "mean_squared_error", target: "hidden" }, { type: "mean_squared_error", output: "fc1", target: "hidden" }]; return g; }, path: "/training/loss/1/output", message: 'output "fc1" already has a loss (/training/loss/0); each output takes one loss' },
  { name: "loss_weights of the wrong length", make: () => { const g = twoOutputs(base()); g.training.loss = [{ type: "mean_squared_error", target: "hidden" }, { type: "sparse_categorical_crossentropy", target: "label" }]; g.training.loss_weights = [1, 2, 3]; g.training.metrics = []; return g; }, path: "/training/loss_weights", message: "loss_weights must match the losses: 2 losses, 3 weights" },
  { name: "a flat metric list with two outputs", make: () => { const g = twoOutputs(base()); g.training.loss = [{ type: "mean_squared_error", target: "hidden" }, { type: "sparse_categorical_crossentropy", target: "label" }]; return g; }, path: "/training/metrics", message: "the graph has 2 outputs with a loss (fc1, probs): give one list of metrics per output, or a map by output name, as Keras does" },
  { name: "a metric named like the loss", make: () => { const g = base(); g.training.metrics = [{ type: "sparse_categorical_accuracy", name: "loss" }]; return g; }, path: "/training/metrics", message: 'metric "loss" of output "probs" would log as "loss", a name the logs use for something else (loss, <output>_loss, val_…, learning_rate); give it another "name"' },
  { name: "metrics of an unknown output", make: () => { const g = base(); g.training.metrics = { prob: ["accuracy"] }; return g; }, path: "/training/metrics/prob", message: '"prob" is not an output with a loss; did you mean "probs"? (outputs with a loss: probs)' },
  { name: "unknown loss", make: () => { const g = base(); g.training.loss.type = "crossentropy"; return g; }, path: "/training/loss/type", message: 'expected one of "mean_squared_error", "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", got "crossentropy"' },
];

describe("invalid graphs", () => {
  test("there are at least 40 cases", () => expect(cases.length).toBeGreaterThanOrEqual(40));

  test.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const err = errorOf(c.make());
    expect(err.diagnostics.map((x) => x.path)).toEqual([c.path, ...(c.also ?? [])]);
    const [d] = err.diagnostics;
    expect(d.path).toBe(c.path);
    expect(d.message).toBe(c.message);
    expect(d.layer).toBe(c.layer);
  });
});

describe("every problem is reported in one pass", () => {
  test("schema problems in several layers", () => {
    const g = base();
    L(g, 0).kernal_size = 3;
    L(g, 3).units = -4;
    g.training = { ...(g.training as G), metrics: ["f1"] };
    const paths = errorOf(g).diagnostics.map((d) => d.path);
    expect(paths).toEqual(["/layers/0/kernal_size", "/layers/3/units", "/training/metrics/0"]);
  });

  test("semantic problems in independent layers, and none for layers fed by a broken one", () => {
    const g = seq([inp("x", [2, 2, 3]), inp("y", [4])], [
      { name: "c", op: "conv2d", filters: 1, kernel_size: 3, inputs: ["x"] },
      { name: "after_c", op: "flatten" },
      { name: "s", op: "subtract", inputs: ["y"] },
      { name: "r", op: "reshape", target_shape: [3], inputs: ["y"] },
    ], { outputs: ["nope", "r"] });
    const err = errorOf(g);
    expect(err.diagnostics.map((d) => [d.path, d.layer])).toEqual([
      ["/layers/0/kernel_size", "c"], ["/layers/2/inputs", "s"], ["/layers/3/target_shape", "r"], ["/outputs/0", undefined],
    ]);
    expect(err.message.split("\n")).toHaveLength(4);
  });

  test("a schema error in one layer does not hide the shape error of another, and layers it feeds report nothing", () => {
    const g = seq([inp("x", [4]), inp("img", [2, 2, 3])], [
      { name: "a", op: "dense", unitz: 3, inputs: ["x"] }, // schema: unknown attribute
      { name: "b", op: "dense", units: 2 }, // fed by a (the previous layer): nothing to say
      { name: "b2", op: "add", inputs: ["a", "x"] }, // would be a shape mismatch if a were guessed at
      { name: "c", op: "conv2d", filters: 1, kernel_size: 3, inputs: ["img"] }, // shape: kernel does not fit
      { name: "d", op: "dense", units: 1, inputs: ["nope"] }, // reference
    ], { outputs: ["b", "b2", "c"] });
    const err = errorOf(g);
    expect(err.diagnostics.map((d) => [d.path, d.layer, d.code])).toEqual([
      ["/layers/0/unitz", "a", "schema"], ["/layers/3/kernel_size", "c", "shape"], ["/layers/4/inputs/0", "d", "reference"],
    ]);
    expect(err.diagnostics[1]!.message).toBe('a 3x3 kernel with padding "valid" does not fit input 2x2x3');
  });

  test("problems come in graph order: a shape error in layer 0 before a schema error in layer 3", () => {
    const g = base();
    L(g, 0).kernel_size = 9; // does not fit 8x8
    L(g, 3).units = -4;
    g.training.metrics = ["f1"];
    expect(errorOf(g).diagnostics.map((d) => [d.path, d.code])).toEqual([
      ["/layers/0/kernel_size", "shape"], ["/layers/3/units", "schema"], ["/training/metrics/0", "schema"],
    ]);
  });

  test("a layer that is not an object, or has an invalid name, excludes itself and the layers it feeds; the loss on it says nothing", () => {
    const notObject = base();
    notObject.layers[3] = 5;
    L(notObject, 0).kernel_size = 9;
    // (the schema says "/layers/3" is not an object twice: against the layer list's item and the layer type)
    expect([...new Set(errorOf(notObject).diagnostics.map((d) => d.path))]).toEqual(["/layers/0/kernel_size", "/layers/3"]);
    const badName = base();
    L(badName, 3).name = "fc-1";
    L(badName, 4).inputs = ["fc-1"];
    L(badName, 0).kernel_size = 9;
    expect(errorOf(badName).diagnostics.map((d) => d.path)).toEqual(["/layers/0/kernel_size", "/layers/3/name", "/layers/4/inputs/0"]);
    const brokenOutput = base();
    L(brokenOutput, 4).units = 0; // probs: the loss's output
    expect(errorOf(brokenOutput).diagnostics.map((d) => d.path)).toEqual(["/layers/4/units"]);
  });

  test("a broken frame (format, inputs, targets) stops after the schema: nothing else can be checked against it", () => {
    const g = { ...base(), format: "kiln.graph/v0" };
    L(g, 0).kernel_size = 9;
    expect(errorOf(g).diagnostics.map((d) => d.path)).toEqual(["/format"]);
  });

  test("malformed JSON reports line and column", () => {
    const err = errorOf('{\n  "format": "kiln.graph/v2",\n  "name": x\n}');
    expect(err.diagnostics).toEqual([{ code: "json", path: "", message: 'invalid JSON at line 3, column 11: unexpected "x", expected a value' }]);
    expect(errorOf('{"a": [1, 2,]}').diagnostics[0].message).toBe('invalid JSON at line 1, column 13: unexpected "]", expected a value');
    expect(errorOf('{"a": 1').diagnostics[0].message).toBe('invalid JSON at line 1, column 8: unexpected end of input, expected "," or "}"');
  });
});
