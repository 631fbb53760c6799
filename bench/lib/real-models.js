/**
 * The models of issue 19 at the size people deploy them: MobileNetV2 (α = 1.0, 224×224), a
 * ResNet-50-style and an InceptionV3-style network (299×299) and ResNet-20 (32×32×3), each built
 * once in TF.js layers as `keras.applications` (or the Keras CIFAR-10 example) builds it, given
 * random but fixed weights (a seeded stream: the same on every run), and turned into kiln's graph
 * by kiln's own importer from the model's save-to-memory artifacts, so that kiln, TF.js and the
 * ONNX file written from kiln's graph (lib/ort.js) hold the same weights by construction.
 *
 * Parameter counts (Keras's "Total params", with the 1000-class top): MobileNetV2 3,538,984,
 * ResNet-50 25,636,712, InceptionV3 23,851,784 (the counts do not depend on the input size);
 * ResNet-20 274,442 (10 classes). test/bench/real-models.test.ts checks them.
 */
import { tf } from "./tfjs-model.js";
import { rng } from "./measure.js";

const L = tf.layers;
/**
 * Every weight is overwritten by randomizeWeights, so the layers start from zeros: drawing tfjs's
 * glorot values for 25M parameters only to replace them took seconds.
 */
const ZERO = { kernelInitializer: "zeros" };

/** Keras's `_make_divisible` (keras/src/applications/mobilenet_v2.py): channel counts rounded to multiples of 8. */
function makeDivisible(v, divisor = 8) {
  const n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return n < 0.9 * v ? n + divisor : n;
}

/** ReLU6 as Keras's MobileNetV2 writes it: a ReLU layer with max_value 6. */
const relu6 = (name) => L.reLU({ maxValue: 6, name });

/** `imagenet_utils.correct_pad` for a 3×3 kernel: ((0, 1), (0, 1)) on an even size, ((1, 1), (1, 1)) on an odd one. */
function correctPad(size) {
  const [h, w] = size;
  return [[h % 2, 1], [w % 2, 1]];
}

/**
 * MobileNetV2 as `keras.applications.MobileNetV2(alpha, input_shape, include_top, classes)` builds
 * it: Conv1 3×3/2 (same, no bias), 17 inverted residual blocks (1×1 expansion by 6 except the first,
 * ZeroPadding2D before each stride-2 depthwise 3×3, 1×1 linear projection, residual add where the
 * shape allows), Conv_1 1×1 to 1280, global average pool, dense softmax. BN: epsilon 1e-3,
 * momentum 0.999. `backboneTrainable: false` freezes every layer but the top (fine-tuning).
 */
export function mobileNetV2({ size = 224, alpha = 1.0, classes = 1000, includeTop = true, backboneTrainable = true } = {}) {
  const bn = (name) => L.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
  const input = tf.input({ shape: [size, size, 3], name: "input_1" });
  const first = makeDivisible(32 * alpha, 8);
  let x = L.conv2d({ ...ZERO, filters: first, kernelSize: 3, strides: 2, padding: "same", useBias: false, name: "Conv1" }).apply(input);
  x = bn("bn_Conv1").apply(x);
  x = relu6("Conv1_relu").apply(x);
  const block = (x, filters, stride, expansion, id) => {
    const inC = x.shape[3];
    const pointwise = makeDivisible(Math.trunc(filters * alpha), 8);
    const prefix = id ? `block_${id}_` : "expanded_conv_";
    const inputs = x;
    if (id) {
      x = L.conv2d({ ...ZERO, filters: expansion * inC, kernelSize: 1, padding: "same", useBias: false, name: prefix + "expand" }).apply(x);
      x = bn(prefix + "expand_BN").apply(x);
      x = relu6(prefix + "expand_relu").apply(x);
    }
    if (stride === 2) x = L.zeroPadding2d({ padding: correctPad([x.shape[1], x.shape[2]]), name: prefix + "pad" }).apply(x);
    x = L.depthwiseConv2d({ depthwiseInitializer: "zeros", kernelSize: 3, strides: stride, useBias: false, padding: stride === 1 ? "same" : "valid", name: prefix + "depthwise" }).apply(x);
    x = bn(prefix + "depthwise_BN").apply(x);
    x = relu6(prefix + "depthwise_relu").apply(x);
    x = L.conv2d({ ...ZERO, filters: pointwise, kernelSize: 1, padding: "same", useBias: false, name: prefix + "project" }).apply(x);
    x = bn(prefix + "project_BN").apply(x);
    if (inC === pointwise && stride === 1) x = L.add({ name: prefix + "add" }).apply([inputs, x]);
    return x;
  };
  const plan = [[16, 1, 1], [24, 2, 6], [24, 1, 6], [32, 2, 6], [32, 1, 6], [32, 1, 6], [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
    [96, 1, 6], [96, 1, 6], [96, 1, 6], [160, 2, 6], [160, 1, 6], [160, 1, 6], [320, 1, 6]];
  plan.forEach(([f, s, e], id) => { x = block(x, f, s, e, id); });
  const last = alpha > 1.0 ? makeDivisible(1280 * alpha, 8) : 1280;
  x = L.conv2d({ ...ZERO, filters: last, kernelSize: 1, useBias: false, name: "Conv_1" }).apply(x);
  x = bn("Conv_1_bn").apply(x);
  x = relu6("out_relu").apply(x);
  if (includeTop) {
    x = L.globalAveragePooling2d({ name: "global_average_pooling2d" }).apply(x);
    x = L.dense({ ...ZERO, units: classes, activation: "softmax", name: "predictions" }).apply(x);
  }
  const model = tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha.toFixed(2)}_${size}` });
  if (!backboneTrainable) for (const l of model.layers) if (l.name !== "predictions") l.trainable = false;
  return model;
}

/**
 * ResNet-50 (v1) as `keras.applications.ResNet50` builds it: ZeroPadding2D 3, conv 7×7/2 (bias), BN
 * (epsilon 1.001e-5), relu, ZeroPadding2D 1, max pool 3×3/2, four stacks of 3, 4, 6, 3 bottleneck
 * blocks (1×1, 3×3 same, 1×1 ×4, projection shortcut on each stack's first block, stride 2 from the
 * second stack on), global average pool, dense softmax.
 */
export function resNet50({ size = 299, classes = 1000 } = {}) {
  const bn = (name) => L.batchNormalization({ axis: -1, epsilon: 1.001e-5, name });
  const input = tf.input({ shape: [size, size, 3], name: "input_1" });
  let x = L.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: "conv1_pad" }).apply(input);
  x = L.conv2d({ ...ZERO, filters: 64, kernelSize: 7, strides: 2, name: "conv1_conv" }).apply(x);
  x = bn("conv1_bn").apply(x);
  x = L.activation({ activation: "relu", name: "conv1_relu" }).apply(x);
  x = L.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: "pool1_pad" }).apply(x);
  x = L.maxPooling2d({ poolSize: 3, strides: 2, name: "pool1_pool" }).apply(x);
  const block = (x, filters, stride, shortcutConv, name) => {
    let shortcut = x;
    if (shortcutConv) {
      shortcut = L.conv2d({ ...ZERO, filters: 4 * filters, kernelSize: 1, strides: stride, name: name + "_0_conv" }).apply(x);
      shortcut = bn(name + "_0_bn").apply(shortcut);
    }
    x = L.conv2d({ ...ZERO, filters, kernelSize: 1, strides: stride, name: name + "_1_conv" }).apply(x);
    x = bn(name + "_1_bn").apply(x);
    x = L.activation({ activation: "relu", name: name + "_1_relu" }).apply(x);
    x = L.conv2d({ ...ZERO, filters, kernelSize: 3, padding: "same", name: name + "_2_conv" }).apply(x);
    x = bn(name + "_2_bn").apply(x);
    x = L.activation({ activation: "relu", name: name + "_2_relu" }).apply(x);
    x = L.conv2d({ ...ZERO, filters: 4 * filters, kernelSize: 1, name: name + "_3_conv" }).apply(x);
    x = bn(name + "_3_bn").apply(x);
    x = L.add({ name: name + "_add" }).apply([shortcut, x]);
    return L.activation({ activation: "relu", name: name + "_out" }).apply(x);
  };
  [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]].forEach(([filters, blocks, stride], s) => {
    x = block(x, filters, stride, true, `conv${s + 2}_block1`);
    for (let i = 2; i <= blocks; i++) x = block(x, filters, 1, false, `conv${s + 2}_block${i}`);
  });
  x = L.globalAveragePooling2d({ name: "avg_pool" }).apply(x);
  x = L.dense({ ...ZERO, units: classes, activation: "softmax", name: "predictions" }).apply(x);
  return tf.model({ inputs: input, outputs: x, name: `resnet50_${size}` });
}

/**
 * InceptionV3 as `keras.applications.InceptionV3` builds it: conv2d_bn = conv (no bias) → BN (no
 * scale, epsilon 1e-3) → relu; the stem, mixed0–2 (35×35), mixed3 (reduction), mixed4–7 (17×17,
 * factorized 1×7 / 7×1), mixed8 (reduction), mixed9–10 (8×8, split 1×3 / 3×1 branches
 * concatenated); 3×3 average pools (stride 1, same) on the pool branches; global average pool,
 * dense softmax.
 */
export function inceptionV3({ size = 299, classes = 1000 } = {}) {
  let n = 0;
  const convBn = (x, filters, rows, cols, padding = "same", strides = 1) => {
    const id = n++;
    x = L.conv2d({ ...ZERO, filters, kernelSize: [rows, cols], strides, padding, useBias: false, name: `conv2d_${id}` }).apply(x);
    x = L.batchNormalization({ axis: 3, scale: false, epsilon: 1e-3, name: `batch_normalization_${id}` }).apply(x);
    return L.activation({ activation: "relu", name: `activation_${id}` }).apply(x);
  };
  let pools = 0;
  const avgPool = (x) => L.averagePooling2d({ poolSize: 3, strides: 1, padding: "same", name: `average_pooling2d_${pools++}` }).apply(x);
  const maxPool = (x) => L.maxPooling2d({ poolSize: 3, strides: 2, name: `max_pooling2d_${pools++}` }).apply(x);
  const concat = (xs, name) => L.concatenate({ axis: 3, name }).apply(xs);
  const input = tf.input({ shape: [size, size, 3], name: "input_1" });
  let x = convBn(input, 32, 3, 3, "valid", 2);
  x = convBn(x, 32, 3, 3, "valid");
  x = convBn(x, 64, 3, 3);
  x = maxPool(x);
  x = convBn(x, 80, 1, 1, "valid");
  x = convBn(x, 192, 3, 3, "valid");
  x = maxPool(x);
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const b1 = convBn(x, 64, 1, 1);
    const b5 = convBn(convBn(x, 48, 1, 1), 64, 5, 5);
    const b3 = convBn(convBn(convBn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    const bp = convBn(avgPool(x), poolFilters, 1, 1);
    x = concat([b1, b5, b3, bp], `mixed${i}`);
  }
  {
    const b3 = convBn(x, 384, 3, 3, "valid", 2);
    const bd = convBn(convBn(convBn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, "valid", 2);
    x = concat([b3, bd, maxPool(x)], "mixed3");
  }
  for (const [i, c] of [128, 160, 160, 192].entries()) {
    const b1 = convBn(x, 192, 1, 1);
    const b7 = convBn(convBn(convBn(x, c, 1, 1), c, 1, 7), 192, 7, 1);
    let bd = convBn(x, c, 1, 1);
    bd = convBn(convBn(convBn(convBn(bd, c, 7, 1), c, 1, 7), c, 7, 1), 192, 1, 7);
    const bp = convBn(avgPool(x), 192, 1, 1);
    x = concat([b1, b7, bd, bp], `mixed${4 + i}`);
  }
  {
    const b3 = convBn(convBn(x, 192, 1, 1), 320, 3, 3, "valid", 2);
    const b7 = convBn(convBn(convBn(convBn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1), 192, 3, 3, "valid", 2);
    x = concat([b3, b7, maxPool(x)], "mixed8");
  }
  for (let i = 0; i < 2; i++) {
    const b1 = convBn(x, 320, 1, 1);
    const b3 = convBn(x, 384, 1, 1);
    const b3s = concat([convBn(b3, 384, 1, 3), convBn(b3, 384, 3, 1)], `mixed9_${i}`);
    const bd = convBn(convBn(x, 448, 1, 1), 384, 3, 3);
    const bds = concat([convBn(bd, 384, 1, 3), convBn(bd, 384, 3, 1)], `concatenate_${i}`);
    const bp = convBn(avgPool(x), 192, 1, 1);
    x = concat([b1, b3s, bds, bp], `mixed${9 + i}`);
  }
  x = L.globalAveragePooling2d({ name: "avg_pool" }).apply(x);
  x = L.dense({ ...ZERO, units: classes, activation: "softmax", name: "predictions" }).apply(x);
  return tf.model({ inputs: input, outputs: x, name: `inception_v3_${size}` });
}

/**
 * ResNet-20 v1 (He et al. 2015; the Keras CIFAR-10 example's `resnet_v1(depth=20)`): conv 3×3 16 →
 * BN → relu, 3 stages × 3 basic blocks (conv-BN-relu, conv-BN, add, relu) at 16/32/64 filters, 1×1
 * strided projection (conv only) on the first block of stages 2 and 3, global average pool (the
 * example's 8×8 average pool + flatten), dense softmax over 10 classes. Convs keep their biases.
 */
export function resNet20({ classes = 10 } = {}) {
  const input = tf.input({ shape: [32, 32, 3], name: "input_1" });
  let n = 0;
  const layer = (x, filters, { kernel = 3, strides = 1, relu = true, norm = true } = {}) => {
    const id = n++;
    x = L.conv2d({ ...ZERO, filters, kernelSize: kernel, strides, padding: "same", name: `conv2d_${id}` }).apply(x);
    if (norm) x = L.batchNormalization({ axis: -1, name: `batch_normalization_${id}` }).apply(x);
    return relu ? L.activation({ activation: "relu", name: `activation_${id}` }).apply(x) : x;
  };
  let x = layer(input, 16);
  for (let stage = 0; stage < 3; stage++) {
    const filters = 16 << stage;
    for (let b = 0; b < 3; b++) {
      const strides = stage > 0 && b === 0 ? 2 : 1;
      let y = layer(x, filters, { strides });
      y = layer(y, filters, { relu: false });
      if (strides === 2) x = layer(x, filters, { kernel: 1, strides, relu: false, norm: false });
      x = L.add({ name: `add_${stage * 3 + b}` }).apply([x, y]);
      x = L.activation({ activation: "relu", name: `relu_${stage * 3 + b}` }).apply(x);
    }
  }
  x = L.globalAveragePooling2d({ name: "avg_pool" }).apply(x);
  x = L.dense({ ...ZERO, units: classes, activation: "softmax", name: "predictions" }).apply(x);
  return tf.model({ inputs: input, outputs: x, name: "resnet20" });
}

/**
 * Gives every weight of `model` a value from a seeded stream (the same on every run, whatever
 * initializers tfjs used): kernels uniform with He's variance (2 / fan in) scaled by `gain`, so
 * that the activations of a deep random network neither explode nor vanish; biases and BN betas
 * and moving means small (±0.1); BN gammas in [0.5, 1] and moving variances in [0.5, 1.5].
 * Layers are visited in model order, each weight in tfjs's order.
 */
export function randomizeWeights(model, seed, gain = 1) {
  const r = rng(seed);
  const uniform = (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  for (const layer of model.layers) {
    const current = layer.getWeights();
    if (!current.length) continue;
    const names = layer.weights.map((w) => w.name.split("/").pop().replace(/_\d+$/, ""));
    const values = current.map((w, i) => {
      const shape = w.shape, size = shape.reduce((a, b) => a * b, 1), name = names[i];
      let data;
      if (/kernel/.test(name)) {
        // Conv [kh, kw, C, F] and depthwise [kh, kw, C, m]: fan in kh·kw·C (depthwise: kh·kw); dense [in, out].
        const fanIn = name === "depthwise_kernel" ? shape[0] * shape[1] : shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const limit = gain * Math.sqrt(6 / fanIn);
        data = uniform(size, -limit, limit);
      } else if (name === "gamma") data = uniform(size, 0.5, 1);
      else if (name === "moving_variance") data = uniform(size, 0.5, 1.5);
      else data = uniform(size, -0.1, 0.1); // bias, beta, moving_mean
      return tf.tensor(data, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
  return model;
}

/** Keras's "Total params": every weight, trainable or not. */
export function countParams(model) {
  return model.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
}

/** The model's save-to-memory artifacts as the files `importModel` reads: model.json + one weights shard. */
export async function tfjsFiles(model) {
  let artifacts;
  await model.save(tf.io.withSaveHandler(async (a) => { artifacts = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } }; }));
  const data = Array.isArray(artifacts.weightData) ? concatBuffers(artifacts.weightData) : new Uint8Array(artifacts.weightData);
  const json = { modelTopology: artifacts.modelTopology, format: "layers-model", generatedBy: "kiln-bench", convertedBy: null, weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }] };
  // The training config (loss, optimizer) as tfjs writes it with includeOptimizer, without the optimizer's weights.
  if (model.optimizer) json.trainingConfig = model.getTrainingConfig();
  return { "model.json": JSON.stringify(json), "weights.bin": data };
}

function concatBuffers(buffers) {
  const out = new Uint8Array(buffers.reduce((s, b) => s + b.byteLength, 0));
  let at = 0;
  for (const b of buffers) { out.set(new Uint8Array(b), at); at += b.byteLength; }
  return out;
}
