/**
 * Hostile and broken TF.js files: every one is a KilnError naming where (never another exception,
 * never a crash), and the command line writes nothing then. Names with quotes and newlines are
 * renamed to kiln's rule and kept as keras_name; messages stay one line per problem.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { checkGraph, importModel, KilnError, type ImportFiles } from "../../compiler/index.js";
import { formatSummary } from "../../compiler/frontend/summary.js";
import { main } from "../../compiler/cli/main.js";
import { rng } from "../compile/harness.js";
import { feedsFor, kilnModel, randomizeTf, saveArtifacts, tfPredict, toFiles } from "./helpers.js";

let files: ImportFiles;
let model: tf.Sequential;

beforeAll(async () => {
  await tf.setBackend("cpu");
  model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [4], units: 3, activation: "relu", name: "first" }));
  model.add(tf.layers.dense({ units: 2, name: "second" }));
  randomizeTf(model, 7);
  files = toFiles(await saveArtifacts(model));
});

const json = () => JSON.parse(files["model.json"] as string);
const withJson = (j: unknown, extra: ImportFiles = {}): ImportFiles => ({ ...files, "model.json": JSON.stringify(j), ...extra });

async function rejection(f: ImportFiles | string): Promise<KilnError> {
  const err = await importModel(f).then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(KilnError);
  return err as KilnError;
}

describe("broken files are clear KilnErrors", () => {
  test("bad JSON names the file", async () => {
    const err = await rejection({ ...files, "model.json": '{"modelTopology": {' });
    expect(err.message).toMatch(/^model\.json: not a valid JSON \(UTF-8\) file/);
  });

  test("a missing shard is named with its manifest path", async () => {
    const f = { ...files };
    delete f["group1-shard1of1.bin"];
    const err = await rejection(f);
    expect(err.message).toBe('model.json/weightsManifest/0/paths/0: shard "group1-shard1of1.bin" is missing (it is read beside "model.json")');
  });

  test("a short shard names the weight that does not fit", async () => {
    const shard = files["group1-shard1of1.bin"] as Uint8Array;
    const err = await rejection({ ...files, "group1-shard1of1.bin": shard.slice(0, shard.length - 4) });
    expect(err.message).toMatch(/weight "second\/bias" needs 8 bytes at offset \d+ of its shard group, which has only \d+ bytes \(a shard is missing or short\)/);
  });

  test("a huge weight shape is refused before anything is allocated", async () => {
    const j = json();
    j.weightsManifest[0].weights[0].shape = [1e9, 1e9];
    const err = await rejection(withJson(j));
    expect(err.message).toMatch(/shape \[1000000000,1000000000\] has more than 1073741824 elements/);
  });

  test("a huge input shape is refused by kiln's limits, naming the input", async () => {
    const j = json();
    j.modelTopology.config.layers[0].config.batch_input_shape = [null, 2 ** 31 - 1, 2 ** 31 - 1];
    const err = await rejection(withJson(j));
    expect(err.message).toMatch(/^graph\/inputs\/0\/shape: kiln refuses the imported graph: weights and activations at batch 1 reach more than 2\^53 bytes with input "first_input"/);
  });

  test("shard paths outside the model's folder are refused", async () => {
    for (const p of ["../secret.bin", "/etc/passwd", "a/../../b.bin"]) {
      const j = json();
      j.weightsManifest[0].paths = [p];
      const err = await rejection(withJson(j));
      expect(err.message).toMatch(/weightsManifest\/0\/paths: expected a list of shard file names relative to model.json \(no "\.\.", not absolute\)/);
    }
  });

  test("a TF.js graph model is refused with what kiln reads instead", async () => {
    const err = await rejection(JSON.stringify({ format: "graph-model", modelTopology: { node: [] }, weightsManifest: [] }));
    expect(err.message).toMatch(/TF\.js graph model .* kiln imports TF\.js layers models/);
  });

  test("a shared layer (called twice) is refused naming it", async () => {
    const x = tf.input({ shape: [3] });
    const d = tf.layers.dense({ units: 3, name: "shared" });
    const m = tf.model({ inputs: x, outputs: d.apply(d.apply(x)) as tf.SymbolicTensor });
    const err = await rejection(toFiles(await saveArtifacts(m)));
    expect(err.message).toMatch(/layer "shared" \(Dense\): the layer is called 2 times \(a shared layer\)/);
  });

  test("mutated model.json files (truncated, bytes changed) give a KilnError or a valid import, never another exception", async () => {
    const text = new TextEncoder().encode(files["model.json"] as string);
    const next = rng(11);
    let errors = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = text.slice(0, i % 3 === 0 ? Math.floor(next() * text.length) : text.length);
      for (let k = 0; k < 1 + Math.floor(next() * 4); k++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 128);
      try {
        await importModel({ ...files, "model.json": bytes });
      } catch (e) {
        if (!(e instanceof KilnError)) throw new Error(`case ${i}: ${String(e)}\n${new TextDecoder().decode(bytes)}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
});

describe("hostile layer configs", () => {
  // Every argument any layer-table entry reads, set at once to the same odd value.
  const ARGS = [
    "units", "filters", "kernel_size", "strides", "padding", "dilation_rate", "depth_multiplier", "activation", "use_bias", "layer", "axes", "normalize",
    "groups", "axis", "epsilon", "center", "scale", "shared_axes", "alpha", "negative_slope", "max_value", "threshold", "theta", "rate", "stddev",
    "output_padding", "target_shape", "dims", "size", "interpolation", "n", "cropping", "merge_mode", "backward_layer", "num_heads", "key_dim", "value_dim",
    "momentum", "input_dim", "output_dim", "sequence_length", "return_sequences", "go_backwards", "reset_after", "pool_size", "noise_shape", "data_format",
    "depthwise_initializer", "kernel_initializer", "alpha_initializer", "initializer", "keepdims", "mask_zero", "recurrent_activation",
    "offset", "mean", "variance", "invert",
  ];
  const ODD: unknown[] = ["x", -1, 0, 1e308, {}, [], [1, 2, 3], [[1, "a"]], { class_name: 5, config: "relu" }, { class_name: "Dense", config: { units: "u", __proto__: null } }, true];

  test("every mapped class with every argument odd gives a KilnError or a valid import, never another exception", async () => {
    const { KERAS_LAYERS } = await import("../../compiler/import/layers.js");
    let refused = 0;
    for (const cls of Object.keys(KERAS_LAYERS)) {
      for (const odd of ODD) {
        const config = Object.fromEntries([["name", "l"], ...ARGS.map((a) => [a, odd])]);
        const j = {
          modelTopology: { keras_version: "tfjs-layers 4.22.0", backend: "tensor_flow.js", model_config: { class_name: "Sequential", config: { name: "s", layers: [
            { class_name: "InputLayer", config: { name: "x", batch_input_shape: [null, 4, 4, 4], dtype: "float32" } },
            { class_name: cls, config },
          ] } } },
          weightsManifest: [],
        };
        const err = await importModel(JSON.stringify(j)).then(() => undefined, (e: unknown) => e);
        if (err === undefined) continue;
        expect(err, `${cls} with every argument ${JSON.stringify(odd)}: ${String(err)}`).toBeInstanceOf(KilnError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(Object.keys(KERAS_LAYERS).length);
  });
});

describe("names kiln's rule refuses", () => {
  test("are renamed deterministically, kept as keras_name, and the weights follow them", async () => {
    const weird = 'my "layer"\nwith/slash';
    const j = json();
    j.modelTopology.config.layers[0].config.name = weird;
    j.weightsManifest[0].weights[0].name = `${weird}/kernel`;
    j.weightsManifest[0].weights[1].name = `${weird}/bias`;
    const r = await importModel(withJson(j));
    const first = (r.graph.layers as Record<string, unknown>[])[0]!;
    expect(first.name).toBe("my__layer__with_slash");
    expect(first.keras_name).toBe(weird);
    expect((await importModel(withJson(j))).graph).toEqual(r.graph);
    // kiln check's summary shows the Keras name, escaped onto one line.
    const summary = formatSummary(checkGraph(r.graph));
    expect(summary).toContain('my__layer__with_slash (dense) Keras "my \\"layer\\"\\nwith/slash"');
    const kiln = await kilnModel(r);
    const feeds = feedsFor(r.graph, 2, 3);
    const input = (r.graph.inputs as { name: string }[])[0]!.name;
    expect(input).toBe("my__layer__with_slash_input");
    const ref = tfPredict(model, feeds, [input], 2)[0]!;
    const ours = kiln.predict(feeds).second!;
    for (let i = 0; i < ref.length; i++) expect(ours[i]).toBeCloseTo(ref[i]!, 5);
  });

  test("an unsupported layer with such a name still gives one line per problem", async () => {
    const j = json();
    j.modelTopology.config.layers[0].class_name = "Conv3D";
    j.modelTopology.config.layers[0].config.name = 'bad\n"name"';
    j.modelTopology.config.layers[1].config.activation = "softsign";
    const err = await rejection(withJson(j));
    const lines = err.message.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^model\.json\/modelTopology\/config\/layers\/0, layer "bad\\n\\"name\\"" \(Conv3D\): kiln cannot import/);
    expect(lines[1]).toMatch(/layer "second" \(Dense\): activation "softsign" is not one kiln has/);
  });
});

describe("kiln import on the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-import-"));
  const run = async (...argv: string[]) => {
    let out = "", err = "";
    const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };
  const writeModel = (sub: string, f: ImportFiles) => {
    const d = mkdtempSync(join(dir, sub));
    for (const [k, v] of Object.entries(f)) writeFileSync(join(d, k), v);
    return join(d, "model.json");
  };

  test("writes the graph and, by default, the weights beside it", async () => {
    const src = writeModel("ok-", files);
    const graph = join(dir, "imported.json");
    const r = await run("import", src, "-o", graph);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(graph, "utf8")).layers.map((l: { name: string }) => l.name)).toEqual(["first", "second"]);
    expect(existsSync(join(dir, "imported.safetensors"))).toBe(true);
  });

  test("a failed import exits 1 with one line per problem and writes nothing", async () => {
    const j = json();
    j.modelTopology.config.layers[0].class_name = "Lambda";
    j.modelTopology.config.layers[1].config.activation = "softsign";
    const src = writeModel("bad-", withJson(j));
    const graph = join(dir, "never.json");
    const r = await run("import", src, "-o", graph, "--weights", join(dir, "never.safetensors"));
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(2);
    expect(r.err).toMatch(/layer "first" \(Lambda\): kiln cannot import the Keras class "Lambda": a Lambda layer is Python code/);
    expect(existsSync(graph)).toBe(false);
    expect(existsSync(join(dir, "never.safetensors"))).toBe(false);
  });

  test("--check reports and writes nothing", async () => {
    const src = writeModel("check-", files);
    const r = await run("import", src, "--check");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/imports as 2 kiln layers \(nothing written: --check\)/);
  });
});
