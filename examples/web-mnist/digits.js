/**
 * Digits for the web demo, shared by the page and the training worker: decoding the static data
 * file that prepare.mjs writes, and turning a drawing into an MNIST-like 28×28 input (the ink's
 * bounding box scaled to fit 20×20, then placed so its center of mass sits at the image center,
 * as the MNIST digits were made).
 */

/** Decodes mnist.bin: `{ train, test }`, each `{ pixels: Uint8Array [N·784], labels: Uint8Array [N], count }`. */
export function decodeDigits(buffer) {
  const bytes = new Uint8Array(buffer);
  const head = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (bytes.length < 16 || magic !== "KMN1") throw new Error(`mnist.bin: expected the "KMN1" header, got ${JSON.stringify(magic)}`);
  const trainCount = head.getUint32(4, true), testCount = head.getUint32(8, true), per = head.getUint32(12, true);
  const total = trainCount + testCount;
  if (per !== 784 || bytes.length !== 16 + total * 785) {
    throw new Error(`mnist.bin: expected ${16 + total * 785} bytes for ${total} digits of 784 pixels, got ${bytes.length} (pixels per image ${per})`);
  }
  const labels = bytes.subarray(16 + total * 784);
  const part = (from, count) => ({ pixels: bytes.subarray(16 + from * 784, 16 + (from + count) * 784), labels: labels.subarray(from, from + count), count });
  return { train: part(0, trainCount), test: part(trainCount, testCount) };
}

/** Rows `rows` of a part as model feeds: image floats in [0, 1] and int32 labels. */
export function feedsOf(part, rows) {
  const image = new Float32Array(rows.length * 784);
  const label = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    const src = part.pixels.subarray(r * 784, (r + 1) * 784);
    for (let p = 0; p < 784; p++) image[i * 784 + p] = src[p] / 255;
    label[i] = part.labels[r];
  });
  return { image, label };
}

const INK = 0.05; // ink below this does not count towards the bounding box

/**
 * An MNIST-like input from a drawing: `ink` holds one value in [0, 1] per canvas pixel (row-major,
 * `width` × `height`). Returns 784 floats, or undefined when nothing is drawn.
 */
export function toMnist(ink, width, height) {
  const box = inkBox(ink, width, height);
  if (!box) return undefined;
  const scale = 20 / Math.max(box.w, box.h);
  const w = Math.max(1, Math.round(box.w * scale)), h = Math.max(1, Math.round(box.h * scale));
  const patch = resample(ink, width, box, w, h);
  // Center of mass, in pixel-center coordinates of the patch; its place in 28×28 puts it at 14, 14.
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = patch[y * w + x];
    mass += v; mx += v * (x + 0.5); my += v * (y + 0.5);
  }
  const left = clamp(Math.round(14 - mx / mass), 0, 28 - w), top = clamp(Math.round(14 - my / mass), 0, 28 - h);
  const out = new Float32Array(784);
  for (let y = 0; y < h; y++) out.set(patch.subarray(y * w, (y + 1) * w), (top + y) * 28 + left);
  return out;
}

function inkBox(ink, width, height) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    if (ink[y * width + x] <= INK) continue;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return x1 < 0 ? undefined : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Area-averages the box into w × h by sampling k × k points per output pixel (k covers the source area). */
function resample(ink, width, box, w, h) {
  const sx = box.w / w, sy = box.h / h;
  const k = clamp(Math.ceil(Math.max(sx, sy)), 2, 16);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let sum = 0;
    for (let j = 0; j < k; j++) for (let i = 0; i < k; i++) {
      const px = Math.min(box.x + Math.floor((x + (i + 0.5) / k) * sx), box.x + box.w - 1);
      const py = Math.min(box.y + Math.floor((y + (j + 0.5) / k) * sy), box.y + box.h - 1);
      sum += ink[py * width + px];
    }
    out[y * w + x] = Math.min(1, sum / (k * k));
  }
  return out;
}

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
