/**
 * `kiln compile --emit esm`: the typed wrapper. Hostile names reach the .js and .d.ts only as JSON
 * string literals and both files parse; through the CLI, the wrapper type-checks an app's correct
 * `predict({ image })` and rejects a misspelled feed, and the generated module loads and predicts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { main } from "../../compiler/cli/main.js";
import { emitEsm } from "../../compiler/assemble/esm.js";
import type { Manifest, Slot } from "../../runtime/manifest.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-esm-"));
const root = join(import.meta.dirname, "../..");

const HOSTILE = ['a"b', "x\\y", "*/ evil() /*", "${process.exit(1)}", "line\nbreak", "__proto__", "constructor", "`tick`", "</script>", "é€😀"];
const slot = (name: string, dtype: "float32" | "int32" = "float32"): Slot => ({ name, shape: [2, 3], dtype, offset: 0 });

function hostileManifest(): Manifest {
  return {
    name: "m", inputs: HOSTILE.slice(0, 5).map((n) => slot(n)), targets: [slot(HOSTILE[5], "int32")],
    outputs: HOSTILE.slice(6).map((n) => slot(n)), canTrain: true, training: { metrics: [] },
  } as unknown as Manifest;
}

/** The text with every JSON string literal removed: what is left must not contain any name. */
const outsideStrings = (text: string) => text.replace(/"(?:[^"\\\n]|\\.)*"/g, '""');

function syntaxErrors(text: string, file: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  return (sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

describe("emitEsm", () => {
  test("names from the graph appear only as JSON string literals, and both files parse", () => {
    const { js, dts } = emitEsm(hostileManifest(), { wasmFile: "m.wasm" });
    for (const name of HOSTILE) {
      expect(js).toContain(JSON.stringify(name));
      expect(dts).toContain(JSON.stringify(name));
      for (const text of [js, dts]) expect(outsideStrings(text)).not.toContain(name.slice(0, 4) === "line" ? "line\nbreak" : name);
    }
    expect(syntaxErrors(js, "m.js")).toEqual([]);
    expect(syntaxErrors(dts, "m.d.ts")).toEqual([]);
  });

  test("the module's exported descriptions equal the manifest's, hostile names included", async () => {
    const { js } = emitEsm(hostileManifest(), { wasmFile: "m.wasm", runtimeImport: pathToFileURL(join(root, "runtime/errors.ts")).href });
    // The runtime import is swapped for a module without loadModel: only the data exports are read here.
    const file = join(dir, "hostile.mjs");
    writeFileSync(file, js.replace("import { loadModel as load }", "import { KilnError as load }"));
    const mod = await import(pathToFileURL(file).href);
    const plain = (slots: Slot[]) => slots.map(({ name, shape, dtype }) => ({ name, shape, dtype }));
    expect(mod.inputs).toEqual(plain(hostileManifest().inputs));
    expect(mod.targets).toEqual(plain(hostileManifest().targets));
    expect(mod.outputs).toEqual(plain(hostileManifest().outputs));
    expect(mod.wasmUrl.href).toBe(new URL("m.wasm", pathToFileURL(file)).href);
  });

  test("an inference-only model's TypedModel has no training methods", () => {
    const { dts } = emitEsm({ ...hostileManifest(), canTrain: false, training: undefined } as unknown as Manifest, { wasmFile: "m.wasm" });
    expect(dts).toMatch(/predict\(inputs: Inputs\): Outputs;/);
    expect(dts).not.toMatch(/trainStep\(/);
  });
});

const GRAPH = {
  format: "kiln.graph/v1", name: "tiny",
  inputs: [{ name: "image", shape: [2, 2] }], targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [{ name: "flat", op: "flatten" }, { name: "probs", op: "dense", units: 3, activation: "softmax" }],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "sgd", learning_rate: 0.1 }, metrics: ["accuracy"] },
};

/** Type-checks apps (beside the wrapper) in one program, kiln/runtime mapped to the runtime's source; errors per app. */
function typeErrors(apps: Record<string, string>): Record<string, string> {
  for (const [name, text] of Object.entries(apps)) writeFileSync(join(dir, `${name}.ts`), text);
  const program = ts.createProgram(Object.keys(apps).map((name) => join(dir, `${name}.ts`)), {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"], types: ["node"], typeRoots: [join(root, "node_modules/@types")], skipLibCheck: true,
    baseUrl: root, paths: { "kiln/runtime": ["runtime/index.ts"] },
  });
  const out: Record<string, string> = {};
  for (const name of Object.keys(apps)) {
    const sf = program.getSourceFile(join(dir, `${name}.ts`))!;
    out[name] = ts.getPreEmitDiagnostics(program, sf).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n");
  }
  return out;
}

describe("kiln compile --emit esm", () => {
  test("writes the module, a .js and a .d.ts that type-check predict({ image }) and run", async () => {
    const graph = join(dir, "tiny.json");
    writeFileSync(graph, JSON.stringify(GRAPH));
    let out = "", err = "";
    const code = await main(["compile", graph, "-o", join(dir, "tiny.wasm"), "--emit", "esm", "-O", "0", "--max-batch", "4"], { out: (t) => void (out += t), err: (t) => void (err += t) });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toContain(`typed wrapper: ${join(dir, "tiny")}.js, ${join(dir, "tiny")}.d.ts`);
    const js = readFileSync(join(dir, "tiny.js"), "utf8");
    expect(js).toContain('from "kiln/runtime"');
    expect(js).toContain('new URL("./tiny.wasm", import.meta.url)');

    const ok = `import loadModel, { inputs } from "./tiny.js";
      const model = await loadModel();
      const image: Float32Array = new Float32Array(4);
      const probs: Float32Array = model.predict({ image }).probs;
      const step = model.trainStep({ image, label: new Int32Array(1) });
      const shape: readonly [2, 2] = inputs[0].shape;
      export { probs, step, shape };`;
    const use = (line: string) => `import loadModel from "./tiny.js";\nconst m = await loadModel();\n${line}\nexport {};`;
    const errors = typeErrors({
      ok,
      misspelled: use("m.predict({ imag: new Float32Array(4) });"),
      wrongType: use("m.trainStep({ image: new Float32Array(4), label: new Float32Array(1) });"),
      noOutput: use("m.predict({ image: new Float32Array(4) }).prob;"),
    });
    expect(errors.ok).toBe("");
    expect(errors.misspelled).toMatch(/'imag' does not exist in type 'Inputs'/);
    expect(errors.wrongType).toMatch(/'Float32Array.*' is not assignable to type 'Int32Array/s);
    expect(errors.noOutput).toMatch(/Property 'prob' does not exist.*Did you mean 'probs'/s);

    // Run it: the same wrapper with the runtime imported from the repository's source.
    const runnable = join(dir, "tiny-run.mjs");
    writeFileSync(runnable, js.replace('"kiln/runtime"', JSON.stringify(pathToFileURL(join(root, "runtime/index.ts")).href)));
    const wrapper = await import(pathToFileURL(runnable).href);
    expect(wrapper.inputs).toEqual([{ name: "image", shape: [2, 2], dtype: "float32" }]);
    const model = await wrapper.default();
    const probs = model.predict({ image: new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]) }).probs;
    expect(probs).toHaveLength(6);
    expect(probs[0] + probs[1] + probs[2]).toBeCloseTo(1, 5);
    expect(probs[3] + probs[4] + probs[5]).toBeCloseTo(1, 5);
  });
});
