/**
 * HDF5 files whose global heap would make the HDF5 C library loop forever (the Keras 2 .h5 fuzz
 * test's Rng 184, case 755): kiln refuses them with a KilnError before h5wasm reads them, and still
 * reads valid files. Before HDF5 was read in a worker, the first test never returned without the
 * guard (the loop ran inside WebAssembly on the test's thread); now the worker's deadline would end
 * it after 60 s with "took more than 60 s" (hdf5-worker.test.ts), and the guard still says where
 * the file is corrupt, at once.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { importModel, KilnError } from "../../compiler/index.js";
import { unsafeGlobalHeap } from "../../compiler/import/hdf5-guard.js";
import { tinyDenseH5 } from "./keras-fixtures.js";

let good: Uint8Array;
/** Byte offset of the first global heap collection ("GCOL") of `good`. */
let gcol: number;

beforeAll(async () => {
  good = await tinyDenseH5();
  gcol = Buffer.from(good).indexOf("GCOL");
});

async function rejection(bytes: Uint8Array): Promise<KilnError> {
  const err = await importModel(bytes).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(KilnError);
  return err as KilnError;
}

/** The objects of the collection at `base` (16-byte header, 16-byte object headers, 8-byte lengths). */
function objects(b: Uint8Array, base: number): { at: number; index: number; size: number }[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const end = base + Number(view.getBigUint64(base + 8, true));
  const out = [];
  for (let p = base + 16; p + 16 <= end;) {
    const index = view.getUint16(p, true), size = Number(view.getBigUint64(p + 8, true));
    out.push({ at: p, index, size });
    p += index > 0 ? 16 + Math.ceil(size / 8) * 8 : size;
  }
  return out;
}

describe("a corrupt HDF5 global heap is a KilnError, not a hang", () => {
  test("the fuzzed Keras 2 .h5 (Rng 184, case 755: one object's size runs into a zero header) is refused, naming the file and the collection", async () => {
    const bytes = new Uint8Array(readFileSync(join(import.meta.dirname, "fixtures", "keras2-h5-heap-loop-seed184-case755.h5")));
    const err = await rejection(bytes);
    expect(err.diagnostics).toHaveLength(1);
    expect(err.diagnostics[0]!.path).toBe("model.h5");
    expect(err.diagnostics[0]!.message).toMatch(/global heap collection at byte 2048: object 0 at byte \d+ claims 0 bytes/);
  });

  test("a valid Keras 2 .h5 passes the check and imports", async () => {
    expect(gcol).toBeGreaterThan(0);
    expect(objects(good, gcol).length).toBeGreaterThan(2);
    expect(unsafeGlobalHeap(good)).toBeUndefined();
    const result = await importModel(good);
    expect((result.graph.layers as unknown[]).length).toBeGreaterThan(0);
  });

  test("a free-space object claiming 0 bytes (the library's walk would not advance) is refused", async () => {
    const bad = good.slice();
    const free = objects(bad, gcol).find((o) => o.index === 0)!;
    expect(free).toBeDefined();
    new DataView(bad.buffer).setBigUint64(free.at + 8, 0n, true);
    const err = await rejection(bad);
    expect(err.diagnostics[0]!.message).toContain(`object 0 at byte ${free.at} claims 0 bytes`);
  });

  test("an object claiming more than its collection holds, or a collection past the end of the file, is refused", async () => {
    const overrun = good.slice();
    const first = objects(overrun, gcol)[0]!;
    new DataView(overrun.buffer).setBigUint64(first.at + 8, 2n ** 40n, true);
    expect((await rejection(overrun)).diagnostics[0]!.message).toContain(`object ${first.index} at byte ${first.at} claims ${2 ** 40} bytes`);

    const pastEnd = good.slice();
    new DataView(pastEnd.buffer).setBigUint64(gcol + 8, BigInt(good.length), true);
    expect((await rejection(pastEnd)).diagnostics[0]!.message).toContain(`global heap collection at byte ${gcol} claims ${good.length} bytes (the file has ${good.length})`);
  });
});
