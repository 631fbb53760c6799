/** TF.js models the import and export tests build: together they use every Keras class kiln maps that TF.js has. */
import * as tf from "@tensorflow/tfjs";

/** Sequential CNN: Conv2D (valid/same, strides, dilation — 1 where TF.js must take gradients, which it cannot through a dilated conv — activations), BatchNormalization, pools, Activation/ReLU/LeakyReLU/ELU/Softmax layers, Reshape, Dropout, Flatten, Dense. */
export function cnn({ dilationRate = 2 }: { dilationRate?: number } = {}): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [9, 9, 3], filters: 4, kernelSize: 3, padding: "same", activation: "relu" }));
  m.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 0.01 }));
  m.add(tf.layers.conv2d({ filters: 5, kernelSize: [2, 3], strides: 2, activation: "elu" }));
  m.add(tf.layers.reLU());
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: "same" }));
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, dilationRate, padding: "same", useBias: false }));
  m.add(tf.layers.leakyReLU({ alpha: 0.2 }));
  m.add(tf.layers.averagePooling2d({ poolSize: 2 }));
  m.add(tf.layers.elu());
  m.add(tf.layers.activation({ activation: "softplus" }));
  m.add(tf.layers.reshape({ targetShape: [2, 6] }));
  m.add(tf.layers.dropout({ rate: 0.25 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 6, activation: "swish" }));
  m.add(tf.layers.dense({ units: 4 }));
  m.add(tf.layers.softmax());
  return m;
}

/** Functional: two vector inputs and an image, merges, LayerNormalization, global pools, a nested Sequential, every Dense activation TF.js and kiln share. */
export function functional(): tf.LayersModel {
  const a = tf.input({ shape: [6], name: "a" });
  const b = tf.input({ shape: [6], name: "b" });
  const img = tf.input({ shape: [5, 5, 2], name: "img" });
  const acts = ["relu", "sigmoid", "tanh", "linear", "elu", "softplus", "gelu"] as const;
  const branches = acts.map((act) => tf.layers.dense({ units: 4, activation: act }).apply(a) as tf.SymbolicTensor);
  const fromB = tf.layers.dense({ units: 4, activation: "swish" }).apply(b) as tf.SymbolicTensor;
  const merged = [
    tf.layers.add().apply([branches[0]!, branches[1]!, fromB]),
    tf.layers.multiply().apply([branches[2]!, branches[3]!]),
    tf.layers.average().apply([branches[4]!, fromB]),
    tf.layers.maximum().apply([branches[5]!, branches[6]!]),
    tf.layers.minimum().apply([branches[0]!, fromB]),
  ] as tf.SymbolicTensor[];
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: "tanh" }).apply(img) as tf.SymbolicTensor;
  const pooled = [tf.layers.globalMaxPooling2d({}).apply(conv), tf.layers.globalAveragePooling2d({}).apply(conv)] as tf.SymbolicTensor[];
  const inner = tf.sequential({ name: "inner", layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "relu" }), tf.layers.dense({ units: 4 })] });
  const nested = inner.apply(merged[1]!) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ axis: -1 }).apply([...merged, ...pooled, nested]) as tf.SymbolicTensor;
  const norm = tf.layers.layerNormalization({ epsilon: 1e-3 }).apply(cat) as tf.SymbolicTensor;
  const out1 = tf.layers.dense({ units: 3, activation: "softmax", name: "probs" }).apply(norm) as tf.SymbolicTensor;
  const out2 = tf.layers.dense({ units: 2, name: "value" }).apply(cat) as tf.SymbolicTensor;
  return tf.model({ inputs: [a, b, img], outputs: [out1, out2] });
}

/** Sequences: Embedding (float input ids, as Keras casts them), SimpleRNN with sequences, LSTM (sigmoid gates), Dense. */
export function sequence(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputShape: [7], inputDim: 11, outputDim: 5 }));
  m.add(tf.layers.simpleRNN({ units: 6, returnSequences: true, activation: "relu" }));
  m.add(tf.layers.lstm({ units: 4, recurrentActivation: "sigmoid", returnSequences: true }));
  m.add(tf.layers.lstm({ units: 3, recurrentActivation: "sigmoid" }));
  m.add(tf.layers.dense({ units: 2, activation: "sigmoid" }));
  return m;
}


/** Sequence and image shape layers: Conv1D (valid; same with dilation — 1 where TF.js must take gradients, which it cannot through a dilated conv; TF.js's causal differs from Keras, see tfjs-import.test.ts), 1-D pools and global pools, Permute, ZeroPadding2D, UpSampling2D, Cropping2D, RepeatVector. */
export function spatial({ dilationRate = 2 }: { dilationRate?: number } = {}): tf.LayersModel {
  const seq = tf.input({ shape: [10, 3], name: "seq" });
  const img = tf.input({ shape: [5, 5, 2], name: "img" });
  let s = tf.layers.conv1d({ filters: 4, kernelSize: 3, activation: "relu" }).apply(seq) as tf.SymbolicTensor;
  s = tf.layers.maxPooling1d({ poolSize: 2 }).apply(s) as tf.SymbolicTensor;
  s = tf.layers.conv1d({ filters: 3, kernelSize: 2, padding: "same", dilationRate }).apply(s) as tf.SymbolicTensor;
  s = tf.layers.averagePooling1d({ poolSize: 2, strides: 1 }).apply(s) as tf.SymbolicTensor;
  const p = tf.layers.permute({ dims: [2, 1] }).apply(s) as tf.SymbolicTensor;
  const g1 = tf.layers.globalMaxPooling1d({}).apply(p) as tf.SymbolicTensor;
  const g2 = tf.layers.globalAveragePooling1d({}).apply(s) as tf.SymbolicTensor;
  let i = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }).apply(img) as tf.SymbolicTensor;
  i = tf.layers.upSampling2d({ size: [2, 1] }).apply(i) as tf.SymbolicTensor;
  i = tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]] }).apply(i) as tf.SymbolicTensor;
  i = tf.layers.conv2d({ filters: 2, kernelSize: 3 }).apply(i) as tf.SymbolicTensor;
  i = tf.layers.flatten().apply(i) as tf.SymbolicTensor;
  i = tf.layers.dense({ units: 3 }).apply(i) as tf.SymbolicTensor;
  i = tf.layers.repeatVector({ n: 2 }).apply(i) as tf.SymbolicTensor;
  i = tf.layers.flatten().apply(i) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate().apply([g1, g2, i]) as tf.SymbolicTensor;
  return tf.model({ inputs: [seq, img], outputs: tf.layers.dense({ units: 2, name: "out" }).apply(cat) as tf.SymbolicTensor });
}

/** Recurrent wrappers and directions: Bidirectional(LSTM) merged by sum, a GRU (TF.js: reset_after=false) going backwards, SimpleRNN in a concat Bidirectional. */
export function recurrentWrappers(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.bidirectional({ inputShape: [6, 3], layer: tf.layers.lstm({ units: 3, recurrentActivation: "sigmoid", returnSequences: true }) as tf.RNN, mergeMode: "sum" }));
  m.add(tf.layers.gru({ units: 4, recurrentActivation: "sigmoid", goBackwards: true, returnSequences: true }));
  m.add(tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 2 }) as tf.RNN, mergeMode: "concat" }));
  m.add(tf.layers.dense({ units: 2 }));
  return m;
}

/** Depthwise, separable and transposed convolutions (MobileNet-style blocks and a decoder): DepthwiseConv2D (depth_multiplier, strides, relu6), SeparableConv2D (dilation; depth_multiplier 1, see below), Conv2DTranspose (same/valid, strides). */
export function convolutions(forTraining = false): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.depthwiseConv2d({ inputShape: [8, 8, 3], kernelSize: 3, depthMultiplier: 2, strides: 2, padding: "same", activation: "relu6" }));
  m.add(tf.layers.depthwiseConv2d({ kernelSize: [2, 3], useBias: false }));
  // depth_multiplier 1: tfjs-layers 4.22's SeparableConv2D leaves depth_multiplier out of the config it saves.
  // forTraining: undilated, as TF.js has no gradient for a dilated depthwise convolution.
  m.add(tf.layers.separableConv2d({ filters: 4, kernelSize: 2, padding: "same", dilationRate: forTraining ? 1 : 2, activation: "tanh" }));
  m.add(tf.layers.separableConv2d({ filters: 3, kernelSize: 2, useBias: false }));
  m.add(tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: "same", activation: "relu" }));
  m.add(tf.layers.conv2dTranspose({ filters: 2, kernelSize: [2, 3], strides: [1, 2], useBias: false }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 3 }));
  return m;
}

/** Activation layers with arguments (ReLU max_value, ThresholdedReLU, LeakyReLU default and set, ELU, PReLU shared and not) and every activation name TF.js and kiln share. */
export function activationLayers(forTraining = false): tf.LayersModel {
  const img = tf.input({ shape: [4, 4, 2], name: "img" });
  const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor) => l.apply(x) as tf.SymbolicTensor;
  let x = apply(tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: "selu" }), img);
  x = apply(tf.layers.reLU({ maxValue: 0.8 }), x);
  x = apply(tf.layers.prelu({ sharedAxes: [1, 2] }), x);
  if (!forTraining) x = apply(tf.layers.thresholdedReLU({ theta: 0.1 }), x); // TF.js has no gradient for it
  x = apply(tf.layers.conv2d({ filters: 2, kernelSize: 2, activation: "mish" }), x);
  x = apply(tf.layers.leakyReLU({}), x); // TF.js's default alpha: 0.3
  x = apply(tf.layers.elu({}), x); // tfjs-layers 4.22 refuses any alpha but 1
  x = apply(tf.layers.prelu({}), x);
  x = apply(tf.layers.flatten(), x);
  const acts = ["relu6", "selu", "mish", "logSoftmax", "hardSigmoid", "swish", "gelu", "softplus"] as const;
  const branches = acts.map((activation) => apply(tf.layers.dense({ units: 3, activation: activation as "relu" }), x));
  let y = tf.layers.concatenate().apply(branches) as tf.SymbolicTensor;
  y = apply(tf.layers.leakyReLU({ alpha: 0.1 }), y);
  return tf.model({ inputs: img, outputs: apply(tf.layers.dense({ units: 2, name: "out" }), y) });
}

/** TimeDistributed(Dense), Dot (sequences along axes [2, 2]; vectors normalized, cosine), and the training-only noise layers TF.js has (SpatialDropout1D, GaussianNoise, GaussianDropout; left out with noise=false, for training tests). */
export function wrappersAndNoise(noise = true): tf.LayersModel {
  const seq = tf.input({ shape: [5, 4], name: "seq" });
  const vec = tf.input({ shape: [4], name: "vec" });
  const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;
  let s = apply(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, activation: "tanh" }) }), seq);
  if (noise) s = apply(tf.layers.gaussianNoise({ stddev: 0.3 }), apply(tf.layers.spatialDropout1d({ rate: 0.2 }), s));
  const other = apply(tf.layers.dense({ units: 3 }), seq);
  const scores = apply(tf.layers.dot({ axes: [2, 2] }), [s, other]); // [5, 5]
  const projected = apply(tf.layers.dense({ units: 4 }), vec);
  const v = noise ? apply(tf.layers.gaussianDropout({ rate: 0.3 }), projected) : projected;
  const cosine = apply(tf.layers.dot({ axes: 1, normalize: true }), [v, vec]); // [1]
  const flat = apply(tf.layers.flatten(), scores);
  const cat = apply(tf.layers.concatenate(), [flat, cosine]);
  return tf.model({ inputs: [seq, vec], outputs: apply(tf.layers.dense({ units: 2, name: "out" }), cat) });
}

/** BatchNormalization without beta (center false) and LayerNormalization without gamma (scale false): kiln's ops leave those weights out as Keras does. */
export function normalizations(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 2 }));
  // Predict only: tfjs-layers 4.22's training step fails on a BatchNormalization without beta and a LayerNormalization without gamma.
  m.add(tf.layers.batchNormalization({ center: false, momentum: 0.9 }));
  m.add(tf.layers.layerNormalization({ scale: false }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 2 }));
  return m;
}

/** A MobileNetV2 inverted-residual block as TF.js builds it: ZeroPadding2D, Conv2D, BatchNormalization, ReLU(max 6), DepthwiseConv2D (stride 2 and 1), a linear bottleneck and a residual Add. */
export function mobileNetBlock(): tf.LayersModel {
  const x = tf.input({ shape: [8, 8, 3], name: "image" });
  const apply = (l: tf.layers.Layer, t: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(t) as tf.SymbolicTensor;
  const bnRelu6 = (t: tf.SymbolicTensor) => apply(tf.layers.reLU({ maxValue: 6 }), apply(tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999 }), t));
  let h = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }), x);
  h = bnRelu6(apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, useBias: false }), h));
  h = bnRelu6(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", useBias: false }), h));
  const project = apply(tf.layers.batchNormalization({}), apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false }), h));
  const expand = bnRelu6(apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }), project));
  const dw = bnRelu6(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", useBias: false }), expand));
  const out = apply(tf.layers.batchNormalization({}), apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false }), dw));
  const pooled = apply(tf.layers.globalAveragePooling2d({}), apply(tf.layers.add(), [out, apply(tf.layers.averagePooling2d({ poolSize: 2 }), project)]));
  return tf.model({ inputs: x, outputs: apply(tf.layers.dense({ units: 3, activation: "softmax", name: "probs" }), pooled) });
}
