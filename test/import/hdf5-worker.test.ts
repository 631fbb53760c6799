/**
 * HDF5 is read in a worker thread with a deadline (compiler/import/hdf5-reader.ts): a file on
 * which the HDF5 library never finishes ends in a KilnError naming the file, not a hung process.
 * The real hanging file is the Keras 2 .h5 fuzz case (Rng 184, case 755) read with the global heap
 * check bypassed (readHdf5 directly); importModel and the command line are checked with the test
 * hook that makes the next read's worker spin (or allocate past its heap limit). What the HDF5 library prints stays in the worker.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { importModel, KilnError } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { readHdf5, hangNextReadForTest } from "../../compiler/import/hdf5-reader.js";
import { unsafeGlobalHeap } from "../../compiler/import/hdf5-guard.js";
import { tinyDenseH5 } from "./keras-fixtures.js";

const H5_REQUEST = { rootAttrs: ["model_config"], roots: ["model_weights"], groupAttrs: ["layer_names", "weight_names"] };
let good: Uint8Array;

beforeAll(async () => {
  good = await tinyDenseH5();
});

afterEach(() => {
  delete process.env.KILN_HDF5_TIMEOUT;
});

async function rejection(p: Promise<unknown>): Promise<KilnError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(KilnError);
  return err as KilnError;
}

describe("HDF5 files are read in a worker with a deadline", () => {
  test("the fuzzed .h5 on which the HDF5 library loops forever fails at the deadline, naming the file; the next file reads", async () => {
    const hangs = new Uint8Array(readFileSync(join(import.meta.dirname, "fixtures", "keras2-h5-heap-loop-seed184-case755.h5")));
    expect(unsafeGlobalHeap(hangs)).toBeDefined(); // importModel refuses it before the worker: here the worker meets it
    const err = await rejection(readHdf5(hangs, "model.h5", H5_REQUEST, { timeoutSeconds: 2 }));
    expect(err.diagnostics).toHaveLength(1);
    expect(err.diagnostics[0]!.path).toBe("model.h5");
    expect(err.diagnostics[0]!.message).toMatch(/^reading model\.h5 took more than 2 s; the file is likely corrupt/);
    // The stopped worker is not reused: a good file reads in a new one.
    const read = await readHdf5(good, "good.h5", H5_REQUEST);
    expect("dump" in read && read.dump.attrs.model_config).toContain("Sequential");
    expect((await importModel(good)).graph.layers).toHaveLength(1);
  }, 60_000);

  test("importModel: a read that does not finish is a KilnError after hdf5Timeout (or KILN_HDF5_TIMEOUT) seconds", async () => {
    hangNextReadForTest();
    const err = await rejection(importModel(good, { hdf5Timeout: 1.5 }));
    expect(err.diagnostics.map((d) => [d.path, d.message.split(";")[0]])).toEqual([["model.h5", "reading model.h5 took more than 1.5 s"]]);

    process.env.KILN_HDF5_TIMEOUT = "1";
    hangNextReadForTest();
    const zipErr = await rejection(importModel({ "m.h5": good }));
    expect(zipErr.diagnostics[0]!.message).toMatch(/^reading m\.h5 took more than 1 s; the file is likely corrupt/);
  }, 60_000);

  test("a worker that runs past its heap limit is ended: a KilnError naming the file, and the next file reads", async () => {
    hangNextReadForTest("allocate");
    const err = await rejection(readHdf5(good, "big.h5", H5_REQUEST, { heapMb: 64, timeoutSeconds: 100 }));
    expect(err.diagnostics[0]).toMatchObject({ path: "big.h5", message: "reading big.h5 needed more than 64 MB of memory; the file is likely corrupt (KILN_HDF5_HEAP_MB sets the limit)" });
    expect((await importModel(good)).graph.layers).toHaveLength(1);
  }, 120_000);

  test("a timeout that is not a positive number is refused before anything is read", async () => {
    for (const bad of [0, -1, Number.NaN, Infinity]) {
      const err = await rejection(importModel(good, { hdf5Timeout: bad }));
      expect(err.diagnostics[0]!.path).toBe("hdf5Timeout");
      expect(err.diagnostics[0]!.message).toMatch(/^expected a positive number, got/);
    }
    process.env.KILN_HDF5_TIMEOUT = "soon";
    const err = await rejection(importModel(good));
    expect(err.diagnostics[0]).toMatchObject({ path: "KILN_HDF5_TIMEOUT", message: 'expected a positive number of seconds, got "soon"' });
  });

  test("kiln import --hdf5-timeout: a read that does not finish exits 1 with the message and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-h5-timeout-"));
    writeFileSync(join(dir, "model.h5"), good);
    hangNextReadForTest();
    let err = "";
    const code = await main(["import", join(dir, "model.h5"), "-o", join(dir, "out.json"), "--hdf5-timeout", "1"], { out: () => {}, err: (t) => void (err += t) });
    expect(code, err).toBe(1);
    expect(err).toContain("took more than 1 s; the file is likely corrupt");
    expect(existsSync(join(dir, "out.json"))).toBe(false);
    expect(existsSync(join(dir, "out.safetensors"))).toBe(false);
    let usage = "";
    expect(await main(["import", join(dir, "model.h5"), "-o", join(dir, "out.json"), "--hdf5-timeout", "-3"], { out: () => {}, err: (t) => void (usage += t) })).toBe(2);
    expect(usage).toContain('expected a positive number of seconds, got "-3"');
  }, 60_000);

  test("the HDF5 library's error stacks for corrupt files stay in the worker: a process importing them prints nothing (needs dist/)", () => {
    // Every 97th byte of the file's first kilobyte flipped in turn: read on the importing thread,
    // several of these make HDF5 print its error stack (HDF5-DIAG ...) to the process's stderr.
    // (Checked in a child process: the library prints through a console bound when it loads.)
    const dir = mkdtempSync(join(tmpdir(), "kiln-h5-quiet-"));
    const files = Array.from({ length: 12 }, (_v, i) => {
      const b = good.slice();
      b[8 + ((i * 97) % 1000)]! ^= 0xff;
      const f = join(dir, `corrupt-${i}.h5`);
      writeFileSync(f, b);
      return f;
    });
    const compiler = pathToFileURL(join(import.meta.dirname, "..", "..", "dist", "compiler", "index.js")).href;
    writeFileSync(join(dir, "child.mjs"), `import { readFileSync } from "node:fs";
const { importModel, KilnError } = await import(${JSON.stringify(compiler)});
let rejected = 0;
for (const f of process.argv.slice(2)) await importModel(new Uint8Array(readFileSync(f))).catch((e) => { if (!(e instanceof KilnError)) throw e; rejected++; });
console.log("rejected " + rejected);`);
    const run = spawnSync(process.execPath, [join(dir, "child.mjs"), ...files], { encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^rejected [1-9]/);
    expect(run.stderr).toBe("");
  }, 60_000);
});
