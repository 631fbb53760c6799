/**
 * Stage 2: schema validation. Runs the generated JSON Schema with ajv (strict, all errors) and
 * turns ajv's errors into diagnostics that name the JSON path and layer and say what was expected
 * and what came: unknown ops list the known ones, unknown attributes suggest the nearest valid one.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import type { Diagnostic } from "./diagnostics.js";
import { pointer } from "./diagnostics.js";
import { OP_NAMES } from "./ops/index.js";
import type { JsonSchema } from "./ops/op.js";
import { buildGraphSchema } from "./schema.js";
import { didYouMean, kindOf, nearest, show } from "./suggest.js";

let compiled: ValidateFunction | undefined;

/** The compiled validator, built once per process (compiling takes longer than validating). */
function validator(): ValidateFunction {
  compiled ??= new Ajv2020({ strict: true, allErrors: true, verbose: true, allowUnionTypes: true }).compile(buildGraphSchema());
  return compiled as ValidateFunction;
}

/** Every schema problem of `value`, deduplicated, in the order ajv found them. */
export function validateSchema(value: unknown): Diagnostic[] {
  const validate = validator();
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  const typoFor = misspelledRequired(errors);
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of errors) {
    // A misspelled required key is one problem: "unknown "unit"; did you mean "units"?" says it all.
    if (e.keyword === "required" && typoFor.has(e.instancePath + pointer(e.params.missingProperty))) continue;
    const d = toDiagnostic(e, value);
    const key = d && `${d.path}\u0000${d.message}`;
    if (d && key && !seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

/** Paths of missing required keys that an unknown key in the same object is a typo of. */
function misspelledRequired(errors: ErrorObject[]): Set<string> {
  const missing = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword === "required") missing.set(e.instancePath, [...(missing.get(e.instancePath) ?? []), e.params.missingProperty]);
  }
  const typos = new Set<string>();
  for (const e of errors) {
    const candidates = e.keyword === "additionalProperties" ? missing.get(e.instancePath) : undefined;
    const near = candidates && nearest(e.params.additionalProperty, candidates);
    if (near !== undefined) typos.add(e.instancePath + pointer(near));
  }
  return typos;
}

function toDiagnostic(e: ErrorObject, root: unknown): Diagnostic | undefined {
  if (e.keyword === "if") return undefined; // its `then` branch already reported the real problem
  const located = (path: string, message: string): Diagnostic => withLayer({ code: "schema", path, message }, root);
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  switch (e.keyword) {
    case "additionalProperties":
      return located(e.instancePath + pointer(e.params.additionalProperty), unknownKey(e, parent));
    case "required": {
      const key: string = e.params.missingProperty;
      return located(e.instancePath + pointer(key), `missing required "${key}" (${describe(propSchema(parent, key))})`);
    }
    case "dependentRequired":
      return located(pointer(e.params.missingProperty), `"${e.params.missingProperty}" is required when "${e.params.property}" is present`);
    case "uniqueItems":
      return located(`${e.instancePath}/${e.params.i}`, `duplicate entry ${show(e.data && (e.data as unknown[])[e.params.i])} (same as item ${e.params.j})`);
    case "enum":
      if (/^\/layers\/\d+\/op$/.test(e.instancePath)) return located(e.instancePath, unknownOp(e.data));
      return located(e.instancePath, `expected ${describe(parent)}, got ${show(e.data)}${typeof e.data === "string" ? didYouMean(e.data, (parent.enum as string[]) ?? []) : ""}`);
    case "type":
      return located(e.instancePath, `expected ${describe(parent)}, got ${show(e.data)} (${kindOf(e.data)})`);
    default:
      return located(e.instancePath, `expected ${describe(parent)}, got ${show(e.data)}`);
  }
}

function unknownOp(op: unknown): string {
  const hint = typeof op === "string" ? didYouMean(op, OP_NAMES) : "";
  return `unknown op ${show(op)}${hint} (known ops: ${OP_NAMES.join(", ")})`;
}

function unknownKey(e: ErrorObject, parent: JsonSchema): string {
  const key: string = e.params.additionalProperty;
  const known = Object.keys((parent.properties ?? {}) as object);
  const op = (parent.properties as Record<string, JsonSchema> | undefined)?.op?.const;
  const what = typeof op === "string" ? `attribute ${show(key)} for ${op}` : `property ${show(key)}`;
  const hint = didYouMean(key, known);
  return hint ? `unknown ${what}${hint}` : `unknown ${what} (allowed: ${known.join(", ")})`;
}

function propSchema(parent: JsonSchema, key: string): JsonSchema {
  return ((parent.properties ?? {}) as Record<string, JsonSchema>)[key] ?? {};
}

/** The short "expected …" phrase of a schema: its title, else a description of its type. */
function describe(s: JsonSchema): string {
  if (typeof s.title === "string") return s.title;
  if (s.$ref === "#/$defs/name") return "a name";
  if (s.const !== undefined) return show(s.const);
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => show(v)).join(", ")}`;
  if (s.type === "object") return "an object";
  return s.type ? `a value of type ${String(s.type)}` : "a value";
}

/** Attach the layer name when the path is inside /layers/N and that layer has a usable name. */
function withLayer(d: Diagnostic, root: unknown): Diagnostic {
  const m = /^\/layers\/(\d+)(\/|$)/.exec(d.path);
  if (!m) return d;
  const layers = (root as { layers?: unknown }).layers;
  const layer = Array.isArray(layers) ? (layers[Number(m[1])] as { name?: unknown } | undefined) : undefined;
  const name = layer && typeof layer === "object" ? layer.name : undefined;
  return typeof name === "string" && /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) ? { ...d, layer: name } : d;
}

