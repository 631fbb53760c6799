/**
 * `kiln import <model.json> -o graph.json [--weights w.safetensors] [--check] [--freeze-until <layer>]
 * [--cut-at <layer>] [--hdf5-timeout <s>]`: a TF.js layers
 * model (its shards read beside model.json) → a kiln graph and its weights. Without --weights the
 * weights go beside the graph with the extension .safetensors. Problems: one line each (the Keras
 * layer name and class, what is unsupported, what would work), exit 1, nothing written. Notes
 * (what was left out) go to stderr. `--check` imports and reports without writing.
 * `kiln export <graph.json> --weights w.safetensors --to tfjs -o <dir>`: model.json + one shard.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { KilnError, formatDiagnostic } from "../frontend/diagnostics.js";
import { importModel, type ImportFiles } from "../import/index.js";
import { ImportProblems } from "../import/problems.js";
import { parseModelJson } from "../import/tfjs.js";
import { isHdf5, isZip } from "../import/keras.js";
import { exportTfjs } from "../export/tfjs.js";
import { exportKeras } from "../export/keras.js";
import type { CliContext } from "./main.js";
import { checkWritable, UsageError, writeOutput } from "./output.js";

interface ImportFlags {
  output?: string;
  weights?: string;
  check?: boolean;
  freezeUntil?: string;
  cutAt?: string;
  hdf5Timeout?: number;
}

/** --hdf5-timeout: a positive number of seconds. */
function seconds(value: string): number {
  const n = Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new InvalidArgumentError(`expected a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

export function registerImport(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command("import")
    .description("import a Keras (.keras, .h5) or TensorFlow.js layers model (model.json + shards) as a kiln graph and safetensors weights")
    .argument("<source>", "a Keras 3 .keras file, a Keras 2 .h5 full model, or the model.json of a TF.js layers model (its weight shards are read beside it)")
    .option("-o, --output <graph.json>", "where to write the kiln graph")
    .option("--weights <file>", "where to write the weights (default: the graph's path with .safetensors)")
    .option("--check", "import and report problems and notes without writing anything")
    .option("--freeze-until <layer>", "freeze this layer (its Keras or kiln name) and every layer it depends on (trainable: false), for fine-tuning")
    .option("--cut-at <layer>", "make this layer (Keras or kiln name) the output, leaving out the layers after it and the training section, to add a new head")
    .option("--hdf5-timeout <seconds>", "stop reading an HDF5 file (.h5, or the weights in a .keras) after this long and fail as a likely corrupt file (default: KILN_HDF5_TIMEOUT, else 60 s or 1 s per 4 MiB, whichever is more)", seconds)
    .action(async (source: string, flags: ImportFlags) => {
      try {
        if (!flags.check && !flags.output) throw new UsageError("-o <graph.json> is required (or --check to only report)");
        const graphPath = flags.output;
        const weightsPath = flags.weights ?? (graphPath ? graphPath.replace(/\.json$/i, "") + ".safetensors" : undefined);
        if (!flags.check) for (const f of [graphPath!, weightsPath!]) await checkWritable(f);
        const { files, entry } = await readModelFiles(source);
        const result = await importModel(files, { entry, freezeUntil: flags.freezeUntil, cutAt: flags.cutAt, hdf5Timeout: flags.hdf5Timeout });
        for (const n of result.notes) io.err(`${source}: note: ${n}\n`);
        const layers = (result.graph.layers as unknown[]).length;
        if (flags.check) {
          io.out(`${source}: imports as ${layers} kiln layers (nothing written: --check)\n`);
          return setExitCode(0);
        }
        await writeOutput(weightsPath!, result.weights);
        await writeOutput(graphPath!, JSON.stringify(result.graph, null, 2) + "\n");
        io.out(`${graphPath}: ${layers} layers; weights ${weightsPath} (${result.weights.length} B)\n`);
        setExitCode(0);
      } catch (err) {
        if (err instanceof UsageError) {
          io.err(`kiln import: ${err.message}\n`);
          return setExitCode(2);
        }
        if (!(err instanceof KilnError)) throw err;
        for (const d of err.diagnostics) io.err(`${source}: ${formatDiagnostic(d)}\n`);
        setExitCode(1);
      }
    });

  program
    .command("export")
    .description("export a kiln graph and its weights as a TensorFlow.js layers model (model.json + one shard) or a Keras 3 .keras file")
    .argument("<graph>", "path of the graph JSON file")
    .requiredOption("--weights <file>", "the weights (safetensors)")
    .addOption(new Option("--to <format>", "target format").choices(["tfjs", "keras"]).makeOptionMandatory())
    .requiredOption("-o, --output <path>", "tfjs: directory to write model.json and the shard into (created if missing); keras: the .keras file")
    .action(async (file: string, flags: { weights: string; to: string; output: string }) => {
      try {
        let text: string, weights: Uint8Array;
        try {
          text = await readFile(file, "utf8");
          weights = new Uint8Array(await readFile(flags.weights));
        } catch (err) {
          throw new UsageError(`cannot read ${(err as NodeJS.ErrnoException).path ?? file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
        if (flags.to === "keras") {
          await checkWritable(flags.output);
          const bytes = await exportKeras(text, weights);
          await writeOutput(flags.output, bytes);
          io.out(`${flags.output}: Keras 3 .keras file (${bytes.length} B)\n`);
          return setExitCode(0);
        }
        const out = exportTfjs(text, weights);
        await mkdir(flags.output, { recursive: true }).catch((err) => {
          throw new UsageError(`cannot create ${flags.output}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        });
        const modelPath = join(flags.output, "model.json"), shardPath = join(flags.output, out.shardName);
        for (const f of [modelPath, shardPath]) await checkWritable(f);
        await writeOutput(shardPath, out.shard);
        await writeOutput(modelPath, out.modelJson);
        io.out(`${modelPath}: TF.js layers model; weights ${shardPath} (${out.shard.length} B)\n`);
        setExitCode(0);
      } catch (err) {
        if (err instanceof UsageError) {
          io.err(`kiln export: ${err.message}\n`);
          return setExitCode(2);
        }
        if (!(err instanceof KilnError)) throw err;
        for (const d of err.diagnostics) io.err(`${file}: ${formatDiagnostic(d)}\n`);
        setExitCode(1);
      }
    });
}

/**
 * A .keras / .h5 file alone, or model.json and the shards its manifest names, read from beside it
 * (missing shards are left out: the import names them).
 */
async function readModelFiles(source: string): Promise<{ files: ImportFiles; entry: string }> {
  let text: Uint8Array;
  try {
    text = new Uint8Array(await readFile(source));
  } catch (err) {
    throw new UsageError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (isZip(text) || isHdf5(text)) return { files: { [basename(source)]: text }, entry: basename(source) };
  const files: ImportFiles = { "model.json": text };
  const m = parseModelJson(text, "model.json", new ImportProblems());
  for (const p of m?.paths.flat() ?? []) {
    const path = join(dirname(source), p);
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile()) files[p] = new Uint8Array(await readFile(path));
  }
  return { files, entry: "model.json" };
}
