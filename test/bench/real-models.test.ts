/**
 * The bench's issue-19 model builders (bench/lib/real-models.js): each gives the parameter count
 * its published Keras model reports, and the MobileNetV2 one (depthwise 3×3, ReLU6, zero padding,
 * BN, residual adds) goes through kiln's importer to the same outputs as TF.js, at a reduced
 * resolution so the test stays short. No timing is asserted.
 */
import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, importModel } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
// @ts-expect-error -- plain JavaScript modules of the bench
import { tf } from "../../bench/lib/tfjs-model.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { mobileNetV2, resNet50, inceptionV3, resNet20, countParams, randomizeWeights, tfjsFiles } from "../../bench/lib/real-models.js";
// @ts-expect-error -- plain JavaScript module of the bench
import { forwardFlops } from "../../bench/lib/graphs.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Builds a model, counts its weights (Keras's "Total params") and frees it. */
function params(build: () => { dispose(): void }): number {
  const m = build();
  const n = countParams(m);
  m.dispose();
  return n;
}

describe("issue-19 model builders", () => {
  // The counts do not depend on the input size, so the larger networks are built small.
  test("parameter counts are the published ones (keras.applications, 1000-class top; ResNet-20 10 classes)", () => {
    expect(params(() => mobileNetV2({ size: 96 }))).toBe(3_538_984);
    expect(params(() => resNet50({ size: 64 }))).toBe(25_636_712);
    expect(params(() => inceptionV3({ size: 75 }))).toBe(23_851_784);
    expect(params(() => resNet20())).toBe(274_442);
  });

  test("MobileNetV2 imported into kiln predicts what TF.js predicts (within 1e-4 of the largest output)", async () => {
    const m = randomizeWeights(mobileNetV2({ size: 64, classes: 20 }), 7);
    const imported = await importModel(await tfjsFiles(m));
    const ops = new Set((imported.graph.layers as { op: string }[]).map((l) => l.op));
    for (const op of ["depthwise_conv2d", "zero_padding2d", "batch_normalization", "add"]) expect(ops).toContain(op);
    const { wasm } = await compile(imported.graph, { maxBatch: 2 });
    const kiln = await loadModel(wasm, { weights: imported.weights });
    const x = Float32Array.from({ length: 2 * 64 * 64 * 3 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37));
    const got = kiln.predict({ [kiln.inputs[0]!.name]: x })[kiln.outputs[0]!.name]!;
    const y = m.predict(tf.tensor(x, [2, 64, 64, 3]));
    const want: Float32Array = y.dataSync();
    y.dispose();
    m.dispose();
    expect(got.length).toBe(want.length);
    const largest = Math.max(...want);
    // A random network's softmax must not be flat, or any output would agree.
    expect(largest).toBeGreaterThan(2 * Math.min(...want));
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThanOrEqual(1e-4 * largest);
    // The bench's FLOP count walks every layer of the imported graph (strided, padded, depthwise).
    expect(forwardFlops(imported.graph)).toBeGreaterThan(0);
  });
});
