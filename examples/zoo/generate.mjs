/**
 * Writes the zoo's graphs (examples/zoo/graphs/<model>.json): small but real-shaped
 * kiln.graph/v2 versions of the architectures issue 17 names, built only from ops on main.
 * Deterministic: the same script writes the same files byte for byte, and the files are checked
 * in, so a change here shows up as a diff in the graphs.
 * Usage: node examples/zoo/generate.mjs
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");

/** Collects layers in order; each call returns the new layer's name for the next one's inputs. */
class Graph {
  constructor(name, inputs) {
    this.name = name;
    this.inputs = inputs;
    this.layers = [];
  }
  add(name, op, inputs, attrs = {}) {
    this.layers.push({ name, op, ...attrs, inputs: Array.isArray(inputs) ? inputs : [inputs] });
    return name;
  }
  /** conv2d (no bias when batch normalization follows, as the papers do) → BN → optional relu. */
  convBn(prefix, x, filters, kernel, { strides = 1, relu = true, bias = false } = {}) {
    x = this.add(`${prefix}_conv`, "conv2d", x, { filters, kernel_size: kernel, strides, padding: "same", use_bias: bias });
    x = this.add(`${prefix}_bn`, "batch_normalization", x);
    return relu ? this.add(`${prefix}_relu`, "activation", x, { activation: "relu" }) : x;
  }
  /** BN → relu → conv2d: DenseNet's pre-activation order. */
  bnReluConv(prefix, x, filters, kernel) {
    x = this.add(`${prefix}_bn`, "batch_normalization", x);
    x = this.add(`${prefix}_relu`, "activation", x, { activation: "relu" });
    return this.add(`${prefix}_conv`, "conv2d", x, { filters, kernel_size: kernel, padding: "same", use_bias: false });
  }
  json({ outputs, targets, training, seed = 1 }) {
    return { $schema: "../../../schemas/graph.schema.json", format: "kiln.graph/v2", name: this.name, seed, inputs: this.inputs, targets, layers: this.layers, outputs, training };
  }
}

const classify = (output, lr = 0.001) => ({
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  training: {
    loss: { type: "sparse_categorical_crossentropy", output, target: "label" },
    optimizer: { type: "adam", learning_rate: lr },
    metrics: ["accuracy"],
  },
  outputs: [output],
});

/**
 * ResNet-20 v1 (He et al. 2015, §4.2; the Keras CIFAR-10 example): 3 stages of 3 basic blocks at
 * 16, 32, 64 filters; a 1×1 strided projection (with bias, no BN) where the shape changes.
 */
function resnet20() {
  const g = new Graph("resnet20", [{ name: "image", shape: [32, 32, 3] }]);
  let x = g.add("stem_conv", "conv2d", "image", { filters: 16, kernel_size: 3, padding: "same" });
  x = g.add("stem_bn", "batch_normalization", x);
  x = g.add("stem_relu", "activation", x, { activation: "relu" });
  let channels = 16;
  for (const [s, filters] of [16, 32, 64].entries()) {
    for (let b = 0; b < 3; b++) {
      const p = `s${s + 1}b${b + 1}`;
      const strides = s > 0 && b === 0 ? 2 : 1;
      let y = g.add(`${p}_conv1`, "conv2d", x, { filters, kernel_size: 3, strides, padding: "same" });
      y = g.add(`${p}_bn1`, "batch_normalization", y);
      y = g.add(`${p}_relu1`, "activation", y, { activation: "relu" });
      y = g.add(`${p}_conv2`, "conv2d", y, { filters, kernel_size: 3, padding: "same" });
      y = g.add(`${p}_bn2`, "batch_normalization", y);
      const shortcut = filters !== channels ? g.add(`${p}_proj`, "conv2d", x, { filters, kernel_size: 1, strides, padding: "same" }) : x;
      x = g.add(`${p}_add`, "add", [shortcut, y]);
      x = g.add(`${p}_out`, "activation", x, { activation: "relu" });
      channels = filters;
    }
  }
  x = g.add("pool", "global_average_pooling2d", x);
  x = g.add("probs", "dense", x, { units: 10, activation: "softmax" });
  return g.json(classify("probs"));
}

/**
 * Two GoogLeNet (Inception v1) blocks on a 32×32×3 input: 1×1, 1×1→3×3, 1×1→5×5 and
 * 3×3 max pool→1×1 branches joined on channels, a stride-2 pool between blocks.
 */
function inception() {
  const g = new Graph("inception", [{ name: "image", shape: [32, 32, 3] }]);
  let x = g.add("stem", "conv2d", "image", { filters: 32, kernel_size: 3, padding: "same", activation: "relu" });
  const block = (p, x, [b1, b3r, b3, b5r, b5, bp]) => {
    const conv = (name, input, filters, k) => g.add(`${p}_${name}`, "conv2d", input, { filters, kernel_size: k, padding: "same", activation: "relu" });
    const one = conv("1x1", x, b1, 1);
    const three = conv("3x3", conv("3x3_reduce", x, b3r, 1), b3, 3);
    const five = conv("5x5", conv("5x5_reduce", x, b5r, 1), b5, 5);
    const pooled = g.add(`${p}_pool`, "max_pooling2d", x, { pool_size: 3, strides: 1, padding: "same" });
    const proj = conv("pool_proj", pooled, bp, 1);
    return g.add(`${p}_concat`, "concatenate", [one, three, five, proj]);
  };
  x = block("inc1", x, [16, 24, 32, 4, 8, 8]); // 64 channels out
  x = g.add("pool1", "max_pooling2d", x, { pool_size: 3, strides: 2, padding: "same" });
  x = block("inc2", x, [32, 32, 48, 8, 24, 16]); // 120 channels out
  x = g.add("gap", "global_average_pooling2d", x);
  x = g.add("dropout", "dropout", x, { rate: 0.2 });
  x = g.add("probs", "dense", x, { units: 10, activation: "softmax" });
  return g.json(classify("probs"));
}

/**
 * DenseNet-BC-40 (Huang et al. 2017), growth rate 12: a 3×3 stem of 2k filters, 3 dense
 * blocks of (40 − 4)/6 = 6 bottleneck layers (BN-relu-1×1 conv 4k, BN-relu-3×3 conv k,
 * concatenated onto the block's input), transitions BN-relu-1×1 conv to half the channels
 * then 2×2 average pooling; all convolutions without bias.
 */
function densenet() {
  const k = 12, layersPerBlock = 6;
  const g = new Graph("densenet_bc40", [{ name: "image", shape: [32, 32, 3] }]);
  let x = g.add("stem", "conv2d", "image", { filters: 2 * k, kernel_size: 3, padding: "same", use_bias: false });
  let channels = 2 * k;
  for (let b = 1; b <= 3; b++) {
    for (let l = 1; l <= layersPerBlock; l++) {
      const p = `d${b}l${l}`;
      let y = g.bnReluConv(`${p}_a`, x, 4 * k, 1);
      y = g.bnReluConv(`${p}_b`, y, k, 3);
      x = g.add(`${p}_concat`, "concatenate", [x, y]);
      channels += k;
    }
    if (b < 3) {
      channels = Math.floor(channels / 2);
      x = g.bnReluConv(`t${b}`, x, channels, 1);
      x = g.add(`t${b}_pool`, "average_pooling2d", x, { pool_size: 2 });
    }
  }
  x = g.add("final_bn", "batch_normalization", x);
  x = g.add("final_relu", "activation", x, { activation: "relu" });
  x = g.add("gap", "global_average_pooling2d", x);
  x = g.add("probs", "dense", x, { units: 10, activation: "softmax" });
  return g.json(classify("probs"));
}

/**
 * U-Net (Ronneberger et al. 2015) on 64×64×1: three 2× downsamplings (8, 16, 32 filters, a
 * 64-filter bottleneck at 8×8), each up step upsampling2d → 2×2 conv → concatenate with the
 * skip → two 3×3 convs; a 1×1 sigmoid conv gives the per-pixel foreground probability.
 */
function unet() {
  const g = new Graph("unet", [{ name: "image", shape: [64, 64, 1] }]);
  const twoConvs = (p, x, filters) => {
    x = g.add(`${p}_conv1`, "conv2d", x, { filters, kernel_size: 3, padding: "same", activation: "relu" });
    return g.add(`${p}_conv2`, "conv2d", x, { filters, kernel_size: 3, padding: "same", activation: "relu" });
  };
  let x = "image";
  const skips = [];
  for (const [i, filters] of [8, 16, 32].entries()) {
    x = twoConvs(`down${i + 1}`, x, filters);
    skips.push([x, filters]);
    x = g.add(`pool${i + 1}`, "max_pooling2d", x, { pool_size: 2 });
  }
  x = twoConvs("bottom", x, 64);
  for (let i = 3; i >= 1; i--) {
    const [skip, filters] = skips[i - 1];
    x = g.add(`up${i}_upsample`, "upsampling2d", x, { size: 2 });
    x = g.add(`up${i}_conv`, "conv2d", x, { filters, kernel_size: 2, padding: "same", activation: "relu" });
    x = g.add(`up${i}_concat`, "concatenate", [skip, x]);
    x = twoConvs(`up${i}`, x, filters);
  }
  x = g.add("mask", "conv2d", x, { filters: 1, kernel_size: 1, activation: "sigmoid" });
  return g.json({
    outputs: [x],
    targets: [{ name: "target", shape: [64, 64, 1] }],
    training: {
      loss: { type: "binary_crossentropy", output: x, target: "target" },
      optimizer: { type: "adam", learning_rate: 0.002 },
      metrics: ["accuracy"],
    },
  });
}

/**
 * WaveNet-style (van den Oord et al. 2016) names classifier: character embedding, a causal 2-tap
 * input conv, 4 residual blocks with dilations 1, 2, 4, 8 (gated tanh ⊙ sigmoid units, 1×1
 * residual and skip convs), summed skips → relu → 1×1 conv → relu; the last step (its receptive
 * field, 16 steps, covers the whole 15-character name) is cropped out and classified.
 * Same input and target as examples/names-gender.
 */
function wavenet() {
  const T = 15, C = 32;
  const g = new Graph("wavenet_names", [{ name: "chars", shape: [T], dtype: "int32" }]);
  let x = g.add("embed", "embedding", "chars", { input_dim: 30, output_dim: 16 });
  x = g.add("causal_in", "conv1d", x, { filters: C, kernel_size: 2, padding: "causal" });
  const skips = [];
  for (const [i, d] of [1, 2, 4, 8].entries()) {
    const p = `block${i + 1}`;
    const conv = (name, activation) => g.add(`${p}_${name}`, "conv1d", x, { filters: C, kernel_size: 2, padding: "causal", dilation_rate: d, activation });
    const gated = g.add(`${p}_gate`, "multiply", [conv("filter", "tanh"), conv("gate_sigmoid", "sigmoid")]);
    skips.push(g.add(`${p}_skip`, "conv1d", gated, { filters: C, kernel_size: 1 }));
    const res = g.add(`${p}_res`, "conv1d", gated, { filters: C, kernel_size: 1 });
    x = g.add(`${p}_out`, "add", [x, res]);
  }
  x = g.add("skips", "add", skips);
  x = g.add("skips_relu", "activation", x, { activation: "relu" });
  x = g.add("post", "conv1d", x, { filters: C, kernel_size: 1, activation: "relu" });
  x = g.add("last_step", "cropping1d", x, { cropping: [T - 1, 0] });
  x = g.add("flat", "flatten", x);
  x = g.add("prob", "dense", x, { units: 1, activation: "sigmoid" });
  return g.json({
    outputs: [x],
    targets: [{ name: "female", shape: [1] }],
    training: {
      loss: { type: "binary_crossentropy", output: x, target: "female" },
      optimizer: { type: "adam", learning_rate: 0.005 },
      metrics: ["accuracy"],
    },
  });
}

/** One transformer block's attention and feed-forward halves; `pre` picks GPT-2's pre-LN order. */
function transformerBlock(g, p, x, { dim, heads, ff, causal, pre }) {
  const attnIn = pre ? g.add(`${p}_ln1`, "layer_normalization", x) : x;
  const attn = g.add(`${p}_attn`, "multi_head_attention", [attnIn], { num_heads: heads, key_dim: dim / heads, causal });
  x = g.add(`${p}_res1`, "add", [x, attn]);
  if (!pre) x = g.add(`${p}_ln1`, "layer_normalization", x);
  const ffIn = pre ? g.add(`${p}_ln2`, "layer_normalization", x) : x;
  const up = g.add(`${p}_ff_up`, "dense", ffIn, { units: ff, activation: "gelu" });
  const down = g.add(`${p}_ff_down`, "dense", up, { units: dim });
  x = g.add(`${p}_res2`, "add", [x, down]);
  return pre ? x : g.add(`${p}_ln2`, "layer_normalization", x);
}

/**
 * BERT-style encoder (Devlin et al. 2018), post-LN: token + segment + learned position
 * embeddings, embedding layer norm, 2 blocks of bidirectional self-attention (4 heads, 64 wide)
 * and a gelu feed-forward (256), then the first ([CLS]) position → tanh pooler → 2 classes.
 */
function bert() {
  const T = 32, D = 64;
  const g = new Graph("bert_encoder", [
    { name: "tokens", shape: [T], dtype: "int32" },
    { name: "segments", shape: [T], dtype: "int32" },
  ]);
  const tok = g.add("token_embed", "embedding", "tokens", { input_dim: 1000, output_dim: D });
  const seg = g.add("segment_embed", "embedding", "segments", { input_dim: 2, output_dim: D });
  const pos = g.add("position_embed", "position_embedding", tok, { sequence_length: T });
  let x = g.add("embed_sum", "add", [tok, seg, pos]);
  x = g.add("embed_ln", "layer_normalization", x);
  for (let b = 1; b <= 2; b++) x = transformerBlock(g, `enc${b}`, x, { dim: D, heads: 4, ff: 256, causal: false, pre: false });
  x = g.add("cls", "cropping1d", x, { cropping: [0, T - 1] });
  x = g.add("cls_flat", "flatten", x);
  x = g.add("pooler", "dense", x, { units: D, activation: "tanh" });
  x = g.add("probs", "dense", x, { units: 2, activation: "softmax" });
  return g.json(classify("probs", 0.0005));
}

/**
 * GPT-style decoder (Radford et al. 2019, GPT-2's pre-LN blocks): token + learned position
 * embeddings, 2 causal self-attention blocks (4 heads, 64 wide, gelu feed-forward 256), a final
 * layer norm and next-token logits over a 1,000-token vocabulary at every position.
 */
function gpt() {
  const T = 32, D = 64, V = 1000;
  const g = new Graph("gpt_decoder", [{ name: "tokens", shape: [T], dtype: "int32" }]);
  const tok = g.add("token_embed", "embedding", "tokens", { input_dim: V, output_dim: D });
  const pos = g.add("position_embed", "position_embedding", tok, { sequence_length: T });
  let x = g.add("embed_sum", "add", [tok, pos]);
  for (let b = 1; b <= 2; b++) x = transformerBlock(g, `dec${b}`, x, { dim: D, heads: 4, ff: 256, causal: true, pre: true });
  x = g.add("final_ln", "layer_normalization", x);
  x = g.add("logits", "dense", x, { units: V });
  return g.json({
    outputs: [x],
    targets: [{ name: "next", shape: [T], dtype: "int32" }],
    training: {
      loss: { type: "sparse_categorical_crossentropy", output: x, target: "next", from_logits: true },
      optimizer: { type: "adam", learning_rate: 0.001 },
      metrics: ["accuracy"],
    },
  });
}

/** Two-space JSON with one line per layer (and per input or target), so diffs read layer by layer. */
function formatGraph(graph) {
  const lines = Object.entries(graph).map(([key, value]) => {
    const text = Array.isArray(value) && typeof value[0] === "object"
      ? `[\n${value.map((v) => `    ${JSON.stringify(v)}`).join(",\n")}\n  ]`
      : JSON.stringify(value, null, 2).replace(/\n/g, "\n  ");
    return `  ${JSON.stringify(key)}: ${text}`;
  });
  return `{\n${lines.join(",\n")}\n}\n`;
}

/**
 * SE-ResNet-20 (Hu et al. 2018): ResNet-20 with a squeeze-and-excitation gate on each block's
 * residual branch before the add: global average pool → dense C/8 relu → dense C sigmoid →
 * reshape [1, 1, C] → multiply, which broadcasts [H, W, C] by [1, 1, C] as Keras 3 does.
 */
function seResnet20() {
  const graph = resnet20();
  graph.name = "se_resnet20";
  const layers = [];
  for (const layer of graph.layers) {
    const add = /^(s\db\d)_add$/.exec(layer.name);
    if (add) {
      const p = add[1], residual = layer.inputs[1];
      const channels = graph.layers.find((l) => l.name === `${p}_conv2`).filters;
      layers.push(
        { name: `${p}_se_squeeze`, op: "global_average_pooling2d", inputs: [residual] },
        { name: `${p}_se_reduce`, op: "dense", units: channels / 8, activation: "relu", inputs: [`${p}_se_squeeze`] },
        { name: `${p}_se_expand`, op: "dense", units: channels, activation: "sigmoid", inputs: [`${p}_se_reduce`] },
        { name: `${p}_se_gate`, op: "reshape", target_shape: [1, 1, channels], inputs: [`${p}_se_expand`] },
        { name: `${p}_se_scale`, op: "multiply", inputs: [residual, `${p}_se_gate`] },
      );
      layers.push({ ...layer, inputs: [layer.inputs[0], `${p}_se_scale`] });
    } else {
      layers.push(layer);
    }
  }
  graph.layers = layers;
  return graph;
}

/** Keras's `_make_divisible`: round to a multiple of 8, never more than 10 % down. */
function makeDivisible(v, divisor = 8) {
  let out = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

/**
 * MobileNetV2 (Sandler et al. 2018) at α = 0.35 on 96×96×3, as keras.applications.MobileNetV2
 * builds it (same layer sequence, widths from _make_divisible, ReLU6, batch normalization
 * momentum 0.999, zero_padding2d [[0, 1], [0, 1]] before each stride-2 valid convolution, a
 * 1280-wide last 1×1 conv since α ≤ 1), with a 10-class head instead of ImageNet's 1000.
 */
function mobilenetv2() {
  const alpha = 0.35;
  const g = new Graph("mobilenetv2_035_96", [{ name: "image", shape: [96, 96, 3] }]);
  const bn = (name, x) => g.add(name, "batch_normalization", x, { momentum: 0.999, epsilon: 0.001 });
  const relu6 = (name, x) => g.add(name, "relu", x, { max_value: 6 });
  const pad = (name, x) => g.add(name, "zero_padding2d", x, { padding: [[0, 1], [0, 1]] });
  let x = pad("conv1_pad", "image");
  let channels = makeDivisible(32 * alpha);
  x = g.add("conv1", "conv2d", x, { filters: channels, kernel_size: 3, strides: 2, padding: "valid", use_bias: false });
  x = relu6("conv1_relu", bn("bn_conv1", x));
  const blocks = [[16, 1, 1], [24, 2, 6], [24, 1, 6], [32, 2, 6], [32, 1, 6], [32, 1, 6], [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
    [96, 1, 6], [96, 1, 6], [96, 1, 6], [160, 2, 6], [160, 1, 6], [160, 1, 6], [320, 1, 6]];
  for (const [id, [filters, stride, expansion]] of blocks.entries()) {
    const p = id === 0 ? "expanded_conv" : `block_${id}`;
    const pointwise = makeDivisible(Math.trunc(filters * alpha));
    let y = x;
    if (id > 0) {
      y = g.add(`${p}_expand`, "conv2d", y, { filters: expansion * channels, kernel_size: 1, use_bias: false });
      y = relu6(`${p}_expand_relu`, bn(`${p}_expand_bn`, y));
    }
    if (stride === 2) y = pad(`${p}_pad`, y);
    y = g.add(`${p}_depthwise`, "depthwise_conv2d", y, { kernel_size: 3, strides: stride, padding: stride === 1 ? "same" : "valid", use_bias: false });
    y = relu6(`${p}_depthwise_relu`, bn(`${p}_depthwise_bn`, y));
    y = g.add(`${p}_project`, "conv2d", y, { filters: pointwise, kernel_size: 1, use_bias: false });
    y = bn(`${p}_project_bn`, y);
    x = channels === pointwise && stride === 1 ? g.add(`${p}_add`, "add", [x, y]) : y;
    channels = pointwise;
  }
  x = g.add("conv_1", "conv2d", x, { filters: 1280, kernel_size: 1, use_bias: false });
  x = relu6("out_relu", bn("conv_1_bn", x));
  x = g.add("gap", "global_average_pooling2d", x);
  x = g.add("probs", "dense", x, { units: 10, activation: "softmax" });
  return g.json(classify("probs"));
}

/**
 * Models that need ops not yet on main are written to examples/zoo/pending/ until those ops
 * merge (then they move to ZOO). Empty now: SE-ResNet-20 and MobileNetV2 waited for opsact and
 * opsconv, both merged.
 */
export const PENDING = {};

export const ZOO = { resnet20, inception, densenet, unet, wavenet, bert, gpt, se_resnet20: seResnet20, mobilenetv2 };

/** The zoo's graph objects by model name (what the files hold). */
export function zooGraphs() {
  return Object.fromEntries(Object.entries(ZOO).map(([name, make]) => [name, make()]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(`${here}/graphs`, { recursive: true });
  for (const [name, graph] of Object.entries(zooGraphs())) {
    const path = `${here}/graphs/${name}.json`;
    writeFileSync(path, formatGraph(graph));
    console.log(`wrote ${path} (${graph.layers.length} layers)`);
  }
  if (Object.keys(PENDING).length > 0) mkdirSync(`${here}/pending`, { recursive: true });
  for (const [name, { make, needs }] of Object.entries(PENDING)) {
    const graph = make(), path = `${here}/pending/${name}.json`;
    writeFileSync(path, formatGraph(graph));
    console.log(`wrote ${path} (${graph.layers.length} layers; needs ${needs})`);
  }
}
