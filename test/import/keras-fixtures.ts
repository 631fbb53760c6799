/**
 * Keras file fixtures written in the test, since no Python (and so no Keras) runs here: their
 * layout follows Keras's own saving code, NOT files produced by Keras itself.
 *  - `.keras` (keras/src/saving/saving_lib.py): a zip of metadata.json, config.json (the
 *    serialized model, `compile_config` beside its config) and model.weights.h5, where each layer
 *    of a model's layer list keeps its variables at `layers/<snake case class name>[_n]/vars/<i>`
 *    (trainable variables first, in creation order; recurrent layers under `cell/`,
 *    MultiHeadAttention under its `_query_dense` ... `_output_dense` sublayers).
 *  - Keras 2 `.h5` (keras/src/legacy/saving/legacy_h5_format.py): root attributes model_config,
 *    training_config, keras_version, backend; group model_weights with attribute layer_names, each
 *    layer group with attribute weight_names and its datasets at those names ("dense/kernel:0").
 * HDF5 is written with h5wasm, the zip with fflate.
 */
import h5wasm from "h5wasm";
import { zipSync, strToU8 } from "fflate";

let counter = 0;

export interface H5Tensor {
  shape: number[];
  data: Float32Array;
}

/** An HDF5 file (as bytes) built by `fill`, in h5wasm's in-memory file system. */
export async function writeH5(fill: (f: InstanceType<typeof h5wasm.File>) => void): Promise<Uint8Array> {
  const { FS } = (await h5wasm.ready) as unknown as { FS: { readFile(p: string): Uint8Array; unlink(p: string): void } };
  const path = `/fixture-${++counter}.h5`;
  const f = new h5wasm.File(path, "w");
  fill(f);
  f.close();
  const bytes = FS.readFile(path);
  FS.unlink(path);
  return new Uint8Array(bytes);
}

/** Creates every group on the way to `path` (h5wasm has no `create_group(..., parents)`). */
export function ensureGroup(f: InstanceType<typeof h5wasm.File>, path: string): void {
  let at = "";
  for (const part of path.split("/").filter(Boolean)) {
    const next = at ? `${at}/${part}` : part;
    const parent = at ? (f.get(at) as InstanceType<typeof h5wasm.Group>) : f;
    // keys() first: get() of a missing path makes the HDF5 library print its error stack.
    if (!parent.keys().includes(part)) parent.create_group(part);
    at = next;
  }
}

export function putDataset(f: InstanceType<typeof h5wasm.File>, path: string, t: H5Tensor): void {
  const cut = path.lastIndexOf("/");
  ensureGroup(f, path.slice(0, cut));
  (f.get(path.slice(0, cut)) as InstanceType<typeof h5wasm.Group>).create_dataset({ name: path.slice(cut + 1), data: t.data, shape: t.shape, dtype: "<f" });
}

/** A Keras 3 weights store: store path ("layers/dense/vars/0") → tensor. Groups for variable-less layers too. */
export async function kerasWeightsH5(vars: Record<string, H5Tensor>, emptyLayers: string[] = []): Promise<Uint8Array> {
  return writeH5((f) => {
    for (const l of emptyLayers) ensureGroup(f, `${l}/vars`);
    for (const [p, t] of Object.entries(vars)) putDataset(f, p, t);
    ensureGroup(f, "optimizer/vars");
  });
}

export function kerasZip(config: unknown, weightsH5: Uint8Array, kerasVersion = "3.6.0"): Uint8Array {
  return zipSync({
    "metadata.json": strToU8(JSON.stringify({ keras_version: kerasVersion, date_saved: "2026-12-07@11:00:00" })),
    "config.json": strToU8(JSON.stringify(config)),
    "model.weights.h5": weightsH5,
  });
}

/** A Keras 2 full-model .h5: model_config, training_config and model_weights/<layer>/<weight name>. */
export async function keras2H5(modelConfig: unknown, trainingConfig: unknown, layers: { name: string; weights: Record<string, H5Tensor> }[]): Promise<Uint8Array> {
  return writeH5((f) => {
    f.create_attribute("model_config", JSON.stringify(modelConfig));
    if (trainingConfig) f.create_attribute("training_config", JSON.stringify(trainingConfig));
    f.create_attribute("keras_version", "2.15.0");
    f.create_attribute("backend", "tensorflow");
    ensureGroup(f, "model_weights");
    const root = f.get("model_weights") as InstanceType<typeof h5wasm.Group>;
    root.create_attribute("layer_names", layers.map((l) => l.name));
    for (const l of layers) {
      ensureGroup(f, `model_weights/${l.name}`);
      const g = f.get(`model_weights/${l.name}`) as InstanceType<typeof h5wasm.Group>;
      const names = Object.keys(l.weights);
      if (names.length) g.create_attribute("weight_names", names);
      for (const [n, t] of Object.entries(l.weights)) putDataset(f, `model_weights/${l.name}/${n}`, t);
    }
  });
}

/** Keras 3's serialized layer: {module, class_name, config, registered_name, build_config?}. */
export function k3layer(className: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { module: "keras.layers", class_name: className, config: { trainable: true, dtype: { module: "keras", class_name: "DTypePolicy", config: { name: "float32" }, registered_name: null }, ...config }, registered_name: null, ...extra };
}

/** A Keras 3 symbolic tensor in an inbound node: output `tensor` of layer `name`. */
export function k3tensor(name: string, shape: (number | null)[], tensor = 0): Record<string, unknown> {
  return { class_name: "__keras_tensor__", config: { shape, dtype: "float32", keras_history: [name, 0, tensor] } };
}

/** A Keras 2 functional-model layer entry (`model_config` of an .h5 file), inbound from `inbound` layers' first outputs. */
export function k2layer(cls: string, name: string, config: Record<string, unknown>, inbound: string[]): Record<string, unknown> {
  return { class_name: cls, config: { name, trainable: true, dtype: "float32", ...config }, name, inbound_nodes: inbound.length ? [inbound.map((s) => [s, 0, 0, {}])] : [] };
}

/** A Keras 2 .h5 file of one Dense(3) on 2 inputs (weights i / 10), for tests of the HDF5 reading itself. */
export function tinyDenseH5(): Promise<Uint8Array> {
  const t = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_v, i) => i / 10) });
  return keras2H5(
    { class_name: "Sequential", config: { name: "s", layers: [{ class_name: "Dense", config: { name: "dense", units: 3, batch_input_shape: [null, 2], activation: "linear" } }] } },
    { loss: "mse" },
    [{ name: "dense", weights: { "dense/kernel:0": t([2, 3]), "dense/bias:0": t([3]) } }],
  );
}
