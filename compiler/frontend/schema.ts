/**
 * Builds the JSON Schema (draft 2020-12) of the graph format from the op registry, so the schema
 * and the ops can never disagree. schemas/graph.schema.json is this object written out (a test
 * keeps the file in sync). Layers and optimizers are discriminated with if/then chains on `op` /
 * `type`, so a wrong attribute is reported against the right op.
 */
import { OPS, OP_NAMES } from "./ops/index.js";
import type { JsonSchema } from "./ops/op.js";
import { MAX_DIM, MAX_RANK } from "./ops/attrs.js";
import { FORMATS, FORMAT_V1, FORMAT_V2 } from "./format.js";
import { OPTIMIZERS } from "../optimizers/index.js";
import { CLIP } from "../optimizers/attrs.js";
import { SCHEDULES, SCHEDULE_NAMES, type ScheduleName } from "../optimizers/schedules.js";
import { METRIC_DEFS, METRIC_TYPES, type MetricType } from "./metrics.js";

export const NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,63}$";
export const GRAPH_NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_]{0,63}$";
export { MAX_RANK };

export const LOSSES = [
  "mean_squared_error", "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
] as const;
export const METRICS = METRIC_TYPES;

const ref = (name: string) => ({ $ref: `#/$defs/${name}` });

/** `{ if: {key: const}, then: $ref }` for each variant: the discriminated union. */
function discriminate(key: string, variants: string[], prefix: string): JsonSchema[] {
  return variants.map((v) => ({
    if: { properties: { [key]: { const: v } }, required: [key] },
    then: ref(`${prefix}${v}`),
  }));
}

function layerDef(op: string): JsonSchema {
  const def = OPS[op as keyof typeof OPS];
  return {
    type: "object",
    description: def.description,
    properties: {
      name: ref("name"),
      op: { const: op },
      inputs: {
        title: "a non-empty list of names",
        description: "Graph inputs or layers feeding this layer; default: the previous layer (for the first layer the only graph input).",
        type: "array",
        minItems: 1,
        items: ref("name"),
      },
      trainable: { title: "true or false", description: "false freezes the layer's weights.", type: "boolean", default: true },
      keras_name: {
        title: "a string of 1 to 1024 characters",
        description: "The layer's name in the Keras or TensorFlow.js model it was imported from, kept when kiln's name rule made kiln import rename it. Informational only: errors and summaries show it.",
        type: "string",
        minLength: 1,
        maxLength: 1024,
      },
      ...def.attrs,
    },
    required: ["name", "op", ...(def.required ?? [])],
    additionalProperties: false,
  };
}

function optimizerDef(type: string): JsonSchema {
  return {
    type: "object",
    properties: { type: { const: type }, ...OPTIMIZERS[type as keyof typeof OPTIMIZERS].attrs, ...CLIP },
    required: ["type"],
    additionalProperties: false,
  };
}

function scheduleSchema(name: ScheduleName): JsonSchema {
  const def = SCHEDULES[name];
  return {
    type: "object",
    description: def.description,
    properties: { schedule: { const: name }, ...def.attrs },
    required: ["schedule", ...def.required],
    additionalProperties: false,
  };
}

function metricSchema(type: MetricType): JsonSchema {
  const def = METRIC_DEFS[type];
  return {
    type: "object",
    description: def.description,
    properties: {
      type: { const: type },
      name: { ...ref("name"), description: "The name in the logs (default: the type; a repeated name gets _1, _2, …)." },
      ...def.attrs,
    },
    required: ["type"],
    additionalProperties: false,
  };
}

function defs(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {
    name: {
      title: `a name matching ${NAME_PATTERN}`,
      description: "Names of inputs, targets and layers are unique across the graph; __metadata__ is reserved.",
      type: "string",
      pattern: NAME_PATTERN,
    },
    dim: { title: "a positive integer", description: "One axis of a per-example shape.", type: "integer", minimum: 1, maximum: MAX_DIM },
    value: {
      title: "an object {name, shape, dtype?}",
      type: "object",
      properties: {
        name: ref("name"),
        shape: { title: `a list of at most ${MAX_RANK} positive integers`, description: "Per-example shape (batch axis left out); [] is a scalar.", type: "array", maxItems: MAX_RANK, items: ref("dim") },
        dtype: { title: 'one of "float32", "int32"', description: "int32 for class ids and token ids.", enum: ["float32", "int32"], default: "float32" },
      },
      required: ["name", "shape"],
      additionalProperties: false,
    },
    layer: {
      title: "a layer object {name, op, ...}",
      type: "object",
      properties: { op: { title: "an op name", enum: [...OP_NAMES] } },
      required: ["op"],
      allOf: discriminate("op", OP_NAMES, "op_"),
    },
    loss: {
      title: "an object {type, output, target, from_logits?}",
      type: "object",
      properties: {
        type: { title: `one of ${LOSSES.map((l) => `"${l}"`).join(", ")}`, enum: [...LOSSES] },
        output: ref("name"),
        target: ref("name"),
        from_logits: { title: "true or false", description: "The output holds logits (crossentropy losses only).", type: "boolean", default: false },
      },
      required: ["type", "target"],
      additionalProperties: false,
    },
    losses: {
      title: "a loss object {type, output?, target, from_logits?}, a list of them (one per output, in order) or a map by output name",
      type: ["object", "array"],
      if: { type: "array" },
      then: { type: "array", minItems: 1, items: ref("loss") },
      else: {
        if: { required: ["type"], properties: { type: { type: "string" } } },
        then: ref("loss"),
        else: { type: "object", minProperties: 1, propertyNames: ref("name"), additionalProperties: ref("loss") },
      },
    },
    loss_weights: {
      title: "a number, a list of numbers (one per loss) or a map by output name",
      description: "Keras `loss_weights`: the total loss is the sum of each output's loss times its weight (default 1).",
      type: ["number", "array", "object"],
      items: { type: "number", minimum: 0 },
      minimum: 0,
      propertyNames: ref("name"),
      additionalProperties: { type: "number", minimum: 0 },
    },
    metric: {
      title: `a metric name (${METRIC_TYPES.map((m) => `"${m}"`).join(", ")}) or an object {type, name?, ...arguments}`,
      type: ["string", "object"],
      if: { type: "string" },
      then: { title: `one of ${METRIC_TYPES.map((m) => `"${m}"`).join(", ")}`, enum: [...METRIC_TYPES] },
      else: {
        type: "object",
        properties: { type: { title: `one of ${METRIC_TYPES.map((m) => `"${m}"`).join(", ")}`, enum: [...METRIC_TYPES] } },
        required: ["type"],
        allOf: discriminate("type", [...METRIC_TYPES], "metric_"),
      },
    },
    metric_list: { title: "a list of metrics", type: "array", items: ref("metric") },
    metrics: {
      title: "a list of metrics (one output), a list of lists (one per output) or a map by output name",
      type: ["array", "object"],
      if: { type: "array" },
      then: { type: "array", items: { if: { type: "array" }, then: ref("metric_list"), else: ref("metric") } },
      else: { type: "object", propertyNames: ref("name"), additionalProperties: ref("metric_list") },
      default: [],
    },
    optimizer: {
      title: "an object {type, ...}",
      type: "object",
      properties: { type: { title: `one of ${Object.keys(OPTIMIZERS).map((o) => `"${o}"`).join(", ")}`, enum: Object.keys(OPTIMIZERS) } },
      required: ["type"],
      allOf: discriminate("type", Object.keys(OPTIMIZERS), "optimizer_"),
    },
    training: {
      title: "an object {loss, loss_weights?, optimizer, metrics?}",
      type: "object",
      properties: {
        loss: ref("losses"),
        loss_weights: ref("loss_weights"),
        optimizer: ref("optimizer"),
        metrics: ref("metrics"),
      },
      required: ["loss", "optimizer"],
      additionalProperties: false,
    },
  };
  for (const op of OP_NAMES) out[`op_${op}`] = layerDef(op);
  for (const t of Object.keys(OPTIMIZERS)) out[`optimizer_${t}`] = optimizerDef(t);
  for (const n of SCHEDULE_NAMES) out[`schedule_${n}`] = scheduleSchema(n);
  for (const m of METRIC_TYPES) out[`metric_${m}`] = metricSchema(m);
  return out;
}

/** The whole graph schema as a plain JSON object. */
export function buildGraphSchema(): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: `a kiln graph object (${FORMAT_V2})`,
    description: "A declarative model graph that kiln compiles to WebAssembly. The format is specified in docs/graph-spec.md (in the kiln repository and npm package); this schema is generated from compiler/frontend/ops.",
    type: "object",
    properties: {
      $schema: { title: "a string", description: "Path or URL of this schema, for editors.", type: "string" },
      format: {
        title: `"${FORMAT_V2}" (or "${FORMAT_V1}", still read)`,
        description: `${FORMAT_V2} counts axis attributes as Keras does (0 is the batch axis); ${FORMAT_V1} counted the axes of one example, so its non-negative axes are read one higher.`,
        enum: [...FORMATS],
      },
      name: { title: `a name matching ${GRAPH_NAME_PATTERN}`, type: "string", pattern: GRAPH_NAME_PATTERN },
      seed: { title: "an integer from 0 to 4294967295", description: "Seeds every initializer and dropout mask.", type: "integer", minimum: 0, maximum: 4294967295, default: 0 },
      inputs: { title: "a non-empty list of inputs {name, shape, dtype?}", type: "array", minItems: 1, items: ref("value") },
      targets: { title: "a list of targets {name, shape, dtype?}", description: "What the loss compares against; required with training.", type: "array", items: ref("value"), default: [] },
      layers: { title: "a non-empty list of layers", type: "array", minItems: 1, items: ref("layer") },
      outputs: { title: "a non-empty list of distinct layer names", description: "Layers whose values predict returns; default: the last layer.", type: "array", minItems: 1, uniqueItems: true, items: ref("name") },
      training: ref("training"),
    },
    required: ["format", "name", "inputs", "layers"],
    dependentRequired: { training: ["targets"] },
    additionalProperties: false,
    $defs: defs(),
  };
}
