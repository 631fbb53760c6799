/** A small GPT (pre-LN blocks, causal self-attention, GELU MLP) for the decode and generate tests. */
export interface GptConfig { vocab: number; context: number; width: number; heads: number; blocks: number; seed?: number }

export function gptGraph({ vocab, context, width, heads, blocks, seed = 7 }: GptConfig): unknown {
  const layers: unknown[] = [
    { name: "tok", op: "embedding", input_dim: vocab, output_dim: width },
    { name: "pos", op: "position_embedding", sequence_length: context, inputs: ["tok"] },
    { name: "x0", op: "add", inputs: ["tok", "pos"] },
  ];
  let x = "x0";
  for (let b = 0; b < blocks; b++) {
    layers.push(
      { name: `b${b}_ln1`, op: "layer_normalization", inputs: [x] },
      { name: `b${b}_att`, op: "multi_head_attention", num_heads: heads, key_dim: width / heads, causal: true, inputs: [`b${b}_ln1`] },
      { name: `b${b}_res1`, op: "add", inputs: [x, `b${b}_att`] },
      { name: `b${b}_ln2`, op: "layer_normalization", inputs: [`b${b}_res1`] },
      { name: `b${b}_up`, op: "dense", units: 2 * width, activation: "gelu", inputs: [`b${b}_ln2`] },
      { name: `b${b}_drop`, op: "dropout", rate: 0.1, inputs: [`b${b}_up`] },
      { name: `b${b}_down`, op: "dense", units: width, inputs: [`b${b}_drop`] },
      { name: `b${b}_res2`, op: "add", inputs: [`b${b}_res1`, `b${b}_down`] },
    );
    x = `b${b}_res2`;
  }
  layers.push({ name: "ln_f", op: "layer_normalization", inputs: [x] }, { name: "logits", op: "dense", units: vocab, inputs: ["ln_f"] });
  return {
    format: "kiln.graph/v2", name: "tiny_gpt", seed,
    inputs: [{ name: "tokens", shape: [context], dtype: "int32" }],
    layers, outputs: ["logits"],
  };
}

/** Deterministic token ids in [0, vocab). */
export function tokens(count: number, vocab: number, seed: number): Int32Array {
  let s = seed >>> 0;
  return Int32Array.from({ length: count }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) % vocab);
}

/** FNV-1a of the module's memory: a refused call must leave it as it was. */
export function memoryHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 16777619);
  return h >>> 0;
}
