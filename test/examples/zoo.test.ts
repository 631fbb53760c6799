/**
 * examples/zoo: every graph is the one generate.mjs writes, `kiln check` prints the parameter
 * counts Keras reports for the same model (computed below from Keras's formulas, not from kiln),
 * it compiles and a few train steps on one small batch lower the loss, and its compiled
 * gradients match the float64 reference interpreter's on a small batch (1e-4 for every model).
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { referenceGradients } from "../reference/gradients.js";
import { build, rng } from "../compile/harness.js";
import { ROOT } from "./helpers.js";

const run = promisify(execFile);
const ZOO_DIR = join(ROOT, "examples/zoo");
const readGraph = (name: string) => JSON.parse(readFileSync(join(ZOO_DIR, "graphs", `${name}.json`), "utf8"));

// Keras's parameter formulas (keras.layers.*.count_params()).
const conv2d = (k: number, c: number, f: number, bias = true) => k * k * c * f + (bias ? f : 0);
const conv1d = (k: number, c: number, f: number) => k * c * f + f;
const dense = (d: number, u: number) => d * u + u;
/** BatchNormalization: gamma, beta trainable; moving mean and variance not. */
const bn = (c: number) => ({ trainable: 2 * c, frozen: 2 * c });
const layerNorm = (d: number) => 2 * d;
/** MultiHeadAttention with key_dim = value_dim = d/heads: query, key, value and output projections with biases. */
const mha = (d: number, heads: number) => {
  const keyDim = d / heads;
  return 3 * (d * heads * keyDim + heads * keyDim) + (heads * keyDim * d + d);
};
const encoderBlock = (d: number, ff: number, heads: number) => mha(d, heads) + dense(d, ff) + dense(ff, d) + 2 * layerNorm(d);

interface Counts { total: number; trainable: number }
const plain = (total: number): Counts => ({ total, trainable: total });

function resnet20Counts(): Counts {
  let trainable = conv2d(3, 3, 16), frozen = 0;
  const addBn = (c: number) => { trainable += bn(c).trainable; frozen += bn(c).frozen; };
  addBn(16);
  let c = 16;
  for (const f of [16, 32, 64]) {
    for (let b = 0; b < 3; b++) {
      trainable += conv2d(3, c, f) + conv2d(3, f, f);
      addBn(f); addBn(f);
      if (c !== f) trainable += conv2d(1, c, f); // projection shortcut
      c = f;
    }
  }
  trainable += dense(64, 10);
  return { total: trainable + frozen, trainable };
}

function densenetCounts(): Counts {
  const k = 12;
  let trainable = conv2d(3, 3, 2 * k, false), frozen = 0, c = 2 * k;
  const addBn = (ch: number) => { trainable += bn(ch).trainable; frozen += bn(ch).frozen; };
  for (let block = 0; block < 3; block++) {
    for (let l = 0; l < 6; l++) {
      addBn(c); trainable += conv2d(1, c, 4 * k, false);
      addBn(4 * k); trainable += conv2d(3, 4 * k, k, false);
      c += k;
    }
    if (block < 2) { addBn(c); trainable += conv2d(1, c, Math.floor(c / 2), false); c = Math.floor(c / 2); }
  }
  addBn(c);
  trainable += dense(c, 10);
  return { total: trainable + frozen, trainable };
}

/** ResNet-20 plus a squeeze-and-excitation gate per block: dense C→C/8 and C/8→C, with biases. */
function seResnet20Counts(): Counts {
  const base = resnet20Counts();
  const se = [16, 32, 64].reduce((sum, c) => sum + 3 * (dense(c, c / 8) + dense(c / 8, c)), 0);
  return { total: base.total + se, trainable: base.trainable + se };
}

/**
 * keras.applications.MobileNetV2(alpha=0.35, input 96×96×3) with a 10-class head: widths from
 * Keras's _make_divisible(int(filters·α), 8) — 16 → 8, 24 → 8, 32 → 16, 64 → 24, 96 → 32,
 * 160 → 56, 320 → 112; the stem 32·α → 16 —, no conv biases, depthwise kernels 3·3·C.
 */
function mobilenetv2Counts(): Counts {
  let trainable = 0, frozen = 0;
  const addBn = (c: number) => { trainable += bn(c).trainable; frozen += bn(c).frozen; };
  trainable += conv2d(3, 3, 16, false); addBn(16);
  let c = 16;
  const blocks: [number, number][] = [[8, 1], [8, 6], [8, 6], [16, 6], [16, 6], [16, 6], [24, 6], [24, 6], [24, 6], [24, 6], [32, 6], [32, 6], [32, 6], [56, 6], [56, 6], [56, 6], [112, 6]];
  for (const [out, expansion] of blocks) {
    const wide = expansion * c;
    if (expansion > 1) { trainable += conv2d(1, c, wide, false); addBn(wide); }
    trainable += 3 * 3 * wide; addBn(wide); // depthwise, depth_multiplier 1, no bias
    trainable += conv2d(1, wide, out, false); addBn(out);
    c = out;
  }
  trainable += conv2d(1, c, 1280, false); addBn(1280);
  trainable += dense(1280, 10);
  return { total: trainable + frozen, trainable };
}

const inceptionBlock = (c: number, [b1, b3r, b3, b5r, b5, bp]: number[]) =>
  conv2d(1, c, b1) + conv2d(1, c, b3r) + conv2d(3, b3r, b3) + conv2d(1, c, b5r) + conv2d(5, b5r, b5) + conv2d(1, c, bp);

const KERAS_COUNTS: Record<string, Counts> = {
  resnet20: resnet20Counts(), // Keras's CIFAR-10 example reports 274,442 for ResNet20 v1
  inception: plain(conv2d(3, 3, 32) + inceptionBlock(32, [16, 24, 32, 4, 8, 8]) + inceptionBlock(64, [32, 32, 48, 8, 24, 16]) + dense(120, 10)),
  densenet: densenetCounts(),
  unet: plain(
    conv2d(3, 1, 8) + conv2d(3, 8, 8) + conv2d(3, 8, 16) + conv2d(3, 16, 16) + conv2d(3, 16, 32) + conv2d(3, 32, 32) +
    conv2d(3, 32, 64) + conv2d(3, 64, 64) +
    conv2d(2, 64, 32) + conv2d(3, 64, 32) + conv2d(3, 32, 32) + // up3: 2×2 conv, then convs over [skip 32 ‖ up 32]
    conv2d(2, 32, 16) + conv2d(3, 32, 16) + conv2d(3, 16, 16) +
    conv2d(2, 16, 8) + conv2d(3, 16, 8) + conv2d(3, 8, 8) + conv2d(1, 8, 1)),
  wavenet: plain(30 * 16 + conv1d(2, 16, 32) + 4 * (2 * conv1d(2, 32, 32) + 2 * conv1d(1, 32, 32)) + conv1d(1, 32, 32) + dense(32, 1)),
  bert: plain(1000 * 64 + 2 * 64 + 32 * 64 + layerNorm(64) + 2 * encoderBlock(64, 256, 4) + dense(64, 64) + dense(64, 2)),
  gpt: plain(1000 * 64 + 32 * 64 + 2 * encoderBlock(64, 256, 4) + layerNorm(64) + dense(64, 1000)),
  se_resnet20: seResnet20Counts(),
  mobilenetv2: mobilenetv2Counts(),
};

/** The figures computed by hand once from the formulas above, so a slip in a helper shows too. */
const KERAS_TOTALS: Record<string, number> = {
  resnet20: 274_442, inception: 35_990, densenet: 181_210, unet: 120_681, wavenet: 27_713, bert: 170_562, gpt: 231_144,
  se_resnet20: 278_852,
  // keras.applications.MobileNetV2(alpha=0.35, include_top=False) has 410,208; plus dense(1280, 10).
  mobilenetv2: 410_208 + 12_810,
};

const graphNames = (folder: string) => (existsSync(join(ZOO_DIR, folder)) ? readdirSync(join(ZOO_DIR, folder)) : []).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
/** The graphs on main's ops, and those in pending/ that need ops from branches not yet merged (moved to graphs/ when they are). */
const MODELS = graphNames("graphs"), PENDING_MODELS = graphNames("pending");
/**
 * Input sides for the gradient check where the graph's own would make the float64 reference
 * slow: DenseNet-BC-40 at 16×16 instead of 32×32 (its 139 layers take ~20 s in the interpreter at
 * 32×32 under load, ~5 s at 16×16; every layer still sees 4×4 positions or more). MobileNetV2 keeps
 * 96×96 (~12 s): at 64×64 or 32×32 its last blocks have 2×2 or 1×1 positions, where batch
 * normalization over 8 or 2 values per channel is so ill-conditioned (gradients up to 4e5) that
 * f32 and float64 part by 3e-4 or 1e-2.
 */
const GRADIENT_SIDE: Record<string, number> = { densenet: 16 };
/**
 * The sgd learning rate of the gradient check: the weight change w0 − w1 divided by it is the
 * gradient. With learning rate 1 that change was rounded to the f32 spacing of the weight
 * (|w| ≈ 0.05 against gradients of 1e-6 per element in U-Net's and WaveNet's deep kernels), which
 * was the whole 2–9e-4 "error" measured there before (the compiled gradients were right to
 * 1.5e-6 and 3.7e-7); 1024 (a power of two: the division is exact) makes that rounding negligible.
 */
const GRADIENT_LR = 1024;
/**
 * Gradients that are zero in exact arithmetic (a conv bias in front of training-mode batch
 * normalization, a batch normalization's beta in front of another without a residual; the float64
 * reference gives 1e-16..1e-14) come out of f32 as the rounding noise of sums that cancel: at
 * most 4.3e-7 of the largest gradient's norm measured (resnet20 stem_conv/bias at batch 2).
 * They are held to 1e-5 of it; every other gradient to 1e-4 of its own norm.
 */
const EXACT_ZERO = 1e-9, ZERO_NOISE = 1e-5;

const sameShape = (a: { shape: number[] }, b: { shape: number[] }) => a.shape.join() === b.shape.join();

/** A fixed small batch: inputs in [−1, 1) or ids below the vocabulary, labels and 0/1 masks for the targets. */
function batchFeeds(graph: any, batch: number, seed: number): Record<string, Float32Array | Int32Array> {
  const next = rng(seed);
  const feeds: Record<string, Float32Array | Int32Array> = {};
  const size = (shape: number[]) => batch * shape.reduce((a, b) => a * b, 1);
  for (const input of graph.inputs) {
    if (input.dtype === "int32") {
      const vocab = graph.layers.find((l: any) => l.op === "embedding" && l.inputs[0] === input.name).input_dim;
      feeds[input.name] = Int32Array.from({ length: size(input.shape) }, () => Math.floor(next() * vocab));
    } else {
      feeds[input.name] = Float32Array.from({ length: size(input.shape) }, () => next() * 2 - 1);
    }
  }
  for (const target of graph.targets) {
    const loss = graph.training.loss;
    if (target.dtype === "int32") {
      const out = graph.layers.find((l: any) => l.name === loss.output);
      feeds[target.name] = Int32Array.from({ length: size(target.shape) }, () => Math.floor(next() * out.units));
    } else if (sameShape(target, graph.inputs[0])) {
      // A segmentation target: the foreground is where the input is positive (learnable, unlike noise).
      feeds[target.name] = Float32Array.from(feeds[graph.inputs[0].name]!, (v) => (v > 0 ? 1 : 0));
    } else {
      feeds[target.name] = Float32Array.from({ length: size(target.shape) }, () => (next() < 0.5 ? 0 : 1));
    }
  }
  return feeds;
}

describe("examples/zoo", () => {
  test("generate.mjs writes exactly the checked-in graphs", async () => {
    const { zooGraphs } = await import(join(ZOO_DIR, "generate.mjs"));
    const generated = zooGraphs();
    expect(Object.keys(generated).sort()).toEqual([...MODELS].sort());
    for (const name of MODELS) expect(generated[name], name).toEqual(readGraph(name));
  });

  test("generate.mjs writes exactly the checked-in pending graphs", async () => {
    const { PENDING } = await import(join(ZOO_DIR, "generate.mjs"));
    expect(Object.keys(PENDING).sort()).toEqual([...PENDING_MODELS].sort());
    for (const [name, { make }] of Object.entries(PENDING) as [string, { make: () => object }][]) {
      expect(make(), name).toEqual(JSON.parse(readFileSync(join(ZOO_DIR, "pending", `${name}.json`), "utf8")));
    }
  });

  test("the hand-computed Keras totals agree with the formulas", () => {
    expect(Object.keys(KERAS_COUNTS).sort()).toEqual([...MODELS, ...PENDING_MODELS].sort());
    for (const name of Object.keys(KERAS_COUNTS)) expect(KERAS_COUNTS[name]!.total, name).toBe(KERAS_TOTALS[name]);
  });

  for (const name of MODELS) {
    describe(name, () => {
      test("kiln check prints the parameter counts Keras reports", async () => {
        const { stdout } = await run(process.execPath, [join(ROOT, "bin/kiln.js"), "check", join(ZOO_DIR, "graphs", `${name}.json`)], { cwd: ROOT });
        const count = (label: string) => Number(new RegExp(`${label} params: ([\\d,]+)`).exec(stdout)![1]!.replace(/,/g, ""));
        const keras = KERAS_COUNTS[name]!;
        expect(count("Total")).toBe(keras.total);
        expect(count("Trainable")).toBe(keras.trainable);
        expect(count("Non-trainable")).toBe(keras.total - keras.trainable);
      }, 60_000);

      test("compiles, and train steps on one batch lower the loss", async () => {
        const graph = readGraph(name);
        const { model } = await build(graph, { maxBatch: 4 });
        const feeds = batchFeeds(graph, 4, 7);
        const losses = Array.from({ length: 10 }, () => model.trainStep(feeds).loss);
        for (const l of losses) expect(Number.isFinite(l)).toBe(true);
        expect(losses.at(-1)!, losses.join(", ")).toBeLessThan(losses[0]! * 0.97);
      }, 120_000);

      test(`compiled gradients match the float64 reference at batch 2${GRADIENT_SIDE[name] ? ` (input ${GRADIENT_SIDE[name]}×${GRADIENT_SIDE[name]})` : ""}`, async () => {
        // One sgd step: the weight change over the learning rate is the gradient. No dropout, so
        // the reference needs no masks.
        const graph = readGraph(name);
        graph.training.optimizer = { type: "sgd", learning_rate: GRADIENT_LR };
        for (const l of graph.layers) if (l.op === "dropout") l.rate = 0;
        const side = GRADIENT_SIDE[name];
        if (side) graph.inputs[0].shape = [side, side, graph.inputs[0].shape[2]];
        const { model } = await build(graph, { maxBatch: 2 });
        const w0 = model.getWeights();
        const feeds = batchFeeds(graph, 2, 11);
        const step = model.trainStep(feeds);
        const w1 = model.getWeights();
        const ref = referenceGradients(graph, w0, feeds, feeds, 2);
        expect(Math.abs(step.loss - ref.loss) / Math.abs(ref.loss), "loss").toBeLessThan(1e-4);
        const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
        const scale = Math.max(...Object.values(ref.grads).map(norm));
        expect(Object.keys(ref.grads).length).toBeGreaterThan(5);
        for (const [weight, g] of Object.entries(ref.grads)) {
          const got = Float64Array.from(w0[weight]!, (v, i) => (v - w1[weight]![i]!) / GRADIENT_LR);
          if (norm(g) <= EXACT_ZERO * scale) {
            expect(norm(got) / scale, `${weight} (zero in exact arithmetic)`).toBeLessThan(ZERO_NOISE);
          } else {
            // Tiny non-zero gradients are measured against 1e-3 of the largest, not their own size.
            expect(norm(got.map((v, i) => v - g[i]!)) / Math.max(norm(g), 1e-3 * scale), weight).toBeLessThan(1e-4);
          }
        }
      }, 300_000);
    });
  }
});
