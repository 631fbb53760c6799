/**
 * Export to TF.js: kiln graphs and weights → model.json + one shard, loaded by TF.js's own
 * loadLayersModel (through tf.io.fromMemory, the same bytes the command line writes), predicting
 * what kiln predicts (1e-4 relative). Imported TF.js models go round trip (TF.js → kiln → TF.js);
 * the spec's MNIST CNN, written for kiln, goes out too. Ops TF.js lacks are refused by layer.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, exportTfjs, importModel, KilnError } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { loadModel } from "../../runtime/index.js";
import { writeSafetensors } from "../../runtime/safetensors.js";
import { relErr, rng } from "../compile/harness.js";
import { feedsFor, kilnModel, randomizeTf, saveArtifacts, tfPredict, toFiles } from "./helpers.js";
import { activationLayers, cnn, convolutions, functional, mobileNetBlock, normalizations, recurrentWrappers, sequence, spatial, wrappersAndNoise } from "./models.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

async function loadExported(graph: unknown, weights: Uint8Array): Promise<tf.LayersModel> {
  const out = exportTfjs(graph, weights);
  const json = JSON.parse(out.modelJson);
  expect(json.weightsManifest[0].paths).toEqual([out.shardName]);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: out.shard.slice().buffer }));
}

describe("kiln export --to tfjs", () => {
  for (const [what, build] of [["Sequential CNN", cnn], ["functional model with merges and a nested model", functional], ["sequence model", sequence], ["shape layers", spatial], ["Bidirectional and backwards GRU", recurrentWrappers], ["depthwise, separable and transposed convolutions", convolutions], ["activation layers and names", activationLayers], ["TimeDistributed, Dot and noise layers", wrappersAndNoise], ["normalizations without beta or gamma", normalizations], ["a MobileNetV2 block", mobileNetBlock]] as const) {
    test(`${what}: TF.js → kiln → TF.js predicts what kiln predicts`, async () => {
      const model = build();
      randomizeTf(model, 21);
      const imported = await importModel(toFiles(await saveArtifacts(model)));
      const kiln = await kilnModel(imported);
      const back = await loadExported(imported.graph, imported.weights);
      const feeds = feedsFor(imported.graph, 3, 22, 11);
      const ours = kiln.predict(feeds);
      const theirs = tfPredict(back, feeds, (imported.graph.inputs as { name: string }[]).map((i) => i.name), 3);
      (imported.graph.outputs as string[]).forEach((o, k) => expect(relErr(theirs[k]!, ours[o]!), o).toBeLessThan(1e-4));
    });
  }

  test("the spec's MNIST CNN (written for kiln, trained weights) exports and predicts the same in TF.js", async () => {
    const graph = JSON.parse(readFileSync("examples/mnist-cnn/graph.json", "utf8"));
    const { wasm } = await compile(graph, { maxBatch: 2 });
    const model = await loadModel(wasm);
    const next = rng(5);
    const weights: Record<string, Float32Array> = {};
    for (const w of model.weights) weights[w.name] = Float32Array.from({ length: w.shape.reduce((a, b) => a * b, 1) }, () => (next() - 0.5) * 0.2);
    model.setWeights(weights);
    const st = writeSafetensors(Object.fromEntries(model.weights.map((w) => [w.name, { dtype: "F32" as const, shape: w.shape, data: weights[w.name]! }])));
    const back = await loadExported(graph, st);
    const feeds = feedsFor(graph, 2, 6);
    expect(relErr(tfPredict(back, feeds, ["image"], 2)[0]!, model.predict(feeds).probs!)).toBeLessThan(1e-4);
  });

  test("ops TF.js has no layer for are refused, one problem per layer", async () => {
    const graph = {
      format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [4, 3] }],
      layers: [
        { name: "rec", op: "gru", units: 2, return_sequences: true },
        { name: "att", op: "multi_head_attention", num_heads: 1, key_dim: 2 }, // on rec: [4, 2] -> [4, 2]
        { name: "diff", op: "subtract", inputs: ["rec", "att"] },
      ],
    };
    const err = (() => {
      try {
        exportTfjs(graph, new Uint8Array());
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KilnError);
    const lines = (err as KilnError).message.split("\n");
    expect(lines).toEqual([
      "/layers/0, layer rec: cannot export gru to TF.js: TF.js's GRU computes reset_after=false only; this gru is reset_after=true",
      "/layers/1, layer att: cannot export multi_head_attention to TF.js: TF.js has no MultiHeadAttention layer",
      "/layers/2, layer diff: cannot export subtract to TF.js: TF.js has no Subtract layer",
    ]);
  });

  test("on the command line: writes model.json and the shard into the directory", async () => {
    const model = cnn();
    randomizeTf(model, 23);
    const imported = await importModel(toFiles(await saveArtifacts(model)));
    const dir = mkdtempSync(join(tmpdir(), "kiln-export-"));
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "g.json"), JSON.stringify(imported.graph));
    writeFileSync(join(dir, "w.safetensors"), imported.weights);
    let err = "";
    const code = await main(["export", join(dir, "g.json"), "--weights", join(dir, "w.safetensors"), "--to", "tfjs", "-o", join(dir, "out")], { out: () => undefined, err: (t) => void (err += t) });
    expect(err).toBe("");
    expect(code).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, "out", "model.json"), "utf8"));
    const shard = readFileSync(join(dir, "out", "group1-shard1of1.bin"));
    const back = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(shard).buffer }));
    const kiln = await kilnModel(imported);
    const feeds = feedsFor(imported.graph, 2, 24);
    const input = (imported.graph.inputs as { name: string }[])[0]!.name;
    expect(relErr(tfPredict(back, feeds, [input], 2)[0]!, kiln.predict(feeds)[(imported.graph.outputs as string[])[0]!]!)).toBeLessThan(1e-4);
  });
});
