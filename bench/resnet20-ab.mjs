// A/B of the ResNet-20 training step (issue 19's row: 32×32×3, batch 64, the bench's model and
// seed), compiled as the bench compiles it (-O0, maxBatch 64): whole trainStep()s in CPU time,
// alternating rounds, several instances per build; losses printed. Not a test.
//   npx tsc -p tsconfig.build.json && node bench/resnet20-ab.mjs --base <other dist> [--rounds N] [--instances N]
import os from "node:os";
import { abDists, cpuMs, median } from "./lib/ab.js";
import { use } from "./lib/tfjs.js";
import { tfjsRealModel } from "./lib/real.js";
import { tfjsFiles } from "./lib/real-models.js";

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const rounds = arg("--rounds", 5), instances = arg("--instances", 2), batch = 64;
const baseAt = process.argv.indexOf("--base");
const dists = abDists(baseAt >= 0 ? process.argv[baseAt + 1] : undefined);
const { importModel } = await import(dists.at(-1)[1] + "compiler/index.js");
await use("cpu");
const m = tfjsRealModel("resnet20", false);
const files = await tfjsFiles(m);
m.dispose();
const { graph, weights } = await importModel(files);
const x = Float32Array.from({ length: batch * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.37));
const y = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % 10);
const feeds = { [graph.inputs[0].name]: x, [graph.targets[0].name]: graph.targets[0].dtype === "int32" ? y : Float32Array.from(y) };
const builds = [];
for (const [name, dir] of dists) {
  const { compile } = await import(dir + "compiler/index.js");
  const { loadModel } = await import(dir + "runtime/index.js");
  const built = await compile(JSON.stringify(graph), { maxBatch: batch, optimizeLevel: 0 });
  const models = [];
  for (let i = 0; i < instances; i++) { const model = await loadModel(built.wasm); model.loadWeights(weights); models.push(model); }
  console.log(`${name}: losses ${[models[0].trainStep(feeds).loss, models[0].trainStep(feeds).loss].map((l) => l.toFixed(6)).join(", ")}`);
  builds.push({ name, models, t: [] });
}
for (let r = 0; r < rounds; r++) for (const b of r % 2 ? [...builds].reverse() : builds) for (const model of b.models) b.t.push(cpuMs(() => model.trainStep(feeds), 1000));
for (const b of builds) console.log(`${b.name}: trainStep b${batch} ${median(b.t).toFixed(1)} ms CPU (${(batch * 1000 / median(b.t)).toFixed(0)} samples/s); load ${os.loadavg()[0].toFixed(2)}`);
if (builds.length === 2) console.log(`base → new ${(median(builds[0].t) / median(builds[1].t)).toFixed(3)}×`);
process.exit(0);
