/**
 * Real MNIST digits from the `mnist` package for tests: the first `perDigit` examples of each digit,
 * interleaved (0, 1, …, 9, 0, 1, …) so that any prefix holds several classes. Pixels are in [0, 1].
 */
import { createRequire } from "node:module";

// The package is CommonJS without types: a plain require keeps the type checker out of it.
const mnist = createRequire(import.meta.url)("mnist") as { length: number; raw: number[] }[] & Record<number, { length: number; raw: number[] }>;

const PIXELS = 28 * 28;

export function mnistDigits(perDigit: number): { image: Float32Array; label: Int32Array; count: number } {
  const count = perDigit * 10;
  const image = new Float32Array(count * PIXELS);
  const label = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const digit = r % 10, index = Math.floor(r / 10);
    image.set(mnist[digit]!.raw.slice(index * PIXELS, (index + 1) * PIXELS), r * PIXELS);
    label[r] = digit;
  }
  return { image, label, count };
}
