/**
 * kiln as a user gets it. `npm pack` (its prepack builds a clean dist/) ships only what users need;
 * the tarball installs into an empty project from the local npm cache with no network; there
 * `npx kiln` compiles an example graph, and a TypeScript script importing `compile` from "kiln" and
 * `loadModel` from "kiln/runtime" and "kiln/runtime/predict" type-checks, then predicts with both modules.
 *
 * We pack a copy of the sources, not the checkout itself: prepack deletes and rebuilds dist/, which
 * the other test files running in parallel import.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const EXAMPLE = "examples/linear-regression/graph.json";
/** Never copied into the packed copy: installed or built things, and git's own. */
const NOT_SOURCES = new Set(["node_modules", "dist", ".git"]);
/** What the tarball may hold: every path starts with one of these. */
const SHIPPED = ["package.json", "README.md", "LICENSE", "docs/graph-spec.md", "bin/", "dist/", "schemas/"];

interface Packed { filename: string; version: string; integrity: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }
interface LockEntry { version?: string; resolved?: string; integrity?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; [k: string]: unknown }
interface Lock { packages: Record<string, LockEntry> }

let work: string, src: string, app: string;
let packed: Packed;

/**
 * The environment of every npm we start: no network at all (--offline serves from the cache or
 * fails, and a dead proxy catches anything else), and none of the variables of an enclosing
 * `npm test` that describe the kiln checkout (npm_config_local_prefix would point npm back at it).
 * The user's own npm settings (npm_config_cache, _registry, …) stay.
 */
function env(): NodeJS.ProcessEnv {
  const enclosing = /^(npm_package_|npm_lifecycle_|npm_command$|npm_config_local_prefix$|INIT_CWD$)/i;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !enclosing.test(k)));
  return {
    ...clean,
    npm_config_offline: "true", npm_config_proxy: "http://127.0.0.1:9", npm_config_https_proxy: "http://127.0.0.1:9",
    npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false",
  };
}

/**
 * Runs a command to completion; its stdout, or an error carrying what it printed. Asynchronous, so
 * the test worker stays responsive to vitest while npm and tsc work.
 */
function run(cwd: string, command: string, args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(command, args, { cwd, env: env(), encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`\`${command} ${args.join(" ")}\` in ${cwd} failed (${error.code ?? error.signal}):\n${stdout}\n${stderr}`));
      else done(stdout);
    });
  });
}

/**
 * A lockfile for a project depending only on the tarball: kiln's entry plus the entries of its
 * dependency closure, copied from kiln's own lockfile (so `npm ci` installs exactly what `npm ci`
 * in kiln put in the cache, by integrity, without asking the registry for anything).
 */
function appLock(kilnLock: Lock, tarball: Packed): object {
  const pkgs = kilnLock.packages;
  const kiln = pkgs[""]!;
  /** Where node would find `name` from the package at `from` (its own node_modules, then upwards). */
  const locate = (from: string, name: string): string | undefined => {
    for (let base = from; ; base = base.includes("/node_modules/") ? base.slice(0, base.lastIndexOf("/node_modules/")) : "") {
      const path = `${base ? base + "/" : ""}node_modules/${name}`;
      if (pkgs[path]) return path;
      if (!base) return undefined;
    }
  };
  const closure: Record<string, LockEntry> = {};
  const queue = Object.keys(kiln.dependencies ?? {}).map((name) => locate("", name) ?? name);
  while (queue.length) {
    const path = queue.shift()!;
    if (closure[path]) continue;
    if (!pkgs[path]) throw new Error(`kiln's package-lock.json has no ${path}`);
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = pkgs[path];
    closure[path] = entry;
    for (const name of Object.keys(entry.dependencies ?? {})) queue.push(locate(path, name) ?? `${path}/node_modules/${name}`);
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      const at = locate(path, name);
      if (at) queue.push(at);
    }
  }
  const file = `file:${tarball.filename}`;
  return {
    name: "kiln-user", version: "1.0.0", lockfileVersion: 3, requires: true,
    packages: {
      "": { name: "kiln-user", version: "1.0.0", dependencies: { kiln: file } },
      "node_modules/kiln": {
        version: tarball.version, resolved: file, integrity: tarball.integrity, license: kiln.license,
        dependencies: kiln.dependencies, bin: kiln.bin, engines: kiln.engines,
      },
      ...closure,
    },
  };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "kiln-pack-"));
  src = join(work, "kiln");
  app = join(work, "user");
  mkdirSync(app);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("npm pack builds dist/ in prepack and ships only what users need", async () => {
  cpSync(ROOT, src, { recursive: true, filter: (p) => !NOT_SOURCES.has(relative(ROOT, p).split(sep)[0]!) });
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"), "dir"); // the build's TypeScript
  const out = await run(src, "npm", ["pack", "--json", "--pack-destination", app]);
  [packed] = JSON.parse(out.slice(out.indexOf("["))) as Packed[];
  console.info(`${packed.filename}: ${packed.size} B packed, ${packed.unpackedSize} B unpacked, ${packed.entryCount} files`);
  const paths = packed.files.map((f) => f.path);
  for (const needed of ["bin/kiln.js", "dist/compiler/cli/main.js", "dist/compiler/index.js", "dist/compiler/index.d.ts", "dist/runtime/index.js", "dist/runtime/index.d.ts", "dist/runtime/predict.js", "dist/runtime/predict.d.ts", "schemas/graph.schema.json", "docs/graph-spec.md", "LICENSE", "README.md", "package.json"]) {
    expect(paths).toContain(needed);
  }
  expect(paths.filter((p) => !SHIPPED.some((s) => p === s || (s.endsWith("/") && p.startsWith(s))))).toEqual([]); // no test/, bench/, .ci/, sources
  expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
  expect(readFileSync(join(src, "LICENSE"), "utf8")).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the kiln authors\n/);
  expect(existsSync(join(app, packed.filename))).toBe(true);
});

test("the tarball installs into an empty project from the npm cache, without the network", async () => {
  const kilnLock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as Lock;
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "kiln-user", version: "1.0.0", private: true, type: "module", dependencies: { kiln: `file:${packed.filename}` } }, null, 2));
  writeFileSync(join(app, "package-lock.json"), JSON.stringify(appLock(kilnLock, packed), null, 2));
  try {
    await run(app, "npm", ["ci", "--offline", "--no-audit", "--no-fund"]);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n(kiln's dependencies come from the npm cache that \`npm ci\` in the kiln checkout filled; run it first)`);
  }
  expect(existsSync(join(app, "node_modules/kiln/dist/compiler/cli/main.js"))).toBe(true);
  expect(existsSync(join(app, "node_modules/kiln/test"))).toBe(false);
  expect(existsSync(join(app, "node_modules/.bin/kiln"))).toBe(true);
});

test("npx kiln --help and npx kiln compile run from the installed package", async () => {
  expect(await run(app, "npx", ["kiln", "--help"])).toMatch(/compile/);
  writeFileSync(join(app, "graph.json"), readFileSync(join(ROOT, EXAMPLE)));
  await run(app, "npx", ["kiln", "compile", "graph.json", "-o", "model.wasm", "--max-batch", "4"]);
  const wasm = readFileSync(join(app, "model.wasm"));
  expect([...wasm.subarray(0, 4)]).toEqual([0, 0x61, 0x73, 0x6d]); // "\0asm"
});

test('import { compile } from "kiln" and { loadModel } from "kiln/runtime" and "kiln/runtime/predict": the code type-checks and predicts', async () => {
  const graphText = readFileSync(join(ROOT, EXAMPLE), "utf8");
  writeFileSync(join(app, "main.ts"), `import { compile } from "kiln";
import { loadModel } from "kiln/runtime";
import { loadModel as loadPredictor } from "kiln/runtime/predict";

const graphText: string = ${JSON.stringify(graphText)};
const { wasm } = await compile(graphText, { maxBatch: 4, optimizeLevel: 0 });
const results: Record<string, number[]> = {};
for (const [from, source] of [["compile", wasm], ["cli", "model.wasm"]] as const) {
  const model = await loadModel(source);
  const [kernel] = Object.keys(model.getWeights());
  model.setWeights({ [kernel!]: Float32Array.from([2, -3]) });
  results[from] = Array.from(model.predict({ x: Float32Array.from([1, 1, 0.5, 2]) }).linear!);
  const predictor = await loadPredictor(source, { weights: model.saveWeights() });
  results[from + " predict-only"] = Array.from(predictor.predict({ x: Float32Array.from([1, 1, 0.5, 2]) }).linear!);
  model.dispose();
  predictor.dispose();
}
console.log(JSON.stringify(results));
`);
  // A strict project that checks kiln's own .d.ts files too (skipLibCheck off), for browsers and Node.
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022", "DOM"], types: [],
      strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, noEmitOnError: true,
    },
    files: ["main.ts"],
  }, null, 2));
  await run(app, process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."]);
  const results = JSON.parse(await run(app, process.execPath, ["main.js"])) as Record<string, number[]>;
  // y = 2·x0 − 3·x1 for the rows (1, 1) and (0.5, 2), from the module compile() built and the CLI's, by both entries.
  expect(results).toEqual({ compile: [-1, -5], cli: [-1, -5], "compile predict-only": [-1, -5], "cli predict-only": [-1, -5] });
});
