/**
 * The runtime's size counts what it loads (issue 15 item 10): everything a predict-only app loads
 * (the core and the chunks every loadModel imports), measured on dist/ as scripts/runtime-size.mjs
 * reports it, must stay within the limit. `npm test` builds dist/ first.
 */
import { expect, test } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { LIMIT, measure } from "../../scripts/runtime-size.mjs";

test("a predict-only app loads at most LIMIT bytes of runtime, minified and gzipped", async () => {
  const { predictOnly, other } = await measure();
  console.log(`runtime size: predict-only ${predictOnly.bytes} B minified, ${predictOnly.gzipBytes} B gzipped (limit ${LIMIT.bytes}, ${LIMIT.gzipBytes})`);
  const files = predictOnly.files.map(([f]: [string]) => f);
  // The chunks loadModel always imports are counted, and the training and thread code are not needed to predict.
  expect(files).toEqual(expect.arrayContaining(["dist/runtime/index.js", "dist/runtime/model.js", "dist/runtime/weights-io.js", "dist/runtime/manifest.js"]));
  // Nor the manifest checks of training, threads and debug builds that live with that code, nor the sentences of a refused load.
  for (const lazy of ["train.js", "threads.js", "debug.js", "init.js", "fit.js", "load-errors.js"]) expect(files).not.toContain(`dist/runtime/${lazy}`);
  expect(other.files.map(([f]: [string]) => f)).toEqual(expect.arrayContaining(["dist/runtime/train.js", "dist/runtime/init.js", "dist/runtime/load-errors.js"]));
  expect(predictOnly.bytes).toBeLessThanOrEqual(LIMIT.bytes);
  expect(predictOnly.gzipBytes).toBeLessThanOrEqual(LIMIT.gzipBytes);
}, 60_000);
