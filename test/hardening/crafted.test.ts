/**
 * Fuzzers for issue 22: seeded crafted manifests (a hostile value at a random place of a valid
 * manifest, on the single- and the multi-threaded module), hostile input containers (typed-array
 * subclasses and Proxies overriding what the runtime reads, getters returning another array on
 * each read, arrays from another realm) and threaded traps. Each case ends in a KilnError or in
 * an accepted call whose answer equals the one for plain copies of the same bytes; never another
 * error, never a hang, and a rejected call never changes the model. Default counts; KILN_FUZZ_FULL=1: 5×.
 */
import { createHash } from "node:crypto";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { rng } from "../compile/harness.js";
import { linearManifest, moduleBytes } from "../runtime/fixtures.js";
import { threadedManifest, threadedModule, withManifest } from "./crafted.js";

const SCALE = process.env.KILN_FUZZ_FULL === "1" ? 5 : 1;
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const hash = (m: Model) => createHash("sha1").update(m.memoryView()).digest("hex");

const HOSTILE: unknown[] = [
  null, -1, -4, 0, 1, 3, 2 ** 31, 2 ** 32 + 4, 1e308, 4e8, 200_000, 65536 * 3, 65536 * 3 - 4, 1.5, "x", "", "__proto__", "toString",
  "constructor", true, [], [null], [1, 2], [[1e9, 4]], {}, { length: 1e9 }, { name: "__proto__" }, "train_step", "lin_train", "velocity",
];

/** Every path (list of keys) to a value in `v`. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, Array.isArray(v) ? Number(k) : k]));
  return out;
}

/** `base` with a hostile value at a random path (or a key deleted, or a new key added). */
function mutate(base: any, r: () => number): { manifest: unknown; label: string } {
  const m = structuredClone(base);
  const all = paths(m).filter((p) => p.length > 0);
  const p = pick(r, all);
  let parent = m;
  for (const k of p.slice(0, -1)) parent = parent[k];
  const key = p.at(-1)!;
  const how = r();
  if (how < 0.1) delete parent[key];
  else if (how < 0.2 && typeof parent === "object") parent[pick(r, ["__proto__", "toString", "debug", "threads", "weightsEmbedded"])] = pick(r, HOSTILE);
  else parent[key] = pick(r, HOSTILE);
  return { manifest: m, label: `${p.join(".")} ${how < 0.1 ? "deleted" : "= " + JSON.stringify(parent[key])?.slice(0, 40)}` };
}

/** Resolves within `ms` or reports a hang. */
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<"hang">((resolve) => setTimeout(() => resolve("hang"), ms))]);

describe("crafted manifests", () => {
  it(`${300 * SCALE} seeded mutations of the linear and the threaded manifests: KilnError or a working model`, async () => {
    const r = rng(22);
    const bases: [string, any, "linear" | "threaded"][] = [["linear", linearManifest(), "linear"], ["threaded", await threadedManifest(), "threaded"]];
    const t = { tried: 0, loaded: 0, rejected: 0, crashes: [] as string[], hangs: [] as string[] };
    for (let i = 0; i < 300 * SCALE; i++) {
      const [name, base, kind] = bases[i % 2]!;
      const { manifest, label } = mutate(base, r);
      t.tried++;
      const threads = kind === "threaded" ? 2 : 1;
      const outcome = await within(loadModel(await withManifest(manifest, kind), { threads }).then(
        (m) => {
          try {
            // A manifest the runtime accepted must still give a working model (or KilnErrors).
            const x = new Float32Array(m.inputs[0] ? m.inputs[0].shape.reduce((a, b) => a * b, 1) : 0).fill(0.25);
            try { if (m.inputs[0]?.dtype === "float32") m.predict({ [m.inputs[0].name]: x }); } catch (e) { if (!(e instanceof KilnError)) throw e; }
            return "loaded";
          } finally {
            m.dispose();
          }
        },
        (e) => (e instanceof KilnError ? "rejected" : `crash: ${String(e)}`),
      ), 10_000).catch((e) => `crash: ${String(e)}`);
      if (outcome === "loaded") t.loaded++;
      else if (outcome === "rejected") t.rejected++;
      else if (outcome === "hang") t.hangs.push(`#${i} ${name} ${label}`);
      else t.crashes.push(`#${i} ${name} ${label}: ${outcome}`);
    }
    console.log(`crafted manifests: ${t.tried} tried, ${t.rejected} rejected, ${t.loaded} loaded and ran, ${t.crashes.length} crashes, ${t.hangs.length} hangs`);
    expect(t.crashes.slice(0, 10)).toEqual([]);
    expect(t.hangs.slice(0, 10)).toEqual([]);
    expect(t.rejected).toBeGreaterThan(t.tried / 3);
  }, 600_000);
});

/** Hostile containers around genuine `data`: what the runtime must see is `data`'s bytes (or refuse). */
function hostile(data: Float32Array | Int32Array, r: () => number): { label: string; value: unknown; refuse: boolean } {
  // any: the subclasses below extend one of two constructors chosen at run time.
  const C: any = data instanceof Int32Array ? Int32Array : Float32Array;
  const junk = () => new C(data.length + 8).fill(data instanceof Int32Array ? 1 << 28 : NaN);
  const kinds: (() => { label: string; value: unknown; refuse: boolean })[] = [
    () => { class S extends C { subarray() { return junk() as never; } } return { label: "subclass subarray", value: S.from(data), refuse: false }; },
    () => { class S extends C { set() { throw new Error("set called"); } } return { label: "subclass set", value: S.from(data), refuse: false }; },
    () => { class S extends C { get length() { return data.length + 8; } } return { label: "subclass length", value: S.from(data), refuse: false }; },
    () => { class S extends C { get buffer() { return junk().buffer as never; } } return { label: "subclass buffer", value: S.from(data), refuse: false }; },
    () => { class S extends C { static get [Symbol.species]() { return C; } slice() { return junk() as never; } } return { label: "subclass species", value: S.from(data), refuse: false }; },
    () => ({ label: "Proxy", value: new Proxy(C.from(data), { get: (t, k) => (k === "subarray" ? () => junk() : Reflect.get(t, k)) }), refuse: true }),
    () => ({ label: "Proxy of nothing", value: new Proxy({}, { get: (_t, k) => (k === "length" ? data.length : k === "constructor" ? C : NaN) }), refuse: true }),
    () => ({ label: "foreign realm", value: vm.runInNewContext(`${C.name}.from(d)`, { d: Array.from(data) }), refuse: false }),
  ];
  return pick(r, kinds)();
}

describe("hostile input containers", () => {
  it(`${400 * SCALE} seeded calls with subclasses, Proxies, getters and foreign arrays: the checked bytes or a KilnError`, async () => {
    const r = rng(8);
    const m = await loadModel(await moduleBytes(linearManifest()));
    const ref = await loadModel(await moduleBytes(linearManifest()));
    const t = { tried: 0, refused: 0, accepted: 0, crashes: [] as string[], changed: [] as string[], wrong: [] as string[] };
    for (let i = 0; i < 400 * SCALE; i++) {
      const n = 1 + Math.floor(r() * 6);
      const x = Float32Array.from({ length: 3 * n }, () => r() - 0.5), y = Float32Array.from({ length: 2 * n }, () => r());
      const call = pick(r, ["predict", "trainStep", "evaluate", "getter"] as const);
      const which = call === "predict" ? "x" : pick(r, ["x", "y"] as const);
      const h = hostile(which === "x" ? x : y, r);
      let feeds: Record<string, unknown> = { x, y, [which]: h.value };
      if (call === "getter") {
        let reads = 0;
        feeds = { y, get x() { return ++reads === 1 ? x : new Float32Array(3 * n).fill(NaN); } };
      }
      if (call === "predict") delete feeds.y;
      const before = hash(m);
      const label = `#${i} ${call} ${which}: ${h.label}`;
      t.tried++;
      let got: unknown, error: unknown;
      try {
        got = call === "predict" ? m.predict(feeds as never) : call === "evaluate" ? m.evaluate(feeds as never) : m.trainStep(feeds as never);
      } catch (e) {
        error = e;
      }
      if (error !== undefined) {
        if (!(error instanceof KilnError)) t.crashes.push(`${label}: ${String(error)}`);
        else t.refused++;
        if (hash(m) !== before) t.changed.push(label);
        continue;
      }
      t.accepted++;
      if (h.refuse && call !== "getter") t.wrong.push(`${label}: accepted`);
      const plain = call === "predict" ? ref.predict({ x }) : call === "evaluate" ? ref.evaluate({ x, y }) : ref.trainStep({ x, y });
      if (JSON.stringify(got) !== JSON.stringify(plain)) t.wrong.push(`${label}: ${JSON.stringify(got)} vs ${JSON.stringify(plain)}`);
      if (hash(m) !== hash(ref)) { t.wrong.push(`${label}: memory differs from the plain model`); ref.loadWeights(m.saveWeights()); }
    }
    console.log(`hostile containers: ${t.tried} tried, ${t.refused} refused, ${t.accepted} accepted with the checked bytes, ${t.crashes.length} crashes, ${t.changed.length} models changed by a rejected call, ${t.wrong.length} wrong answers`);
    expect(t.crashes.slice(0, 10)).toEqual([]);
    expect(t.changed.slice(0, 10)).toEqual([]);
    expect(t.wrong.slice(0, 10)).toEqual([]);
    expect(t.refused).toBeGreaterThan(0);
    expect(t.accepted).toBeGreaterThan(0);
  }, 600_000);
});

describe("threaded traps", () => {
  it(`${4 * SCALE} seeded traps on random threads: KilnError naming a layer, later calls refused, no hang`, async () => {
    const r = rng(5);
    const t = { tried: 0, named: 0, crashes: [] as string[], hangs: 0 };
    for (let i = 0; i < 4 * SCALE; i++) {
      const model = await loadModel(await threadedModule(), { threads: 2 });
      try {
        model.pool!.balance = false;
        const share = pick(r, [[0, 1], [1, 0], [0.5, 0.5], [0.9, 0.1]]);
        model.pool!.shares.set("predict", share);
        t.tried++;
        let e: unknown;
        try { (model as unknown as { run(w: string, b: number): void }).run("predict", pick(r, [1 << 12, 1 << 16, 1 << 20])); } catch (x) { e = x; }
        if (!(e instanceof KilnError) || e.diagnostics[0]!.code !== "trap") { t.crashes.push(`#${i} ${share}: ${String(e)}`); continue; }
        if (e.diagnostics[0]!.layer === "narrow") t.named++;
        let later: unknown;
        try { model.predict({ x: new Float32Array(1024) }); } catch (x) { later = x; }
        if (!(later instanceof KilnError)) t.crashes.push(`#${i}: a call after the trap gave ${String(later)}`);
      } finally {
        model.dispose();
      }
    }
    console.log(`threaded traps: ${t.tried} tried, ${t.named} blamed on the trapping layer, ${t.crashes.length} crashes, ${t.hangs} hangs`);
    expect(t.crashes).toEqual([]);
    expect(t.named).toBe(t.tried);
  }, 600_000);
});
