/**
 * Stage 4: shape inference. Visits layers in topological order; for each checks arity and dtypes,
 * lets its OpDef normalize the attributes, infer the output shape and declare weights, and keeps a
 * running total of weight and activation bytes at batch 1 so a graph that cannot fit WebAssembly's
 * 4 GiB memory is rejected at the layer that tips it over. Layers fed by a broken layer are skipped.
 */
import type { DiagnosticBag } from "./diagnostics.js";
import type { Attrs, DType, Layer, ValueInfo, WeightSpec } from "./graph-types.js";
import { OPS } from "./ops/index.js";
import type { AxisCounting, OpContext, OpDef } from "./ops/op.js";
import { axisCounting } from "./format.js";
import { checkedProduct } from "./ops/attrs.js";
import { LAYER_KEYS, type RawGraph, type RawLayer } from "./raw-graph.js";

/** WebAssembly (32-bit) linear memory. */
export const WASM_MEMORY_BYTES = 4 * 1024 ** 3;
const F32 = 4;

interface Value { shape: number[]; dtype: DType }

export function inferLayers(
  raw: RawGraph, order: number[], resolved: (string[] | undefined)[], inputs: ValueInfo[], bag: DiagnosticBag,
): Layer[] {
  const values = new Map<string, Value>();
  const budget = { bytes: 0, reported: false };
  inputs.forEach((v, i) => {
    const elements = checkedProduct(v.shape);
    charge(budget, elements, `/inputs/${i}/shape`, `input "${v.name}"`, undefined, bag);
    if (Number.isFinite(elements)) values.set(v.name, v); // layers fed by an impossible input are skipped
  });
  const layers: Layer[] = [];
  for (const i of order) {
    const ins = resolved[i];
    const vals = ins?.map((n) => values.get(n));
    if (!ins || !vals || vals.some((v) => v === undefined)) continue; // reported upstream
    const layer = inferLayer(raw.layers[i], `/layers/${i}`, ins, vals as Value[], bag, axisCounting(raw.format));
    if (!layer) continue;
    const elements = checkedProduct(layer.shape) + layer.weights.reduce((n, w) => n + checkedProduct(w.shape), 0);
    charge(budget, elements, layer.path, `layer "${layer.name}"`, layer.name, bag);
    values.set(layer.name, layer);
    layers.push(layer);
  }
  return layers;
}

function inferLayer(raw: RawLayer, path: string, ins: string[], vals: Value[], bag: DiagnosticBag, counting: AxisCounting): Layer | undefined {
  const op = OPS[raw.op];
  const ctx = context(raw, path, ins, vals, bag, counting);
  if (!checkArity(op, raw, ins, ctx) || !checkDtypes(op, ins, vals, ctx)) return undefined;
  const shapes = vals.map((v) => v.shape);
  const attrs = op.normalize(rawAttrs(raw), ctx);
  const shape = attrs && op.shape(shapes, attrs, ctx);
  if (!attrs || !shape || !checkShape(shape, "output", ctx)) return undefined;
  const trainable = raw.trainable ?? true;
  const weights: WeightSpec[] = [];
  for (const w of op.weights(shapes, attrs)) {
    if (!checkShape(w.shape, `weight "${w.name}"`, ctx)) return undefined;
    weights.push({ name: w.name, fullName: `${raw.name}/${w.name}`, shape: w.shape, trainable: trainable && w.trainable !== false, initializer: w.initializer });
  }
  const layer: Layer = { name: raw.name, op: raw.op, path, inputs: [...ins], attrs, trainable, shape, dtype: "float32", weights };
  if (typeof raw.keras_name === "string") layer.kerasName = raw.keras_name;
  return layer;
}

function context(raw: RawLayer, path: string, ins: string[], vals: Value[], bag: DiagnosticBag, axisCounting: AxisCounting): OpContext {
  return {
    layer: raw.name,
    path,
    inputShapes: vals.map((v) => v.shape),
    inputNames: ins,
    axisCounting,
    error(message, attr, code = "shape") {
      // "inputs" may be implicit (default previous layer): then point at the layer itself.
      const at = attr === undefined || (attr === "inputs" && !raw.inputs) ? path : `${path}/${attr}`;
      bag.add(code, at, message, raw.name);
    },
  };
}

function rawAttrs(raw: RawLayer): Attrs {
  const attrs: Attrs = {};
  for (const [k, v] of Object.entries(raw)) if (!LAYER_KEYS.has(k)) attrs[k] = v;
  return attrs;
}

function checkArity(op: OpDef, raw: RawLayer, ins: string[], ctx: OpContext): boolean {
  const n = ins.length;
  if (n >= op.minInputs && n <= op.maxInputs) return true;
  const want = op.minInputs === op.maxInputs ? `exactly ${op.minInputs}`
    : op.maxInputs === Infinity ? `at least ${op.minInputs}` : `${op.minInputs} to ${op.maxInputs}`;
  const implicit = raw.inputs ? "" : " (no \"inputs\" given, so it takes the previous layer)";
  ctx.error(`${op.name} takes ${want} input${op.maxInputs === 1 ? "" : "s"}; got ${n} (${ins.map((s) => `"${s}"`).join(", ")})${implicit}`, "inputs", "arity");
  return false;
}

function checkDtypes(op: OpDef, ins: string[], vals: Value[], ctx: OpContext): boolean {
  const want = op.inputDtype ?? "float32";
  const bad = vals.findIndex((v) => v.dtype !== want);
  if (bad < 0) return true;
  const msg = want === "int32"
    ? `${op.name} needs int32 token ids; input "${ins[bad]}" is ${vals[bad].dtype}`
    : `${op.name} needs float32 inputs; "${ins[bad]}" is int32 (int32 inputs can feed only embedding layers, or be targets)`;
  ctx.error(msg, "inputs", "dtype");
  return false;
}

/** Every dimension a positive safe integer and the element count safe. */
function checkShape(shape: number[], what: string, ctx: OpContext): boolean {
  if (shape.every((d) => Number.isSafeInteger(d) && d >= 1) && Number.isFinite(checkedProduct(shape))) return true;
  const dims = shape.map((d) => (Number.isFinite(d) ? d : "overflow"));
  ctx.error(`the ${what} shape [${dims.join(", ")}] has too many elements (more than 2^53)`, undefined, "limit");
  return false;
}

function charge(budget: { bytes: number; reported: boolean }, elements: number, path: string, what: string, layer: string | undefined, bag: DiagnosticBag): void {
  if (budget.reported) return;
  budget.bytes += elements * F32;
  if (budget.bytes <= WASM_MEMORY_BYTES) return;
  budget.reported = true;
  const size = Number.isFinite(budget.bytes) ? `${(budget.bytes / 1024 ** 3).toPrecision(3)} GiB` : "more than 2^53 bytes";
  bag.add("memory", path, `weights and activations at batch 1 reach ${size} with ${what}; WebAssembly memory holds at most 4 GiB`, layer);
}
