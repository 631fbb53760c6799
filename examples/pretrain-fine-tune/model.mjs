/**
 * The GPT graphs of the example, built from a small config so the quick mode and the full run
 * share one definition. Pre-layer-norm decoder blocks (as GPT-2): x + MHA(LN(x)), then
 * x + MLP(LN(x)) with a GELU hidden layer 4× wide; a final layer norm; an untied output
 * projection (kiln has no weight tying between layers, so the output matrix is its own weight).
 *
 * Layer names are shared between the language model and the classifier: the classifier is the
 * language model cut after its final layer norm, so its weights load from the pretrained file by
 * name (`tok/embeddings`, `b0_att/query/kernel`, …).
 */

/** Layers of the backbone: embeddings, `layers` pre-LN blocks and the final layer norm. */
export function backboneLayers({ vocab, context, width, layers, heads, trainable = true }) {
  const frozen = trainable ? {} : { trainable: false };
  const out = [
    { name: "tok", op: "embedding", input_dim: vocab, output_dim: width, ...frozen },
    { name: "pos", op: "position_embedding", sequence_length: context, inputs: ["tok"], ...frozen },
    { name: "x0", op: "add", inputs: ["tok", "pos"] },
  ];
  let x = "x0";
  for (let b = 0; b < layers; b++) {
    const p = `b${b}_`;
    out.push(
      { name: `${p}ln1`, op: "layer_normalization", epsilon: 1e-5, inputs: [x], ...frozen },
      { name: `${p}att`, op: "multi_head_attention", num_heads: heads, key_dim: width / heads, causal: true, inputs: [`${p}ln1`], ...frozen },
      { name: `${p}res1`, op: "add", inputs: [x, `${p}att`] },
      { name: `${p}ln2`, op: "layer_normalization", epsilon: 1e-5, inputs: [`${p}res1`], ...frozen },
      { name: `${p}up`, op: "dense", units: 4 * width, activation: "gelu", inputs: [`${p}ln2`], ...frozen },
      { name: `${p}down`, op: "dense", units: width, inputs: [`${p}up`], ...frozen },
      { name: `${p}res2`, op: "add", inputs: [`${p}res1`, `${p}down`] },
    );
    x = `${p}res2`;
  }
  out.push({ name: "ln_f", op: "layer_normalization", epsilon: 1e-5, inputs: [x], ...frozen });
  return out;
}

/**
 * AdamW with global-norm clipping. `learningRate` is a number (constant) or an in-module schedule
 * object (spec §4), e.g. from `warmupCosine`.
 */
const optimizer = (learningRate) => ({ type: "adamw", learning_rate: learningRate, weight_decay: 0.01, global_clipnorm: 1.0 });

/**
 * Linear warmup from peak/10 to `peak` over `warmupSteps`, then a cosine decay to `peak`/10 at
 * `totalSteps` (Keras `cosine_decay` with `warmup_target`, computed inside the module per step).
 */
export const warmupCosine = (peak, warmupSteps, totalSteps) => ({
  schedule: "cosine_decay", initial_learning_rate: peak / 10, warmup_target: peak, warmup_steps: warmupSteps,
  decay_steps: Math.max(1, totalSteps - warmupSteps), alpha: 0.1,
});

/** The language model: tokens [T] → logits [T, vocab], next-token cross-entropy. */
export function lmGraph(config, { seed = 1, learningRate = 1e-3 } = {}) {
  return {
    format: "kiln.graph/v2", name: "gpt_lm", seed,
    inputs: [{ name: "tokens", shape: [config.context], dtype: "int32" }],
    targets: [{ name: "next", shape: [config.context], dtype: "int32" }],
    layers: [...backboneLayers(config), { name: "logits", op: "dense", units: config.vocab, inputs: ["ln_f"] }],
    outputs: ["logits"],
    training: {
      loss: { type: "sparse_categorical_crossentropy", output: "logits", target: "next", from_logits: true },
      optimizer: optimizer(learningRate),
    },
  };
}

/**
 * The classifier: the backbone, mean pooling over the positions (reshape to [T, 1, D] and
 * global average pooling, kiln having no 1-D pooling) and a 2-way dense head. `frozen` marks
 * every backbone layer `trainable: false` (features + head only). `length` (≤ the context) is
 * how many tokens of each email it reads; the position table keeps the pretrained size.
 */
export function classifierGraph(config, { seed = 1, learningRate = 3e-4, frozen = false, length = config.context } = {}) {
  return {
    format: "kiln.graph/v2", name: "gpt_spam", seed,
    inputs: [{ name: "tokens", shape: [length], dtype: "int32" }],
    targets: [{ name: "label", shape: [], dtype: "int32" }],
    layers: [
      ...backboneLayers({ ...config, trainable: !frozen }),
      { name: "pool_in", op: "reshape", target_shape: [length, 1, config.width], inputs: ["ln_f"] },
      { name: "pool", op: "global_average_pooling2d", inputs: ["pool_in"] },
      { name: "head", op: "dense", units: 2, inputs: ["pool"] },
    ],
    outputs: ["head"],
    training: {
      loss: { type: "sparse_categorical_crossentropy", output: "head", target: "label", from_logits: true },
      optimizer: optimizer(learningRate),
      metrics: ["accuracy"],
    },
  };
}

/** Parameter count of a graph's trainable and frozen weights, from a loaded model's manifest. */
export const parameterCount = (model) => model.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
