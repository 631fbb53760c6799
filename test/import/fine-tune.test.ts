/**
 * Fine-tuning an imported model (issue 18 item 4): `trainable: false` flags kept from the file (also
 * a nested model saved frozen), freezeUntil / `kiln import --freeze-until` by Keras name, cutAt /
 * `--cut-at` giving the backbone (which predicts what TF.js's truncated model predicts) and only its
 * weights, and a new head trained with fit while the frozen backbone stays bit-identical.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, cutAt, freezeUntil, importModel, KilnError, readWeights, type ImportFiles, type ImportResult } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { loadModel } from "../../runtime/index.js";
import { relErr } from "../compile/harness.js";
import { feedsFor, kilnModel, randomizeTf, saveArtifacts, tfPredict, toFiles } from "./helpers.js";

let model: tf.Sequential;
let files: ImportFiles;
let imported: ImportResult;

/** A small CNN whose first conv is saved frozen; "conv-b.2" is renamed by the import. */
function cnn(): tf.Sequential {
  const m = tf.sequential({ name: "backbone" });
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: "relu", name: "conv_a", trainable: false }));
  m.add(tf.layers.batchNormalization({ name: "bn" }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 2, activation: "relu", name: "conv-b.2" }));
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ units: 5, activation: "relu", name: "features" }));
  m.add(tf.layers.dense({ units: 3, activation: "softmax", name: "probs" }));
  return m;
}

beforeAll(async () => {
  await tf.setBackend("cpu");
  model = cnn();
  randomizeTf(model, 5);
  model.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
  files = toFiles(await saveArtifacts(model, true));
  imported = await importModel(files);
});

const layer = (g: Record<string, unknown>, name: string) => (g.layers as Record<string, unknown>[]).find((l) => l.name === name)!;
const trainableFlags = (g: Record<string, unknown>) => Object.fromEntries((g.layers as Record<string, unknown>[]).map((l) => [l.name, l.trainable !== false]));

describe("freezing", () => {
  test("trainable: false from the file is kept; a nested model saved trainable: false freezes every layer in it", async () => {
    expect(layer(imported.graph, "conv_a").trainable).toBe(false);
    expect(layer(imported.graph, "features").trainable).toBeUndefined();
    const x = tf.input({ shape: [4], name: "x" });
    const inner = tf.sequential({ name: "inner", layers: [tf.layers.dense({ inputShape: [4], units: 3, name: "in1" }), tf.layers.dense({ units: 3, name: "in2" })] });
    const head = tf.layers.dense({ units: 2, name: "head" }).apply(inner.apply(x)) as tf.SymbolicTensor;
    const f = toFiles(await saveArtifacts(tf.model({ inputs: x, outputs: head })));
    const json = JSON.parse(f["model.json"] as string);
    const nested = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === "Sequential");
    expect(nested.class_name).toBe("Sequential");
    nested.config.trainable = false; // as Keras 3 writes a nested model set trainable = False
    const r = await importModel({ ...f, "model.json": JSON.stringify(json) });
    expect(trainableFlags(r.graph)).toEqual({ in1: false, in2: false, head: true });
  });

  test("freezeUntil freezes the named layer (Keras name, even a renamed one) and every layer it depends on", () => {
    const frozen = freezeUntil(imported.graph, "conv-b.2");
    expect(trainableFlags(frozen)).toEqual({ conv_a: false, bn: false, conv_b_2: false, flat: true, features: true, probs: true });
    expect(layer(imported.graph, "bn").trainable).toBeUndefined(); // the argument is not changed
    expect(trainableFlags(freezeUntil(imported.graph, "features"))).toMatchObject({ features: false, probs: true });
  });

  test("in a functional graph only the layer's ancestors freeze, not a side branch", () => {
    const graph = {
      format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [3] }],
      layers: [
        { name: "a", op: "dense", units: 4, inputs: ["x"] }, { name: "side", op: "dense", units: 4, inputs: ["x"] },
        { name: "b", op: "dense", units: 4, inputs: ["a"] }, { name: "sum", op: "add", inputs: ["b", "side"] },
      ],
    };
    expect(trainableFlags(freezeUntil(graph, "b"))).toEqual({ a: false, side: true, b: false, sum: true });
  });

  test("an unknown layer name is a KilnError listing the layers (Keras names shown beside renamed ones)", () => {
    let err: unknown;
    try {
      freezeUntil(imported.graph, "dense_9");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).message).toMatch(/freezeUntil: the graph has no layer "dense_9"; its layers are conv_a, bn, conv_b_2 \(Keras "conv-b.2"\), flat, features, probs/);
  });
});

describe("cutting the graph at a layer and training a new head", () => {
  test("cutAt keeps the layer and its ancestors with only their weights, and predicts what TF.js's truncated model predicts", async () => {
    const cut = cutAt(imported, "features");
    expect((cut.graph.layers as { name: string }[]).map((l) => l.name)).toEqual(["conv_a", "bn", "conv_b_2", "flat", "features"]);
    expect(cut.graph.outputs).toEqual(["features"]);
    expect(cut.graph.training).toBeUndefined();
    expect(cut.graph.targets).toBeUndefined();
    expect(cut.notes.join("\n")).toMatch(/1 layer\(s\) after or beside "features" left out.*\n.*training section and targets left out/);
    expect(Object.keys(readWeights(cut.weights!)).sort()).toEqual(["bn/beta", "bn/gamma", "bn/moving_mean", "bn/moving_variance", "conv_a/bias", "conv_a/kernel", "conv_b_2/bias", "conv_b_2/kernel", "features/bias", "features/kernel"]);
    const kiln = await kilnModel({ graph: cut.graph, weights: cut.weights!, notes: [] });
    const truncated = tf.model({ inputs: model.inputs, outputs: model.getLayer("features").output as tf.SymbolicTensor });
    const feeds = feedsFor(cut.graph, 3, 8);
    const theirs = tfPredict(truncated, feeds, ["conv_a_input"], 3);
    expect(relErr(kiln.predict(feeds).features!, theirs[0]!)).toBeLessThan(1e-4);
  });

  test("a new head on the frozen backbone: fit trains the head, the frozen layers stay bit-identical", async () => {
    const base = cutAt({ graph: freezeUntil(imported.graph, "flat"), weights: imported.weights }, "flat");
    const graph = base.graph as Record<string, any>;
    graph.layers.push({ name: "new_head", op: "dense", units: 2, activation: "softmax", inputs: ["flat"] });
    graph.outputs = ["new_head"];
    graph.targets = [{ name: "label", shape: [], dtype: "int32" }];
    graph.training = { loss: { type: "sparse_categorical_crossentropy", output: "new_head", target: "label" }, optimizer: { type: "adam", learning_rate: 0.05 } };
    const kiln = await loadModel((await compile(graph, { maxBatch: 8 })).wasm);
    const start = readWeights(base.weights!);
    kiln.setWeights(start);
    const feeds = feedsFor(graph, 8, 12);
    const label = Int32Array.from({ length: 8 }, (_v, i) => i % 2);
    const before = kiln.evaluate({ ...feeds, label }).loss;
    const headBefore = kiln.getWeights()["new_head/kernel"]!;
    await kiln.fit({ ...feeds, label }, { epochs: 30, batchSize: 8, shuffle: false });
    const after = kiln.getWeights();
    for (const name of Object.keys(start)) {
      if (name.startsWith("bn/moving")) continue; // frozen batch normalization: inference mode, checked below
      expect(Buffer.from(after[name]!.buffer).equals(Buffer.from(start[name]!.buffer)), name).toBe(true);
    }
    expect(after["bn/moving_mean"]).toEqual(start["bn/moving_mean"]);
    expect(relErr(after["new_head/kernel"]!, headBefore)).toBeGreaterThan(0.01);
    expect(kiln.evaluate({ ...feeds, label }).loss).toBeLessThan(before * 0.8);
  });

  test("cutAt on a layer that is not there, and a graph kiln refuses, are KilnErrors", () => {
    expect(() => cutAt(imported, "nope")).toThrow(/cutAt: the graph has no layer "nope"/);
    expect(() => cutAt({ graph: { format: "kiln.graph/v2", name: "g", inputs: [], layers: [] } }, "a")).toThrow(KilnError);
  });
});

describe("kiln import --freeze-until / --cut-at", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-finetune-"));
  const run = async (...argv: string[]) => {
    let out = "", err = "";
    const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };
  const write = (sub: string) => {
    const d = mkdtempSync(join(dir, sub));
    for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k), v);
    return join(d, "model.json");
  };

  test("writes the frozen, cut backbone and only its weights", async () => {
    const src = write("ok-");
    const out = join(dir, "backbone.json");
    const r = await run("import", src, "-o", out, "--freeze-until", "conv-b.2", "--cut-at", "flat");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/note: 3 of 6 layers frozen \(trainable: false\), up to "conv-b.2"/);
    expect(r.err).toMatch(/note: cut at "flat": 2 layer\(s\) after or beside "flat" left out/);
    const graph = JSON.parse(readFileSync(out, "utf8"));
    expect(trainableFlags(graph)).toEqual({ conv_a: false, bn: false, conv_b_2: false, flat: true });
    expect(graph.outputs).toEqual(["flat"]);
    expect(Object.keys(readWeights(new Uint8Array(readFileSync(join(dir, "backbone.safetensors")))))).toHaveLength(8);
  });

  test("an unknown layer exits 1 and writes nothing", async () => {
    const src = write("bad-");
    const out = join(dir, "never.json");
    const r = await run("import", src, "-o", out, "--cut-at", "dense_404");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cutAt: the graph has no layer "dense_404"/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, "never.safetensors"))).toBe(false);
  });
});
