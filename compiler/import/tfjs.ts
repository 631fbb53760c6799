/**
 * TensorFlow.js layers models: `model.json` ({modelTopology, weightsManifest, trainingConfig?})
 * with its binary shards. modelTopology is either the model config itself (what tfjs-layers'
 * `model.save` writes) or {model_config, training_config} (what the Python converter writes
 * from a Keras file).
 */
import type { Flavor } from "./args.js";
import { buildImport, type ImportResult } from "./build.js";
import { namedWeightSource } from "./named-weights.js";
import { ImportProblems, isObject, quote } from "./problems.js";
import { decodeManifest, manifestPaths } from "./tfjs-weights.js";
import { readTopology } from "./topology.js";

/** Largest model.json accepted (a few hundred layers take well under 1 MB). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

export interface TfjsModelJson {
  json: Record<string, unknown>;
  /** Shard paths per manifest group (checked: relative, no ".."). */
  paths: string[][];
}

/** Parses model.json and lists its shards; undefined after reporting. */
export function parseModelJson(text: string | Uint8Array, where: string, problems: ImportProblems): TfjsModelJson | undefined {
  const size = typeof text === "string" ? text.length : text.length;
  if (size > MAX_MODEL_JSON_BYTES) {
    problems.error(where, `the file is ${size} bytes; model.json files up to ${MAX_MODEL_JSON_BYTES} bytes are read`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof text === "string" ? text : new TextDecoder("utf-8", { fatal: true }).decode(text));
  } catch (err) {
    problems.error(where, `not a valid JSON (UTF-8) file: ${(err as Error).message}`);
    return undefined;
  }
  if (!isObject(json) || !isObject(json.modelTopology)) {
    problems.error(where, `expected a TF.js layers model.json with "modelTopology" and "weightsManifest"; got ${quote(isObject(json) ? Object.keys(json) : json)}`);
    return undefined;
  }
  if (json.format === "graph-model") {
    problems.error(`${where}/format`, `a TF.js graph model (converted from a SavedModel) has no Keras layers; kiln imports TF.js layers models ("format": "layers-model")`);
    return undefined;
  }
  const manifest = json.weightsManifest ?? [];
  const paths = manifestPaths(manifest, `${where}/weightsManifest`, problems);
  return paths ? { json, paths } : undefined;
}

/** Builds the kiln graph and weights from a parsed model.json and its shards (shards[g][i] for paths[g][i]). */
export function importTfjsModel(m: TfjsModelJson, shards: Uint8Array[][], where: string, problems: ImportProblems): ImportResult | undefined {
  const topology = m.json.modelTopology as Record<string, unknown>;
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const topoPath = isObject(topology.model_config) ? `${where}/modelTopology/model_config` : `${where}/modelTopology`;
  const version = String(topology.keras_version ?? "");
  const flavor: Flavor = version.startsWith("tfjs") ? "tfjs" : version.startsWith("3") ? "keras3" : "keras2";
  const topo = readTopology(modelConfig, topoPath, flavor, problems);
  if (!topo) return undefined;
  const weights = decodeManifest((m.json.weightsManifest ?? []) as unknown[], shards, `${where}/weightsManifest`, problems);
  if (problems.failed) return undefined;
  const training = m.json.trainingConfig ?? topology.training_config;
  return buildImport(topo, namedWeightSource(weights), training, flavor, problems);
}
