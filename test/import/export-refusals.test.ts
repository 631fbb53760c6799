/**
 * Ops neither export table maps yet (compiler/export/not-yet.ts) are refused by name, every one of
 * them in one error, by both exporters, before anything is written.
 */
import { expect, test } from "vitest";
import { exportKeras, exportTfjs, KilnError } from "../../compiler/index.js";
import { writeSafetensors } from "../../runtime/safetensors.js";

const graph = {
  format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [5, 3] }],
  layers: [
    { name: "sd", op: "spatial_dropout1d", rate: 0.1 },
    { name: "gn", op: "gaussian_noise", stddev: 0.1 },
    { name: "act", op: "gaussian_dropout", rate: 0.2 },
  ],
};

test("both exporters refuse the ops they do not map yet, naming each layer and op", async () => {
  const weights = writeSafetensors({});
  const tfjs = (() => { try { exportTfjs(JSON.stringify(graph), weights); } catch (e) { return e; } })();
  const keras = await exportKeras(JSON.stringify(graph), weights).then(() => undefined, (e: unknown) => e);
  for (const err of [tfjs, keras]) {
    expect(err).toBeInstanceOf(KilnError);
    const d = (err as KilnError).diagnostics;
    expect(d.map((x) => x.layer)).toEqual(["sd", "gn", "act"]);
    for (const [x, op] of d.map((x, i) => [x, graph.layers[i]!.op] as const)) expect(x.message).toContain(`kiln does not export ${op} yet`);
  }
});
