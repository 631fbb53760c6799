/**
 * Meta-tests of the optimizer registry (issue 16, item 6: compiler/optimizers/<name>.ts): every
 * optimizer is in the graph schema with its registry defaults, keeps only slots its update kernel
 * takes, names the manifest's slots of a compiled model, and has a kernel test configuration
 * (test/kernels/optimizer-configs.ts) run against its float64 Keras rule.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { buildGraphSchema } from "../../compiler/frontend/schema.js";
import { OPTIMIZERS, OPTIMIZER_TYPES } from "../../compiler/optimizers/index.js";
import { CONFIGS } from "../kernels/optimizer-configs.js";

const defaults = (type: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(OPTIMIZERS[type as keyof typeof OPTIMIZERS].attrs).map(([k, s]) => [k, s.default]));

/** A one-layer model trained with `optimizer`. */
const graph = (optimizer: Record<string, unknown>) => JSON.stringify({
  format: "kiln.graph/v2", name: "opt", inputs: [{ name: "x", shape: [3] }], targets: [{ name: "y", shape: [2] }],
  layers: [{ name: "d", op: "dense", units: 2 }],
  training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer },
});

describe("the optimizer registry", () => {
  it("is not empty", () => expect(OPTIMIZER_TYPES.length).toBeGreaterThan(0));

  it.each(OPTIMIZER_TYPES)("%s: the schema's optimizer_%s is generated from the registry's attributes", (type) => {
    const schema = buildGraphSchema() as any;
    const props = schema.$defs[`optimizer_${type}`].properties;
    for (const [k, v] of Object.entries(defaults(type))) expect(props[k].default, `${type}.${k}`).toEqual(v);
    expect(schema.$defs.optimizer.properties.type.enum).toContain(type);
  });

  it.each(OPTIMIZER_TYPES)("%s: every slot it keeps is a parameter of its update kernel", (type) => {
    const def = OPTIMIZERS[type];
    // With every momentum-like option on, the most slots are kept.
    const rich = { ...defaults(type), momentum: 0.5 };
    for (const a of [defaults(type), rich]) for (const s of def.slots(a as any)) expect(def.kernelSlots).toContain(s);
  });

  it.each(OPTIMIZER_TYPES)("%s: a compiled model's manifest lists the registry's slots for every weight", async (type) => {
    const opt = { type, ...("momentum" in OPTIMIZERS[type].attrs ? { momentum: 0.5 } : {}) };
    const { manifest } = await compile(graph(opt), { maxBatch: 4 });
    const want = OPTIMIZERS[type].slots({ ...defaults(type), ...opt } as any);
    expect(want.length).toBeGreaterThan(0);
    for (const w of ["d/kernel", "d/bias"]) {
      expect(manifest.training!.slots.filter((s) => s.weight === w).map((s) => s.slot)).toEqual(want);
    }
  });

  it("every optimizer has a kernel test configuration checked against its float64 rule", () => {
    const tested = new Set(Object.values(CONFIGS).map((c) => c.type));
    expect(OPTIMIZER_TYPES.filter((t) => !tested.has(t as any))).toEqual([]);
  });
});
