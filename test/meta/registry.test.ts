/**
 * Meta-tests of the registries (issue 16, item 6): adding an op or a primitive without its tests
 * fails here, naming what is missing.
 *  - every op (OP_NAMES) has a compiled test case (test/compile/cases.ts: the forward test against
 *    the float64 reference and, but for dropout, the gradient test), a float64 reference
 *    (REF_LAYERS) and a TF.js cross-check (test/reference/tfjs-cases.ts);
 *  - every primitive with a gradient rule is differentiated in some compiled gradient test case,
 *    and every primitive without one says why;
 *  - the pass pipeline's names are unique and each pass says what it does.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { OpName } from "../../compiler/frontend/graph-types.js";
import { OP_NAMES } from "../../compiler/frontend/ops/index.js";
import type { Module, PrimOp } from "../../compiler/ir/ir.js";
import type { Lowered } from "../../compiler/passes/lower/index.js";
import { PIPELINE, runPipelineSync } from "../../compiler/pipeline.js";
import { PRIMS } from "../../compiler/prims/index.js";
import { CASES, type OpCase } from "../compile/cases.js";
import { GRADIENT_CASES, withTraining } from "../compile/training-graph.js";
import { REF_LAYERS } from "../reference/interpret.js";
import { TFJS_CASES } from "../reference/tfjs-cases.js";

/** Ops without a case in the compiled gradient test, and where their training step is tested instead. */
const NO_GRADIENT_CASE: Partial<Record<OpName, string>> = {
  dropout: "a random mask in training steps: test/training/dropout.test.ts recomputes it and compares loss and gradients",
  spatial_dropout1d: "a random channel mask in training steps: test/training/noise-layers.test.ts recomputes it and compares loss and gradients",
  spatial_dropout2d: "a random channel mask in training steps: test/training/noise-layers.test.ts recomputes it and compares loss and gradients",
  gaussian_noise: "random noise in training steps: test/training/noise-layers.test.ts recomputes it and compares loss and gradients",
  gaussian_dropout: "random noise in training steps: test/training/noise-layers.test.ts recomputes it and compares loss and gradients",
};

const opsOf = (cases: OpCase[]): Set<string> => new Set(cases.flatMap((c) => c.graph.layers.map((l: { op: string }) => l.op)));

/** The ops of `OP_NAMES` for which `has` is false (sorted, so a failure lists them). */
const missing = (has: (op: OpName) => boolean): OpName[] => OP_NAMES.filter((op) => !has(op)).sort();

describe("every op has its tests", () => {
  it("the op registry is not empty", () => {
    expect(OP_NAMES.length).toBeGreaterThan(0);
  });

  it("a compiled test case (test/compile/cases.ts) for every op, and no case of an unknown op", () => {
    const used = opsOf(CASES);
    expect(missing((op) => used.has(op))).toEqual([]);
    expect([...used].filter((op) => !(OP_NAMES as string[]).includes(op))).toEqual([]);
  });

  it("a compiled gradient test case for every op but those exempted with a reason", () => {
    const used = opsOf(GRADIENT_CASES);
    expect(missing((op) => used.has(op) || !!NO_GRADIENT_CASE[op]?.trim())).toEqual([]);
  });

  it("a float64 reference (REF_LAYERS) for every op", () => {
    expect(missing((op) => Object.hasOwn(REF_LAYERS, op))).toEqual([]);
  });

  it("a TF.js cross-check (test/reference/tfjs-cases.ts) for every op", () => {
    const checked = new Set(TFJS_CASES.map((c) => c.layer.op));
    expect(missing((op) => checked.has(op))).toEqual([]);
    // Test names must be unique for a failure to point at one case.
    expect(TFJS_CASES.length).toBe(new Set(TFJS_CASES.map((c) => c.name)).size);
  });
});

// ------------------------------------------------------------------ primitives

const PRIM_NAMES = Object.keys(PRIMS) as PrimOp[];
const hasRule = (op: PrimOp) => typeof PRIMS[op].grad === "function";

/**
 * The primitives autodiff differentiates in train_step: forward nodes that read a tensor depending
 * on a trainable weight and whose output leads to the loss (autodiff.ts asks exactly these for
 * their gradient rule), by storage, as autodiff tracks tensors.
 */
function differentiated(lw: Lowered): Set<PrimOp> {
  const { forward, seeds, trainable } = lw.training!;
  const mod: Module = lw.mod;
  const sid = (id: number) => mod.storage(mod.t(id)).id;
  const requires = new Set([...trainable].map(sid));
  for (const n of forward) if (n.inputs.some((i) => requires.has(sid(i)))) n.outputs.forEach((o) => requires.add(sid(o)));
  const toLoss = new Set(seeds.map((seed) => mod.storage(seed.tensor).id));
  for (const n of [...forward].reverse()) if (n.outputs.some((o) => toLoss.has(sid(o)))) n.inputs.forEach((i) => toLoss.add(sid(i)));
  const ops = new Set<PrimOp>();
  for (const n of forward) {
    if (n.inputs.some((i) => requires.has(sid(i))) && n.outputs.some((o) => toLoss.has(sid(o)))) ops.add(n.op);
  }
  return ops;
}

/** Primitive → the gradient test cases in which autodiff differentiates it. */
function gradientCoverage(): Map<PrimOp, string[]> {
  const coverage = new Map<PrimOp, string[]>();
  for (const c of GRADIENT_CASES) {
    const build = runPipelineSync({
      input: JSON.stringify(withTraining(c.graph)),
      options: { maxBatch: 4, threads: 0, relaxedSimd: false, optimizeLevel: 0, guardBytes: 0 },
    }, "autodiff");
    for (const op of differentiated(build.lowered!)) coverage.set(op, [...(coverage.get(op) ?? []), c.name]);
  }
  return coverage;
}

describe("every primitive's gradient is tested", () => {
  it("the primitive registry has rules to test", () => {
    expect(PRIM_NAMES.filter(hasRule).length).toBeGreaterThan(0);
  });

  it("every primitive with a gradient rule is differentiated in a compiled gradient test case", () => {
    const coverage = gradientCoverage();
    expect(PRIM_NAMES.filter((op) => hasRule(op) && !coverage.has(op)).sort()).toEqual([]);
    // What autodiff differentiates has a rule (else autodiff throws): the approximation is sound.
    expect([...coverage.keys()].filter((op) => !hasRule(op))).toEqual([]);
  });

  it("every primitive without a gradient rule says why", () => {
    const unexplained = PRIM_NAMES.filter((op) => {
      const g = PRIMS[op].grad;
      return typeof g !== "function" && !(typeof g.none === "string" && g.none.trim().length > 0);
    });
    expect(unexplained).toEqual([]);
  });
});

// ------------------------------------------------------------------ passes

describe("the pass pipeline", () => {
  it("has unique pass names", () => {
    const names = PIPELINE.map((p) => p.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it("says what every pass does", () => {
    expect(PIPELINE.filter((p) => !p.does.trim()).map((p) => p.name)).toEqual([]);
  });

  it("is drawn in docs/architecture.md: every pass, in pipeline order, in the diagram", () => {
    const doc = readFileSync("docs/architecture.md", "utf8");
    const diagram = doc.slice(doc.indexOf("```\ngraph.json"), doc.indexOf("model.wasm"));
    const drawn = [...diagram.matchAll(/^  ([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]);
    expect(drawn).toEqual(PIPELINE.map((p) => p.name));
  });
});
