/**
 * The `decode` program (CompileOptions.decode, spec §7 "Generation"): the graph run for ONE new
 * position per example, against key/value caches that keep every earlier position's keys and
 * values. A language model [T] int32 tokens → [T, …] outputs then costs one position per call
 * instead of the whole sequence again.
 *
 * The position axis is axis 1 of every tensor (the first per-example axis): the graph's one input
 * is int32 [T] and every layer's output is [T, …]. Each layer is lowered by its own op on
 * per-example shapes with that axis 1 long, which is exact for layers that work position by
 * position (embedding, dense, layer normalization, merges, activations, dropout, a softmax on
 * another axis); the two layers that see positions get a decode lowering of their own:
 *  - position_embedding: the row of each example's position (a gather by the position input);
 *  - multi_head_attention (causal self-attention only): this position's query, key and value; the
 *    key and value appended to the layer's caches at the position, and attention over cached
 *    positions 0..p (`cached_attention`): the causal mask is the position itself.
 * Any other layer is refused, naming it. The position (i32 per example) is an input the runtime
 * writes; the caches are tensors of kind "cache" that persist between calls.
 */
import type { Graph, Layer } from "../../frontend/graph-types.js";
import { DiagnosticBag } from "../../frontend/diagnostics.js";
import { numel, type Program, type Tensor } from "../../ir/ir.js";
import { OPS } from "../../frontend/ops/index.js";
import { Builder } from "./builder.js";
import { materializeOutput, type Lowered } from "./index.js";
import { checkNodeLimit } from "../../limits.js";

/** What the decode program reads and writes, for the manifest. */
export interface DecodeProgram {
  program: Program;
  /** Positions the caches hold: the graph input's length T. */
  context: number;
  /** One per graph input: [1] per example. */
  inputs: Tensor[];
  /** i32 [1] per example: the position of the token in `inputs`. */
  position: Tensor;
  /** One per graph output: the output at that position, [1, …] per example. */
  outputs: Tensor[];
  caches: { layer: string; key: Tensor; value: Tensor }[];
}

/** Ops exact position by position (their lowering sees one position as a sequence of length 1). */
const PER_POSITION = new Set(["embedding", "dense", "layer_normalization", "add", "subtract", "multiply", "average", "maximum", "minimum", "activation", "dropout", "softmax"]);
/** Ops with a decode lowering of their own (below). */
const POSITIONAL = new Set(["position_embedding", "multi_head_attention"]);

/** Refuses a graph the decode program cannot run, with every reason at once. */
export function checkDecodable(graph: Graph): number {
  const bag = new DiagnosticBag();
  const input = graph.inputs[0];
  if (graph.inputs.length !== 1 || !input || input.dtype !== "int32" || input.shape.length !== 1) {
    const got = graph.inputs.map((v) => `${v.dtype} [${v.shape.join(", ")}]`).join(", ");
    bag.add("decode", "/inputs", `a decode program needs exactly one input of int32 token ids [T] (T = the context); got ${got || "none"}`);
    bag.throwIfAny();
  }
  const T = input!.shape[0]!;
  for (const layer of graph.layers) {
    const where = `${layer.path}`;
    if (!PER_POSITION.has(layer.op) && !POSITIONAL.has(layer.op)) {
      bag.add("decode", where, `layer "${layer.name}" (${layer.op}) has no decode lowering: a decode program supports ${[...PER_POSITION, ...POSITIONAL].join(", ")}`, layer.name);
    } else if (layer.shape.length < 2 || layer.shape[0] !== T) {
      bag.add("decode", where, `layer "${layer.name}" has shape [${layer.shape.join(", ")}]; a decode program needs [${T}, …] (positions first) for every layer`, layer.name);
    } else if (layer.op === "softmax" && (layer.attrs as { axis: number }).axis === 0) {
      bag.add("decode", `${where}/axis`, `layer "${layer.name}" normalizes over the positions; a decode program sees one position at a time`, layer.name);
    } else if (layer.op === "multi_head_attention") {
      const a = layer.attrs as { causal: boolean };
      if (!a.causal) bag.add("decode", `${where}/causal`, `layer "${layer.name}" must be causal (causal: true) for a decode program: a new token may attend only to earlier ones`, layer.name);
      if (new Set(layer.inputs).size !== 1) bag.add("decode", `${where}/inputs`, `layer "${layer.name}" must be self-attention (query, value and key the same tensor) for a decode program; got ${layer.inputs.map((n) => `"${n}"`).join(", ")}`, layer.name);
    }
  }
  bag.throwIfAny();
  return T;
}

/** Lowers the decode program into `lw.mod` (after predict; shares its weights). */
export function lowerDecode(lw: Lowered): DecodeProgram {
  const { mod, graph } = lw;
  const context = checkDecodable(graph);
  const program: Program = { name: "decode", nodes: [] };
  mod.programs.push(program);
  const inputs = graph.inputs.map((v) => mod.tensor({ shape: [1], batched: true, dtype: "i32", kind: "input", name: v.name }));
  const position = mod.tensor({ shape: [1], batched: true, dtype: "i32", kind: "input", name: "position" });
  const decode: DecodeProgram = { program, context, inputs, position, outputs: [], caches: [] };
  const b = new Builder(mod, program, "infer", graph, lw.weights, { rng: lw.state, dropoutStreams: 0 }, decode);
  graph.inputs.forEach((v, i) => b.values.set(v.name, inputs[i]!));
  for (const layer of graph.layers) {
    b.values.set(layer.name, lowerOnePosition(b, layer));
    checkNodeLimit(mod, "lower");
  }
  decode.outputs = graph.outputs.map((name) => materializeOutput(lw, program, b.values.get(name)!, name));
  return decode;
}

function lowerOnePosition(b: Builder, layer: Layer): Tensor {
  b.layer = layer.name;
  const shape = [1, ...layer.shape.slice(1)];
  const one: Layer = { ...layer, shape };
  const y = OPS[layer.op].lower(b, one, layer.inputs.map((n) => b.values.get(n)!));
  if (numel(y.shape) !== numel(shape)) throw new Error(`internal: decode: ${layer.name} lowered to ${y.shape} but one position is ${shape}`);
  return y.shape.join() === shape.join() ? y : b.alias(y, shape);
}
