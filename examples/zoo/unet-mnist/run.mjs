/**
 * The zoo's U-Net (examples/zoo/graphs/unet.json, 64×64×1 → per-pixel sigmoid) segmenting MNIST
 * digits from their background. Each 28×28 digit of the `mnist` package is placed at a seeded
 * random spot of a 64×64 canvas with seeded Gaussian noise (σ 0.3, clipped to [0, 1]) over the
 * whole canvas; the target mask is the digit's own clean pixels > 0.5. Held-out digits (the
 * package's test part, shared/mnist.mjs) give pixel accuracy and foreground IoU, next to the
 * best single global threshold on the noisy pixel (chosen on the training canvases), which
 * shows what per-pixel thresholding alone reaches.
 * Usage: node examples/zoo/unet-mnist/run.mjs [--seed 1] [--epochs 5] [--quick] [--summary out.json]
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseOptions } from "../../shared/cli.mjs";
import { mnistPart } from "../../shared/mnist.mjs";
import { writeLearningCurve } from "../../shared/plot.mjs";
import { rng } from "../../shared/rng.mjs";
import { writeSummary } from "../../shared/summary.mjs";
import { buildModel, fitWithProgress } from "../../shared/train.mjs";

const SIDE = 64, DIGIT = 28, NOISE = 0.3, MASK_THRESHOLD = 0.5;
const here = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");
const opts = parseOptions({
  name: "unet-mnist", description: "U-Net segmenting MNIST digits on noisy 64×64 canvases.", outDir: here, defaults: { epochs: 5 },
  extra: (p) => p.option("--batch-size <n>", "examples per step", Number, 16).option("--per-digit <n>", "training digits of each class", Number, 100),
});
if (opts.quick) opts.epochs = Math.min(opts.epochs, 2);
const perDigit = opts.quick ? 8 : opts.perDigit;
const seed = opts.seed ?? 1;

/** A standard normal sample (Box–Muller) from a uniform source. */
const gaussian = (random) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/** Noisy canvases `image` [N, 64, 64, 1] and masks `target` (the placed digit's pixels > 0.5). */
function canvases(part, count, random) {
  const image = new Float32Array(count * SIDE * SIDE), target = new Float32Array(count * SIDE * SIDE);
  for (let n = 0; n < count; n++) {
    const top = Math.floor(random() * (SIDE - DIGIT + 1)), left = Math.floor(random() * (SIDE - DIGIT + 1));
    const base = n * SIDE * SIDE;
    for (let i = 0; i < SIDE * SIDE; i++) image[base + i] = NOISE * gaussian(random);
    for (let y = 0; y < DIGIT; y++) {
      for (let x = 0; x < DIGIT; x++) {
        const v = part.image[n * DIGIT * DIGIT + y * DIGIT + x], at = base + (top + y) * SIDE + left + x;
        image[at] += v;
        target[at] = v > MASK_THRESHOLD ? 1 : 0;
      }
    }
    for (let i = base; i < base + SIDE * SIDE; i++) image[i] = Math.min(1, Math.max(0, image[i]));
  }
  return { image, target };
}

/** Pixel accuracy and foreground IoU of `pred[i] > 0.5` (or of a threshold on the input) against the mask. */
function scores(decide, target) {
  let right = 0, inter = 0, union = 0;
  for (let i = 0; i < target.length; i++) {
    const p = decide(i), t = target[i] === 1;
    if (p === t) right++;
    if (p && t) inter++;
    if (p || t) union++;
  }
  return { pixelAccuracy: right / target.length, iou: inter / union };
}

const random = rng(seed);
const trainPart = mnistPart("train", { perDigit }), testPart = mnistPart("test", { perDigit: Math.ceil(perDigit / 4) });
const train = canvases(trainPart, trainPart.count, random), test = canvases(testPart, testPart.count, random);
console.log(`canvases: ${trainPart.count} training, ${testPart.count} held-out digits (64×64, noise σ ${NOISE}); foreground ${(100 * test.target.reduce((a, b) => a + b, 0) / test.target.length).toFixed(1)}% of held-out pixels`);

// Baseline: the one global threshold on the noisy pixel that maximizes training IoU.
let best = { threshold: 0, iou: -1 };
for (let t = 0.05; t < 1; t += 0.05) {
  const { iou } = scores((i) => train.image[i] > t, train.target);
  if (iou > best.iou) best = { threshold: Number(t.toFixed(2)), iou };
}
const baseline = { threshold: best.threshold, ...scores((i) => test.image[i] > best.threshold, test.target) };
console.log(`baseline (pixel > ${baseline.threshold}): held-out pixel accuracy ${(baseline.pixelAccuracy * 100).toFixed(2)}%, IoU ${baseline.iou.toFixed(3)}`);

const graph = JSON.parse(readFileSync(`${here}/../graphs/unet.json`, "utf8"));
const { model, compileMs } = await buildModel(graph, { seed, maxBatch: Math.max(16, opts.batchSize), optimizeLevel: opts.optimize });
const feeds = { image: train.image, target: train.target }, testFeeds = { image: test.image, target: test.target };
const lossBefore = model.evaluate(feeds).loss;
const { history, epochSeconds } = await fitWithProgress(model, feeds, {
  count: trainPart.count, epochs: opts.epochs, batchSize: opts.batchSize, validationData: testFeeds,
});
const mask = model.predict({ image: test.image }).mask;
const unet = scores((i) => mask[i] > 0.5, test.target);
const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
console.log(`U-Net: held-out pixel accuracy ${(unet.pixelAccuracy * 100).toFixed(2)}%, IoU ${unet.iou.toFixed(3)} on ${testPart.count} digits; training ${trainSeconds.toFixed(1)} s (${opts.epochs} epochs); load average ${loadavg()[0].toFixed(1)}`);

writeLearningCurve(`${opts.out}/learning-curve.svg`, history, { title: "U-Net on noisy MNIST canvases: train vs held-out (validation) per epoch" });
writeSummary(opts.summary, {
  example: "zoo/unet-mnist", seed, epochs: opts.epochs, batchSize: opts.batchSize, trainCount: trainPart.count, testCount: testPart.count,
  noise: NOISE, maskThreshold: MASK_THRESHOLD, compileSeconds: compileMs / 1000, lossBefore, history, epochSeconds, trainSeconds,
  testPixelAccuracy: unet.pixelAccuracy, testIoU: unet.iou, baseline, loadAverage: loadavg()[0],
});
