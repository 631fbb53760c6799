/**
 * EfficientNet-style and preprocessing models built with the TF.js layers API for the import
 * tests. Keras 3's EfficientNet (keras/src/applications/efficientnet.py) starts with
 * Rescaling(1/255), an adapted Normalization and (ImageNet weights) a per-channel Rescaling by
 * 1/√stddev; its MBConv blocks are expand 1×1 conv, (ZeroPadding2D with correct_pad and) a
 * depthwise conv, batch normalization and swish, squeeze-and-excitation (GlobalAveragePooling2D,
 * Reshape to [1, 1, C], two 1×1 convs, Multiply broadcasting [H, W, C] by [1, 1, C]), a 1×1
 * projection, and Dropout(noise_shape=(None, 1, 1, 1)) before the residual Add.
 *
 * tfjs-layers has no Normalization layer: `KerasNormalization` is one written here from Keras 3's
 * normalization.py (axis -1, adapted weights mean, variance and count; (x − mean) /
 * max(√variance, 1e-7)) and registered under Keras's class name, so TF.js saves it in model.json
 * and predicts with it. Everything else in these models is tfjs-layers' own.
 */
import * as tf from "@tensorflow/tfjs";

type SymbolicTensor = tf.SymbolicTensor;

export class KerasNormalization extends tf.layers.Layer {
  static className = "Normalization";
  private mean?: tf.LayerVariable;
  private variance?: tf.LayerVariable;
  private readonly invert: boolean;

  constructor(args: { name?: string; invert?: boolean } = {}) {
    super(args);
    this.invert = args.invert ?? false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const c = (inputShape as tf.Shape).at(-1) as number;
    this.mean = this.addWeight("mean", [c], "float32", tf.initializers.zeros(), undefined, false);
    this.variance = this.addWeight("variance", [c], "float32", tf.initializers.ones(), undefined, false);
    // Keras keeps adapt()'s sample count as a third weight "for backwards compatibility" (unused by call).
    this.addWeight("count", [], "float32", tf.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const spread = tf.maximum(tf.sqrt(this.variance!.read()), 1e-7);
      return this.invert ? tf.add(this.mean!.read(), tf.mul(x, spread)) : tf.div(tf.sub(x, this.mean!.read()), spread);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: [-1], mean: null, variance: null, invert: this.invert };
  }
}
tf.serialization.registerClass(KerasNormalization);

/** Keras's imagenet_utils.correct_pad for a square input of `size` (channels last): ((top, bottom), (left, right)). */
export function correctPad(size: number, k: number): [[number, number], [number, number]] {
  const adjust = 1 - (size % 2), correct = Math.floor(k / 2);
  return [[correct - adjust, correct], [correct - adjust, correct]];
}

const apply = (layer: tf.layers.Layer, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;

interface Block { name: string; inF: number; outF: number; expand: number; k: number; stride: number; drop: number }

/** One MBConv block as Keras 3's efficientnet.block writes it (se_ratio 0.25, swish). */
function mbconv(x: SymbolicTensor, b: Block): SymbolicTensor {
  const inputs = x;
  const filters = b.inF * b.expand;
  if (b.expand !== 1) {
    x = apply(tf.layers.conv2d({ filters, kernelSize: 1, padding: "same", useBias: false, name: `${b.name}expand_conv` }), x);
    x = apply(tf.layers.batchNormalization({ name: `${b.name}expand_bn` }), x);
    x = apply(tf.layers.activation({ activation: "swish", name: `${b.name}expand_activation` }), x);
  }
  if (b.stride === 2) x = apply(tf.layers.zeroPadding2d({ padding: correctPad(x.shape[1] as number, b.k), name: `${b.name}dwconv_pad` }), x);
  x = apply(tf.layers.depthwiseConv2d({ kernelSize: b.k, strides: b.stride, padding: b.stride === 2 ? "valid" : "same", useBias: false, name: `${b.name}dwconv` }), x);
  x = apply(tf.layers.batchNormalization({ name: `${b.name}bn` }), x);
  x = apply(tf.layers.activation({ activation: "swish", name: `${b.name}activation` }), x);
  // Squeeze and excitation.
  const filtersSe = Math.max(1, Math.floor(b.inF * 0.25));
  let se = apply(tf.layers.globalAveragePooling2d({ name: `${b.name}se_squeeze` }), x);
  se = apply(tf.layers.reshape({ targetShape: [1, 1, filters], name: `${b.name}se_reshape` }), se);
  se = apply(tf.layers.conv2d({ filters: filtersSe, kernelSize: 1, padding: "same", activation: "swish", name: `${b.name}se_reduce` }), se);
  se = apply(tf.layers.conv2d({ filters, kernelSize: 1, padding: "same", activation: "sigmoid", name: `${b.name}se_expand` }), se);
  x = apply(tf.layers.multiply({ name: `${b.name}se_excite` }), [x, se]);
  x = apply(tf.layers.conv2d({ filters: b.outF, kernelSize: 1, padding: "same", useBias: false, name: `${b.name}project_conv` }), x);
  x = apply(tf.layers.batchNormalization({ name: `${b.name}project_bn` }), x);
  if (b.stride === 1 && b.inF === b.outF) {
    if (b.drop > 0) x = apply(tf.layers.dropout({ rate: b.drop, noiseShape: [null, 1, 1, 1] as unknown as number[], name: `${b.name}drop` }), x);
    x = apply(tf.layers.add({ name: `${b.name}add` }), [x, inputs]);
  }
  return x;
}

/** The ImageNet standard deviations Keras's EfficientNet divides by a second time (its note on issue 49930). */
export const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

/** One stage of Keras's blocks_args: kernel, repeats, filters in and out, expand ratio, first stride. */
export interface Stage { k: number; repeats: number; inF: number; outF: number; expand: number; stride: number }

/** Keras 3's EfficientNetB0 stages (DEFAULT_BLOCKS_ARGS, width and depth coefficients 1). */
export const B0_STAGES: Stage[] = [
  { k: 3, repeats: 1, inF: 32, outF: 16, expand: 1, stride: 1 }, { k: 3, repeats: 2, inF: 16, outF: 24, expand: 6, stride: 2 },
  { k: 5, repeats: 2, inF: 24, outF: 40, expand: 6, stride: 2 }, { k: 3, repeats: 3, inF: 40, outF: 80, expand: 6, stride: 2 },
  { k: 5, repeats: 3, inF: 80, outF: 112, expand: 6, stride: 1 }, { k: 5, repeats: 4, inF: 112, outF: 192, expand: 6, stride: 2 },
  { k: 3, repeats: 1, inF: 192, outF: 320, expand: 6, stride: 1 },
];

/**
 * Keras 3's EfficientNet as efficientnet.py builds it (ImageNet-style preprocessing: Rescaling
 * 1/255, adapted Normalization, per-channel Rescaling by 1/√stddev), on `size`×`size`×3 images,
 * with `stages`, stem and top widths given, drop_connect_rate 0.2 spread over the blocks.
 */
export function efficientNet(size: number, stem: number, stages: Stage[], top: number, classes: number, name: string): tf.LayersModel {
  const img = tf.input({ shape: [size, size, 3], name: "input_layer" });
  let x = apply(tf.layers.rescaling({ scale: 1 / 255, name: "rescaling" }), img);
  x = apply(new KerasNormalization({ name: "normalization" }), x);
  const perChannel = IMAGENET_STDDEV_RGB.map((s) => 1 / Math.sqrt(s));
  x = apply(tf.layers.rescaling({ scale: perChannel as unknown as number, name: "rescaling_1" }), x);
  x = apply(tf.layers.zeroPadding2d({ padding: correctPad(size, 3), name: "stem_conv_pad" }), x);
  x = apply(tf.layers.conv2d({ filters: stem, kernelSize: 3, strides: 2, padding: "valid", useBias: false, name: "stem_conv" }), x);
  x = apply(tf.layers.batchNormalization({ name: "stem_bn" }), x);
  x = apply(tf.layers.activation({ activation: "swish", name: "stem_activation" }), x);
  const blocks = stages.reduce((n, s) => n + s.repeats, 0);
  let b = 0;
  stages.forEach((s, i) => {
    for (let j = 0; j < s.repeats; j++, b++) {
      x = mbconv(x, {
        name: `block${i + 1}${String.fromCharCode(97 + j)}_`, inF: j === 0 ? s.inF : s.outF, outF: s.outF, expand: s.expand, k: s.k,
        stride: j === 0 ? s.stride : 1, drop: (0.2 * b) / blocks,
      });
    }
  });
  x = apply(tf.layers.conv2d({ filters: top, kernelSize: 1, padding: "same", useBias: false, name: "top_conv" }), x);
  x = apply(tf.layers.batchNormalization({ name: "top_bn" }), x);
  x = apply(tf.layers.activation({ activation: "swish", name: "top_activation" }), x);
  x = apply(tf.layers.globalAveragePooling2d({ name: "avg_pool" }), x);
  x = apply(tf.layers.dropout({ rate: 0.2, name: "top_dropout" }), x);
  const out = apply(tf.layers.dense({ units: classes, activation: "softmax", name: "predictions" }), x);
  return tf.model({ inputs: img, outputs: out, name });
}

/**
 * A small EfficientNet-style model (16×16×3 images in 0–255): Keras 3's stem with its
 * preprocessing, three MBConv blocks (block1a: expand 1, stride 1; block2a: expand 6, kernel 5,
 * stride 2 after correct_pad; block2b: the residual with its noise-shaped Dropout) and Keras's top.
 */
export function efficientNetStyle(): tf.LayersModel {
  return efficientNet(16, 8, [
    { k: 3, repeats: 1, inF: 8, outF: 4, expand: 1, stride: 1 },
    { k: 5, repeats: 2, inF: 4, outF: 8, expand: 6, stride: 2 },
  ], 16, 5, "efficientnet_style");
}

/** Rescaling (per channel) → Conv2D → Normalization (adapted) → Rescaling (a number and an offset) → Flatten → Dense: trainable around the preprocessing layers. */
export function preprocessingCnn(withNormalization: boolean): tf.LayersModel {
  const img = tf.input({ shape: [5, 5, 3], name: "img" });
  let x = apply(tf.layers.rescaling({ scale: [0.5, -1.5, 2] as unknown as number, offset: [0.25, 0, -0.5] as unknown as number, name: "rgb" }), img);
  x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "tanh", name: "conv" }), x);
  if (withNormalization) x = apply(new KerasNormalization({ name: "norm" }), x);
  x = apply(tf.layers.rescaling({ scale: 1 / 127.5, offset: -1, name: "shift" }), x);
  x = apply(tf.layers.flatten({ name: "flat" }), x);
  const out = apply(tf.layers.dense({ units: 3, name: "out" }), x);
  return tf.model({ inputs: img, outputs: out, name: "preprocessing_cnn" });
}

/** Seeded weights as randomizeTf gives them, with every Normalization variance made positive (0.5–1.5). */
export function positiveVariances(model: tf.LayersModel, seed: number): void {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const layer of model.layers) {
    if (!(layer instanceof KerasNormalization)) continue;
    const [mean, variance, count] = layer.getWeights();
    layer.setWeights([mean!, tf.tensor(Array.from({ length: variance!.size }, () => 0.5 + next()), variance!.shape), count!]);
  }
}
