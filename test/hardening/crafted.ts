/**
 * Crafted modules for the hardening tests and the fuzzer: manifests a hostile author could attach
 * to a kiln module (issue 22 item 9), a module with a memory of its own, and a threaded module.
 */
import { compile } from "../../compiler/index.js";
import type { Manifest } from "../../runtime/manifest.js";
import { linearManifest, moduleBytes } from "../runtime/fixtures.js";
import { withoutSection } from "./fixtures.js";

const WIDE = {
  format: "kiln.graph/v1", name: "wide", seed: 2,
  inputs: [{ name: "x", shape: [1024] }],
  layers: [{ name: "narrow", op: "dense", units: 1 }, { name: "after", op: "dense", units: 2 }],
};
let threaded: Promise<{ wasm: Uint8Array; manifest: Manifest }> | undefined;
const threadedBuild = () => (threaded ??= compile(JSON.stringify(WIDE), { optimizeLevel: 0, maxBatch: 2, threads: 2 }));

/** A 2-thread module (dense 1024 → 1 → 2, maxBatch 2). */
export const threadedModule = async () => (await threadedBuild()).wasm.slice();
export const threadedManifest = async () => structuredClone((await threadedBuild()).manifest);

const leb = (n: number) => {
  const out: number[] = [];
  do { out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)); n >>>= 7; } while (n);
  return out;
};
/** A custom section: id 0, size, name, payload. */
export function customSection(name: string, payload: Uint8Array): number[] {
  const body = [...leb(name.length), ...new TextEncoder().encode(name), ...payload];
  return [0, ...leb(body.length), ...body];
}

/** `manifest` (any JSON value) on the linear fixture module, or on the threaded one. */
export async function withManifest(manifest: unknown, base: "linear" | "threaded" = "linear"): Promise<Uint8Array> {
  if (base === "linear") return moduleBytes(manifest);
  const bytes = withoutSection(await threadedModule(), "kiln.manifest");
  return Uint8Array.from([...bytes, ...customSection("kiln.manifest", new TextEncoder().encode(JSON.stringify(manifest)))]);
}

/** A module that defines its own one-page memory and exports three no-op (i32) → () functions. */
export function ownMemoryModule(manifest: unknown): Uint8Array {
  const name = (s: string) => [s.length, ...new TextEncoder().encode(s)];
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  return Uint8Array.from([
    0, 97, 115, 109, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 1, 0x7f, 0]), // type: (i32) -> ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0, 1]), // memory: min 1 page
    ...section(7, [3, ...name("lin_predict"), 0, 0, ...name("lin_train"), 0, 0, ...name("lin_eval"), 0, 0]),
    ...section(10, [1, 2, 0, 0x0b]), // body: no locals, end
    ...customSection("kiln.manifest", new TextEncoder().encode(JSON.stringify(manifest))),
  ]);
}

export interface Crafted {
  label: string;
  manifest: unknown;
  base?: "linear" | "threaded";
  threads?: number;
  says: RegExp;
}

const lin = (o: Record<string, unknown> = {}) => linearManifest(o as Partial<Manifest>);
const inference = (o: Record<string, unknown> = {}) => lin({ canTrain: false, exports: { predict: "lin_predict" }, ...o });
const set = <T>(m: T, edit: (m: any) => void): T => (edit(m), m);

/** The crafted manifests of issue 22 item 9 (each must be refused with a KilnError saying `says`). */
export function craftedManifests(): Crafted[] {
  const t = () => lin().training!;
  return [
    { label: "a null input entry", manifest: lin({ inputs: [null] }), says: /inputs must be a list of named entries/ },
    { label: "a null weight entry", manifest: lin({ weights: [null, ...lin().weights] }), says: /weights must be a list of named entries/ },
    { label: "an initializer named __proto__", manifest: set(lin(), (m) => (m.weights[0].initializer.name = "__proto__")), says: /weight "dense\/kernel": bad initializer/ },
    { label: "an initializer named toString", manifest: set(lin(), (m) => (m.weights[1].initializer.name = "toString")), says: /weight "dense\/bias": bad initializer/ },
    { label: "canTrain without an exports section", manifest: set(lin(), (m) => delete m.exports), says: /exports.predict must name the inference program/ },
    { label: "training.metrics not a list of names", manifest: lin({ training: { ...t(), metrics: [3] } }), says: /training: expected metrics/ },
    { label: "training.metrics an object", manifest: lin({ training: { ...t(), metrics: { length: 1e9 } } }), says: /training: expected metrics/ },
    { label: "training.slots with a null slot", manifest: lin({ training: { ...t(), slots: [null] } }), says: /training.slots: expected/ },
    { label: "training.slots not a list", manifest: lin({ training: { ...t(), slots: "momentum" } }), says: /training: expected metrics/ },
    { label: "a slot named __proto__", manifest: lin({ training: { ...t(), slots: [{ slot: "__proto__", weight: "dense/kernel", offset: 65536 + 1280 }] } }), says: /training.slots: expected/ },
    { label: "seedOffset outside memory (inference-only module)", manifest: inference({ training: { ...t(), seedOffset: 2 ** 31 } }), says: /training.seedOffset: offset 2147483648/ },
    { label: "debug.guards outside memory", manifest: lin({ debug: { guards: { persistent: [[1e9, 64]], programs: {} } } }), says: /debug.guards/ },
    { label: "debug.guards not lists", manifest: lin({ debug: { guards: { persistent: "x", programs: {} } } }), says: /debug.guards/ },
    { label: "debug without guards", manifest: lin({ debug: {} }), says: /debug.guards/ },
    { label: "threadSegments with a non-numeric barrier count", base: "threaded", threads: 2, manifest: "threaded:barriers:x", says: /threadSegments.predict: expected barriers/ },
    { label: "threadSegments with 200,000 barriers", base: "threaded", threads: 2, manifest: "threaded:barriers:200000", says: /threadSegments.predict: expected barriers/ },
    { label: "threadSegments with 4e8 barriers", base: "threaded", threads: 2, manifest: "threaded:barriers:400000000", says: /threadSegments.predict: expected barriers/ },
    { label: "maxThreads raised above the build", base: "threaded", threads: 2, manifest: "threaded:maxThreads:8", says: /maxThreads 8 but the module was built for 2 threads/ },
    { label: "weightsEmbedded without a kiln.weights section", manifest: lin({ weightsEmbedded: true }), says: /weightsEmbedded but the module has no kiln.weights section/ },
    { label: "a weight overlapping an input", manifest: set(lin(), (m) => (m.weights[1].offset = m.inputs[0].offset + 8)), says: /overlaps/ },
    { label: "an output overlapping a weight", manifest: set(lin(), (m) => (m.outputs[0].offset = m.weights[0].offset)), says: /overlaps/ },
    { label: "two inputs sharing bytes (input and target)", manifest: set(lin(), (m) => (m.targets[0].offset = m.inputs[0].offset + 4)), says: /overlaps/ },
    { label: "a slot overlapping the step word", manifest: set(lin(), (m) => (m.training.stepOffset = m.training.slots[0].offset + 4)), says: /overlaps/ },
    { label: "exports.predict naming the training step", manifest: lin({ exports: { predict: "lin_train", trainStep: "lin_train", evaluate: "lin_eval" } }), says: /exports.predict must name the inference program/ },
    { label: "exports.predict naming train_step in an inference-only module", manifest: inference({ exports: { predict: "train_step" } }), says: /exports.predict must name the inference program/ },
    { label: "a range that is not [lo, hi)", manifest: set(lin(), (m) => (m.inputs[0] = { ...m.inputs[0], dtype: "int32", range: [5, 2] })), says: /bad shape .* or range \[5,2\]/ },
    { label: "two weights with one name", manifest: set(lin(), (m) => (m.weights[1].name = "dense/kernel")), says: /two entries share a name/ },
    { label: "an absurd page count", manifest: lin({ memory: { pages: 1e9, weightsBytes: 0, arenaBytes: 0 } }), says: /memory.pages must be an integer in \[1, 65536\]/ },
  ];
}

/** Resolves the "threaded:<field>:<value>" shorthand of craftedManifests against the real threaded manifest. */
export async function resolve(c: Crafted): Promise<unknown> {
  if (typeof c.manifest !== "string") return c.manifest;
  const [, field, value] = c.manifest.split(":");
  const m = await threadedManifest() as any;
  const v = /^\d+$/.test(value!) ? Number(value) : value;
  if (field === "barriers") m.threadSegments.predict.barriers = v;
  else m[field!] = v;
  return m;
}
