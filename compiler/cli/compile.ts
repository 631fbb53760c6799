/**
 * `kiln compile graph.json -o model.wasm`: the whole pipeline, then the module is written and its
 * size, compile time and memory plan are printed. `--emit ir` / `--emit as` print the fused IR or
 * the generated AssemblyScript instead of (or besides) writing the module; `--emit esm` also writes
 * a typed ES module wrapper (.js and .d.ts) next to it (compiler/assemble/esm.ts).
 * `--dump-ir-after <pass>` prints the IR as that pass left it (`all`: after every pass).
 * Exit 0 ok, 1 invalid graph or weights, 2 usage error (including an output that cannot be
 * written: checked before compiling when -o names it).
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { KilnError, formatDiagnostic } from "../frontend/diagnostics.js";
import { PIPELINE, compile } from "../index.js";
import { emitEsm } from "../assemble/esm.js";
import type { CliContext } from "./main.js";
import { byteSize } from "./bytes.js";
import { checkWritable, UsageError, writeOutput } from "./output.js";

interface CompileFlags {
  output?: string;
  maxBatch: number;
  emit?: "ir" | "as" | "esm";
  optimize: number;
  relaxedSimd?: boolean;
  weights?: string;
  threads?: number;
  debug?: boolean;
  dumpIrAfter?: string;
  maxMemory?: number;
  settableLearningRate?: boolean;
  decode?: boolean;
}

/** The passes that change the IR, in order: what `--dump-ir-after` accepts. */
const IR_PASSES = PIPELINE.filter((p) => p.changesIR).map((p) => p.name);

export function registerCompile(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command("compile")
    .description("compile a graph file to one self-describing WebAssembly module")
    .argument("<graph>", "path of the graph JSON file")
    .option("-o, --output <file>", "where to write the module (default: <graph name>.wasm)")
    .option("--max-batch <n>", "largest batch run at once; sizes the memory plan", positiveInt, 64)
    .option("--max-memory <size>", "most memory the module may use (bytes, or KB/MB/GB, 1024-based); default and at most 4GB", byteSize)
    .addOption(new Option("--emit <what>", "print the fused IR or the generated AssemblyScript, or write a typed ES module wrapper (esm)").choices(["ir", "as", "esm"]))
    .option("-O, --optimize <level>", "AssemblyScript optimization level 0-3", levelInt, 0)
    .option("--relaxed-simd", "also carry a relaxed-SIMD build (f32x4.relaxed_madd), run where the host supports it (Chrome 114+, Node 22+)")
    .option("--weights <file>", "embed trained weights (safetensors) so the module carries a ready model")
    .option("--debug", "guard every buffer; the runtime checks the guards after every kernel")
    .option("--settable-learning-rate", "the learning rate can change while training (fit's reduce_lr_on_plateau callback); number learning rates only")
    .option("--decode", "also compile the decode program: one new token per call against key/value caches (model.decode, model.generate; causal language models)")
    .option("--threads <n>", "threaded build for up to n workers (loadModel(src, { threads }))", positiveInt)
    .addOption(new Option("--dump-ir-after <pass>", "print the IR as this pass left it (all: after every pass)").choices([...IR_PASSES, "all"]))
    .action(async (file: string, flags: CompileFlags) => {
      let text: string, weights: Uint8Array | undefined;
      try {
        text = await readFile(file, "utf8");
        if (flags.weights) weights = new Uint8Array(await readFile(flags.weights));
      } catch (err) {
        io.err(`kiln compile: cannot read ${(err as NodeJS.ErrnoException).path ?? file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
        return setExitCode(2);
      }
      try {
        const dump = flags.dumpIrAfter;
        const afterPass = dump ? (pass: string, printIR: () => string) => {
          if (dump === "all" || dump === pass) io.out(`;; IR after ${pass}\n${printIR()}`);
        } : undefined;
        // The files -o names are checked before the compile, which can take seconds.
        if (flags.output) for (const f of outputsOf(flags.output, flags.emit)) await checkWritable(f);
        const result = await compile(text, { maxBatch: flags.maxBatch, optimizeLevel: flags.optimize as 0 | 1 | 2 | 3, relaxedSimd: flags.relaxedSimd, weights, threads: flags.threads, debug: flags.debug, maxMemory: flags.maxMemory, settableLearningRate: flags.settableLearningRate, decode: flags.decode, afterPass });
        if (flags.emit === "ir") io.out(result.ir);
        if (flags.emit === "as") io.out(result.source);
        const output = flags.output ?? (flags.emit && flags.emit !== "esm" ? undefined : `${result.manifest.name}.wasm`);
        if (output) {
          const [, js, dts] = outputsOf(output, flags.emit);
          if (!flags.output) for (const f of outputsOf(output, flags.emit)) await checkWritable(f);
          await writeOutput(output, result.wasm);
          const m = result.manifest;
          io.out(`${output}: ${(result.wasm.length / 1024).toFixed(1)} KB, ${result.stats.kernels} kernels, compiled in ${(result.stats.compileMs / 1000).toFixed(2)} s\n`);
          io.out(`  memory: ${m.memory.pages} pages; weights ${m.memory.weightsBytes} B, arena ${m.memory.arenaBytes} B; max batch ${m.maxBatch}; ${m.canTrain ? "trains" : "inference only"}\n`);
          if (js && dts) {
            const esm = emitEsm(m, { wasmFile: basename(output) });
            await writeOutput(js, esm.js);
            await writeOutput(dts, esm.dts);
            io.out(`  typed wrapper: ${js}, ${dts}\n`);
          }
        }
        setExitCode(0);
      } catch (err) {
        if (err instanceof UsageError) {
          io.err(`kiln compile: ${err.message}\n`);
          return setExitCode(2);
        }
        if (!(err instanceof KilnError)) throw err;
        for (const d of err.diagnostics) io.err(`${file}: ${formatDiagnostic(d)}\n`);
        setExitCode(1);
      }
    });
}

/** The files a compile writes: the module, and with --emit esm its wrapper's .js and .d.ts. */
function outputsOf(output: string, emit: CompileFlags["emit"]): string[] {
  const base = output.replace(/\.wasm$/, "");
  return emit === "esm" ? [output, `${base}.js`, `${base}.d.ts`] : [output];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

function levelInt(value: string): number {
  const n = Number(value);
  if (![0, 1, 2, 3].includes(n)) throw new InvalidArgumentError(`expected 0, 1, 2 or 3, got "${value}"`);
  return n;
}
