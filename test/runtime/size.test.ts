/**
 * The runtime's size counts what it loads (issue 15 item 10): everything a predict-only app loads
 * (kiln/runtime/predict: its entry chunk and the chunks it imports statically; it makes no dynamic
 * import on every load), measured on dist/ as scripts/runtime-size.mjs reports it, must stay within
 * the limit. `npm test` builds dist/ first.
 */
import { expect, test } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { LIMIT, measure } from "../../scripts/runtime-size.mjs";

const names = (group: { files: [string, number][] }) => group.files.map(([f]) => f);

test("a predict-only app loads at most LIMIT bytes of runtime, minified and gzipped", async () => {
  const { predictOnly, other, full, fullOther } = await measure();
  console.log(`runtime size: predict-only ${predictOnly.bytes} B minified, ${predictOnly.gzipBytes} B gzipped (limit ${LIMIT.bytes}, ${LIMIT.gzipBytes}); kiln/runtime ${full.bytes} B, ${full.gzipBytes} B`);
  const files = names(predictOnly);
  // The predict entry, the model that predicts, the weights reader and the manifest checks are counted.
  expect(files).toEqual(expect.arrayContaining(["dist/runtime/predict.js", "dist/runtime/predictor.js", "dist/runtime/weights-io.js", "dist/runtime/manifest.js", "dist/runtime/open.js"]));
  // Not the training, saving and thread code, nor the checks that live with it, nor the capability
  // probes, nor the sentences of a refused load or weights file (fetched only then).
  for (const lazy of ["model.js", "train.js", "fit.js", "threads.js", "debug.js", "init.js", "decode.js", "stream.js", "load-errors.js", "weights-errors.js", "capabilities.js", "trap-stack.js"]) {
    expect(files).not.toContain(`dist/runtime/${lazy}`);
  }
  expect(names(other)).toEqual(expect.arrayContaining(["dist/runtime/init.js", "dist/runtime/load-errors.js", "dist/runtime/weights-errors.js", "dist/runtime/threads.js", "dist/runtime/trap-stack.js"]));
  expect(names(other)).not.toContain("dist/runtime/train.js"); // not even for a decode module
  // kiln/runtime's Model carries training's entry points, saving and the weights-file sentences; the training code itself stays lazy.
  expect(names(full)).toEqual(expect.arrayContaining(["dist/runtime/model.js", "dist/runtime/weights-errors.js", "dist/runtime/capabilities.js"]));
  expect(names(fullOther)).toEqual(expect.arrayContaining(["dist/runtime/train.js", "dist/runtime/fit.js", "dist/runtime/load-errors.js"]));
  expect(predictOnly.bytes).toBeLessThanOrEqual(LIMIT.bytes);
  expect(predictOnly.gzipBytes).toBeLessThanOrEqual(LIMIT.gzipBytes);
}, 60_000);
