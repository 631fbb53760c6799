/**
 * The browser the tests drive (./chromium.ts): which one is chosen, what a machine without one is
 * told, and that the chosen one really runs what kiln's threaded modules need — WebAssembly SIMD and
 * threads (shared memory in a cross-origin-isolated page, handed to a nested worker, atomics that
 * wait and wake across workers).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { chooseChromium, compareVersions, findChromium, INSTALL_HINT, parseVersion, useChromium, type Chromium } from "./chromium.js";

describe("choosing the browser", () => {
  const bundled: Chromium = { source: "@sparticuz/chromium", path: "/tmp/kiln-chromium-147.0.0/chromium", version: "147.0.7727.0" };
  const system = (version: string): Chromium => ({ source: "system", path: "/usr/bin/chromium", version });

  test("versions compare numerically, part by part", () => {
    expect(parseVersion("Chromium 147.0.7727.0 \n")).toBe("147.0.7727.0");
    expect(parseVersion("Google Chrome 130.0.6723.58 ")).toBe("130.0.6723.58");
    expect(parseVersion("no version here")).toBeUndefined();
    expect(compareVersions("147.0.7727.0", "99.0.1.0")).toBeGreaterThan(0);
    expect(compareVersions("147.0.7727.0", "147.0.7727.10")).toBeLessThan(0);
    expect(compareVersions("147.0.7727.0", "147.0.7727.0")).toBe(0);
  });

  test("a system Chromium is used only when it is newer than the bundled one", () => {
    expect(chooseChromium(bundled, [])).toBe(bundled);
    expect(chooseChromium(bundled, [system("120.0.6099.0")])).toBe(bundled);
    expect(chooseChromium(bundled, [system("147.0.7727.0")])).toBe(bundled); // same version: keep the project's own
    const newer = system("148.0.7778.96");
    expect(chooseChromium(bundled, [system("120.0.6099.0"), newer])).toBe(newer);
    expect(chooseChromium({ problem: "not installed" }, [system("120.0.6099.0")]).version).toBe("120.0.6099.0");
  });

  test("no browser at all is an error that says why and what to install", () => {
    expect(() => chooseChromium({ problem: "the devDependency @sparticuz/chromium is not installed" }, [])).toThrow(
      `No Chromium for the browser tests (test/browser): the devDependency @sparticuz/chromium is not installed; no system Chromium at /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome-stable, /usr/bin/google-chrome. ${INSTALL_HINT}`);
    expect(INSTALL_HINT).toMatch(/npm ci/);
    expect(INSTALL_HINT).toMatch(/@sparticuz\/chromium/);
  });

  test("this machine has one, and it is at least as new as the bundled one", async () => {
    const chosen = await findChromium();
    console.info(`browser tests use Chromium ${chosen.version} (${chosen.source}, ${chosen.path})`);
    expect(chosen.version).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    if (chosen.source === "system") expect(compareVersions(chosen.version, "147")).toBeGreaterThan(0);
  });
});

/** A module with one SIMD function and the three thread instructions, on an imported shared memory. */
function probeWasm(): Uint8Array {
  const mod = binaryen.parseText(`(module
    (import "env" "memory" (memory 1 1 shared))
    (func (export "add4") (param $p i32)
      (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (v128.load offset=16 (local.get $p)))))
    (func (export "bump") (param $p i32) (result i32) (i32.atomic.rmw.add (local.get $p) (i32.const 1)))
    (func (export "wake") (param $p i32) (result i32) (memory.atomic.notify (local.get $p) (i32.const 1)))
    (func (export "wait") (param $p i32) (param $v i32) (result i32)
      (memory.atomic.wait32 (local.get $p) (local.get $v) (i64.const 20000000000))))`);
  try {
    mod.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128 | binaryen.Features.Atomics);
    if (!mod.validate()) throw new Error("probe module does not validate");
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

// The page hands the shared memory to worker A, which starts worker B and blocks in memory.atomic.wait32
// until B has added two f32x4 vectors in it and bumped and notified the counter at byte 64. B records
// what its notify woke (+1, at i32 index 17) and whether it is cross-origin isolated (index 18).
const PAGE = "<!doctype html><title>probe</title>";
const WORKER_A = `onmessage = async ({ data }) => {
  const probe = (await WebAssembly.instantiate(data.module, { env: { memory: data.memory } })).exports;
  const b = new Worker("b.js");
  b.onerror = (e) => postMessage({ error: "worker b: " + e.message });
  b.postMessage(data);
  // A browser starts a nested worker through its parent's event loop: let B come up before blocking.
  await new Promise((up) => { b.onmessage = up; });
  b.postMessage("go");
  const waited = probe.wait(64, 0); // 0 "ok": woken by B; 1 "not-equal": B was first; 2: timed out
  Atomics.wait(new Int32Array(data.memory.buffer), 17, 0, 20000); // until B has recorded what its notify woke
  postMessage({ waited, isolated: crossOriginIsolated });
};`;
const WORKER_B = `onmessage = async ({ data }) => {
  const probe = (await WebAssembly.instantiate(data.module, { env: { memory: data.memory } })).exports;
  const i32 = new Int32Array(data.memory.buffer);
  onmessage = () => {
    Atomics.store(i32, 18, crossOriginIsolated ? 1 : 2);
    probe.add4(0);
    probe.bump(64);
    Atomics.store(i32, 17, 1 + probe.wake(64));
    Atomics.notify(i32, 17);
  };
  postMessage("up");
};`;

describe("the browser runs WebAssembly threads and SIMD", () => {
  const browser = useChromium();
  let server: Server, url: string;
  beforeAll(async () => {
    const wasm = probeWasm();
    const files: Record<string, [string, string | Uint8Array]> = {
      "/": ["text/html", PAGE], "/a.js": ["text/javascript", WORKER_A], "/b.js": ["text/javascript", WORKER_B], "/probe.wasm": ["application/wasm", wasm],
    };
    server = createServer((req, res) => {
      const file = files[req.url ?? ""];
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": file[0], "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" }).end(file[1]);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise((done) => server?.close(done));
  });

  test("shared wasm memory crosses a page, a worker and its nested worker; f32x4 adds there; wait32 and notify meet", async () => {
    const page = await browser().context.newPage();
    try {
      await page.goto(url);
      const got = await page.evaluate(async () => {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
        const module = await WebAssembly.compileStreaming(fetch("probe.wasm"));
        new Float32Array(memory.buffer).set([1, 2, 3, 4, 10, 20, 30, 40]);
        const a = new Worker("a.js");
        const reply = await new Promise<{ waited?: number; isolated?: boolean; error?: string }>((done, fail) => {
          a.onmessage = (e) => done(e.data);
          a.onerror = (e) => fail(new Error(`worker a: ${e.message}`));
          a.postMessage({ module, memory });
        });
        const i32 = new Int32Array(memory.buffer);
        return {
          isolated: crossOriginIsolated, shared: memory.buffer instanceof SharedArrayBuffer, reply,
          sums: Array.from(new Float32Array(memory.buffer, 0, 4)), counter: i32[16], woken: i32[17] - 1, nestedIsolated: i32[18] === 1,
        };
      });
      expect(got.isolated).toBe(true);
      expect(got.shared).toBe(true);
      expect(got.reply.error).toBeUndefined();
      expect(got.reply.isolated).toBe(true);
      expect(got.nestedIsolated).toBe(true);
      expect(got.sums).toEqual([11, 22, 33, 44]); // the nested worker's f32x4.add, seen by the page
      expect(got.counter).toBe(1);
      expect([0, 1]).toContain(got.reply.waited); // not 2: worker A did not time out waiting for B
      expect(got.woken).toBe(got.reply.waited === 0 ? 1 : 0); // B woke A exactly when A was waiting
    } finally {
      await page.close();
    }
  });
});
