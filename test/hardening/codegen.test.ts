/**
 * Code-generation safety (issue 7, item 2): names and strings of a graph never reach generated
 * source. Over seeded graphs with hostile names (reserved words, prototype members, kiln's own
 * identifiers, unique markers) the generated AssemblyScript must equal that of the same structure
 * with plain names, no marker may appear in it, and the manifest must carry the names as data.
 * A seeded sample is compiled with asc and run against the float64 reference.
 * Default 500 graphs and 3 compiled; KILN_FUZZ_FULL=1 (`npm run fuzz`): 10,000 and 20.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { runReference } from "../reference/interpret.js";
import { relErr, rng } from "../compile/harness.js";
import { hostileCase, sourceOf, structure } from "./graphs.js";

const FULL = process.env.KILN_FUZZ_FULL === "1";
const CASES = FULL ? 10_000 : 500;
const COMPILED = FULL ? 20 : 3;
const STRUCTURES = 48;

describe("generated source is independent of graph names and strings", () => {
  // Parts of 500 cases, yielding now and then, so no test runs for minutes without reporting.
  const PART = 500;
  const plainSource = new Map<number, string>();
  let checked = 0;
  const seenNames = new Set<string>();
  for (let from = 0; from < CASES; from += PART) {
    it(`graphs ${from}..${from + PART - 1} with hostile names: source equals the plain-named source, no marker leaks`, async () => {
      const problems: string[] = [];
      for (let i = from; i < from + PART; i++) {
        if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
        const c = hostileCase(i, STRUCTURES);
        let plain = plainSource.get(c.structure);
        if (plain === undefined) plainSource.set(c.structure, (plain = sourceOf(c.plain).source));
        const { source, manifest } = sourceOf(JSON.stringify(c.graph));
        if (source !== plain) problems.push(`case ${i}: source differs from the plain-named graph's`);
        for (const m of c.markers) if (source.includes(m)) problems.push(`case ${i}: ${JSON.stringify(m)} occurs in the source`);
        // Names travel as data: the manifest has them exactly.
        const names = (xs: { name: string }[]) => xs.map((x) => x.name);
        if (manifest.name !== c.graph.name) problems.push(`case ${i}: manifest name ${manifest.name}`);
        if (String(names(manifest.inputs)) !== String(names(c.graph.inputs))) problems.push(`case ${i}: manifest inputs ${names(manifest.inputs)}`);
        if (String(manifest.outputs.map((o) => o.name)) !== String(c.graph.outputs)) problems.push(`case ${i}: manifest outputs`);
        if (String(names(manifest.targets)) !== String(names(c.graph.targets ?? []))) problems.push(`case ${i}: manifest targets`);
        checked++;
        for (const l of [...c.graph.inputs, ...c.graph.layers, ...(c.graph.targets ?? [])]) seenNames.add(l.name);
      }
      expect(problems.slice(0, 20)).toEqual([]);
    }, 600_000);
  }

  it(`all ${CASES} graphs were checked, over every structure`, () => {
    expect(checked).toBe(CASES);
    expect(plainSource.size).toBe(Math.min(STRUCTURES, CASES));
    // The vocabulary really was used: prototype members, kiln's own identifiers, keywords.
    for (const n of ["__proto__", "constructor", "k0", "rt0", "batch", "predict", "memory", "class", "unreachable"]) expect(seenNames, n).toContain(n);
  });

  it(`${COMPILED} sampled hostile graphs compile and match the reference`, async () => {
    const pick = rng(77);
    const seen = new Set<number>();
    while (seen.size < COMPILED) seen.add(Math.floor(pick() * CASES));
    // Plus fixed cases: prototype members as input, layer, output and target names.
    const FIXED: [number, Record<string, string>][] = [
      [7, { i0: "constructor", i1: "__proto__", l0: "hasOwnProperty", l2: "toString", l4: "valueOf" }],
      [1, { i0: "constructor", l0: "hasOwnProperty", l3: "__proto__" }],
      [6, { i0: "constructor", i1: "prototype", l4: "valueOf", t0: "__proto__" }],
    ];
    const fixed = ([s, map]: [number, Record<string, string>]) => ({ graph: { ...structure(s, (p) => map[p] ?? p), name: "fixed" }, plain: structure(s, (p) => p), structure: s, markers: [] });
    for (const i of [-1, -2, -3, ...seen]) {
      const c = i < 0 ? fixed(FIXED[-i - 1]) : hostileCase(i, STRUCTURES);
      const { wasm, manifest, source } = await compile(JSON.stringify(c.graph), { optimizeLevel: 0, maxBatch: 5 });
      // compile()'s own source (sourceOf above mirrors its stages, this is the real thing).
      for (const m of c.markers) expect(source.includes(m), `case ${i}: ${m} in compile() source`).toBe(false);
      const model = await loadModel(wasm);
      const plain = sourceOf(c.plain).manifest;
      // Same structure: weights, inputs and outputs line up by position.
      expect(plain.weights.map((w) => w.shape)).toEqual(manifest.weights.map((w) => w.shape));
      const r = rng(500 + i);
      const weights = model.weights.map((w) => {
        const n = w.shape.reduce((a, b) => a * b, 1);
        return Float32Array.from({ length: n }, () => (w.name.endsWith("variance") ? 0.5 + r() : r() - 0.5));
      });
      model.setWeights(Object.fromEntries(model.weights.map((w, k) => [w.name, weights[k]])));
      const batch = 3;
      const data = model.inputs.map((s) => {
        const n = batch * s.shape.reduce((a, b) => a * b, 1);
        return s.dtype === "int32" ? Int32Array.from({ length: n }, () => Math.floor(r() * s.range![1])) : Float32Array.from({ length: n }, () => r() * 2 - 1);
      });
      // Object.fromEntries: an input named __proto__ becomes an own property, not the prototype.
      const out = model.predict(Object.fromEntries(model.inputs.map((s, k) => [s.name, data[k]])));
      const ref = runReference(
        c.plain,
        Object.fromEntries(plain.weights.map((w, k) => [w.name, weights[k]])),
        Object.fromEntries(plain.inputs.map((s, k) => [s.name, data[k]])),
        batch,
        { training: false },
      );
      expect(Object.keys(out)).toEqual(c.graph.outputs);
      manifest.outputs.forEach((o, k) => {
        const got = out[o.name];
        expect(got, `case ${i} output ${o.name}`).toBeInstanceOf(Float32Array);
        expect(relErr(got, ref.outputs[plain.outputs[k].name].data), `case ${i} output ${k}`).toBeLessThan(1e-4);
      });
      if (manifest.canTrain) {
        const targets = model.targets.map((s) => {
          const n = batch * s.shape.reduce((a, b) => a * b, 1);
          return s.dtype === "int32" ? Int32Array.from({ length: n }, () => Math.floor(r() * s.range![1])) : Float32Array.from({ length: n }, () => r());
        });
        const feeds = Object.fromEntries([...model.inputs.map((s, k) => [s.name, data[k]]), ...model.targets.map((s, k) => [s.name, targets[k]])]);
        const step = model.trainStep(feeds);
        expect(Number.isFinite(step.loss)).toBe(true);
      }
    }
  }, 600_000);
});
