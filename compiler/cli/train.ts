/**
 * `kiln train`, `kiln evaluate`, `kiln predict`: the runtime driven from the command line, with
 * data files in safetensors (spec §5: one tensor per graph input/target, batch axis first),
 * NumPy .npy/.npz or CSV (data/), safetensors streamed in chunks with --shuffle-buffer
 * (data/stream.ts). Training shows Keras's progress (progress.ts) as --verbose says.
 */
import { readFile } from "node:fs/promises";
import { InvalidArgumentError, type Command } from "commander";
import { KilnError, formatDiagnostic } from "../frontend/diagnostics.js";
import { compile } from "../index.js";
import { loadPretrainedWeights, type PretrainedWeights } from "../pretrained-weights.js";
import { parseGraphText } from "../frontend/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import type { BuiltinCallback } from "../../runtime/fit.js";
import { learningRate } from "../../runtime/train.js";
import { readSafetensors, writeDataFile, writeSafetensors } from "../../runtime/safetensors.js";
import { loadData } from "./data/index.js";
import { openDataStream } from "./data/stream.js";
import { progressCallback, type Verbosity } from "./progress.js";
import type { CliContext } from "./main.js";
import { byteSize } from "./bytes.js";
import { checkWritable, UsageError, writeOutput } from "./output.js";

type Feeds = Record<string, Float32Array | Int32Array>;

function levelInt(value: string): number {
  const n = Number(value);
  if (![0, 1, 2, 3].includes(n)) throw new InvalidArgumentError(`expected 0, 1, 2 or 3, got "${value}"`);
  return n;
}

function seedInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a number between 0 and 1, got "${value}"`);
  return n;
}

function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

function modeArg(value: string): string {
  if (!["auto", "min", "max"].includes(value)) throw new InvalidArgumentError(`expected auto, min or max, got "${value}"`);
  return value;
}

function verbosity(value: string): Verbosity {
  if (!["0", "1", "2"].includes(value)) throw new InvalidArgumentError(`expected 0 (silent), 1 (progress bar) or 2 (one line per epoch), as Keras's verbose; got "${value}"`);
  return Number(value) as Verbosity;
}

/** A repeatable option: each use adds one item. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * `--sample-weight <name>`: the per-example weights (Keras sample_weight), a float tensor [N] of
 * --data (a safetensors or .npz tensor, an .npy given as name=file, or a CSV column) read as the
 * inputs are; undefined without the flag. Data read whole only: a stream weighs every example 1.
 */
async function sampleWeightsOf(o: any, examples: () => number): Promise<Float32Array | undefined> {
  if (o.sampleWeight === undefined) return undefined;
  if (o.shuffleBuffer !== undefined) throw new UsageError("--sample-weight goes with data read whole; streamed data (--shuffle-buffer) weighs every example 1");
  const name = o.sampleWeight as string, n = examples();
  let w: Float32Array;
  try {
    w = (await loadData(o.data, [{ name, shape: [], dtype: "float32" }], o.columns))[name] as Float32Array;
  } catch (e) {
    // The data readers name the file and tensor; say which flag asked for it.
    if (e instanceof KilnError) throw new KilnError(e.diagnostics.map((d) => ({ ...d, message: `--sample-weight: ${d.message}` })));
    if (e instanceof UsageError) throw new UsageError(`--sample-weight: ${e.message}`);
    throw e;
  }
  if (w.length !== n) throw new KilnError({ code: "data", path: name, message: `--sample-weight: "${name}" has ${w.length} values; expected one per example: ${n}` });
  return w;
}

/** `--class-weight '{"0": 1, "1": 5}'`: Keras class_weight as JSON (the runtime checks keys, values and classes). */
function classWeightJson(value: string): Record<string, number> {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch (e) {
    throw new InvalidArgumentError(`expected a JSON object of class id → weight, such as '{"0": 1, "1": 5}'; ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new InvalidArgumentError(`expected a JSON object of class id → weight, such as '{"0": 1, "1": 5}', got ${Array.isArray(v) ? "an array" : JSON.stringify(v)}`);
  // A null-prototype copy: a key "__proto__" stays data.
  return Object.assign(Object.create(null), v);
}

/** At most 10 names, quoted and cut short, then how many more: a file may hold millions. */
function someNames(names: Iterable<string>, count: number, max = 10): string {
  const shown: string[] = [];
  for (const n of names) {
    if (shown.length === max) break;
    shown.push(JSON.stringify(n.length > 64 ? `${n.slice(0, 64)}…` : n));
  }
  return shown.join(", ") + (count > max ? ` and ${(count - max).toLocaleString("en-US")} more` : "");
}

interface ModelFlags {
  weights?: string;
  /**
   * kiln train: --weights may cover part of the graph (a new head): what it has loads, the rest
   * keeps the seeded initializers (loadPretrainedWeights), each listed on stderr. Unset (evaluate,
   * predict, train --strict-weights): every weight must be in the file.
   */
  partialWeights?: { io: CliContext["io"] };
  /** Compile with a settable learning rate (reduce-LR-on-plateau). */
  settableLearningRate?: boolean;
  optimize?: number;
  seed?: number;
  maxMemory?: number;
}

async function modelFor(graphPath: string, maxBatch: number, o: ModelFlags): Promise<Model> {
  const text = await readFile(graphPath, "utf8").catch((err) => {
    throw new UsageError(`cannot read ${graphPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  });
  let graph: string | unknown = text;
  if (o.seed !== undefined) {
    // --seed replaces the graph's seed (initializers, dropout, shuffling) in the parsed JSON, which
    // compile then checks in full like any graph.
    graph = parseGraphText(text);
    if (typeof graph === "object" && graph !== null && !Array.isArray(graph)) (graph as { seed: number }).seed = o.seed;
  }
  const { wasm } = await compile(graph, { maxBatch, optimizeLevel: (o.optimize ?? 0) as 0 | 1 | 2 | 3, maxMemory: o.maxMemory, settableLearningRate: o.settableLearningRate });
  const weights = o.weights;
  const model = await loadModel(wasm);
  if (weights && o.partialWeights) reportPartialWeights(o.partialWeights.io, weights, loadPretrainedWeights(model, await readBytes(weights)));
  else if (weights) model.loadWeights(await readBytes(weights));
  return model;
}

/** The notes of a partial --weights load: which weights start from the initializers, which tensors were skipped. */
function reportPartialWeights(io: CliContext["io"], file: string, r: PretrainedWeights): void {
  if (r.initialized.length) {
    io.err(`kiln train: note: ${r.initialized.length} weight(s) not in ${file} start from the graph's initializers: ${someNames(r.initialized, r.initialized.length)} (--strict-weights refuses this)\n`);
  }
  if (r.ignored.length) {
    io.err(`kiln train: note: ${r.ignored.length} tensor(s) of ${file} are not in the graph and were skipped: ${someNames(r.ignored, r.ignored.length)} (--strict-weights refuses this)\n`);
  }
}

function fmt(logs: Record<string, number>): string {
  return Object.entries(logs).map(([k, v]) => `${k} ${v.toFixed(4)}`).join("  ");
}

/** Runs a command body, mapping kiln errors to exit 1 and usage problems to exit 2. */
function guarded(ctx: CliContext, what: string, body: (...args: any[]) => Promise<void>) {
  return async (...args: any[]) => {
    try {
      await body(...args);
      ctx.setExitCode(0);
    } catch (err) {
      if (err instanceof UsageError) {
        ctx.io.err(`kiln ${what}: ${err.message}\n`);
        return ctx.setExitCode(2);
      }
      if (!(err instanceof KilnError)) throw err;
      for (const d of err.diagnostics) ctx.io.err(`${formatDiagnostic(d)}\n`);
      ctx.setExitCode(1);
    }
  };
}

/** A command that compiles <graph> and reads a data file: the options train, evaluate and predict share. */
function modelCommand(program: Command, name: string, description: string, data: string, weights: string, batch: [string, number]): Command {
  return program
    .command(name)
    .description(description)
    .argument("<graph>", "path of the graph JSON file")
    .option("-O, --optimize <level>", "AssemblyScript optimization level 0-3 of the compiled model", levelInt, 0)
    .requiredOption("--data <file>", `${data}; repeat for shards (concatenated in order) or for one file per input/target as name=file.npy or name=file.npz:array`, collect)
    .option("--columns <name=columns>", "CSV data: which header columns make an input or target, e.g. image=pixel0:pixel783 (a range, inclusive) or xy=x,y; repeat per input/target", collect)
    .option("--weights <file>", weights)
    .option("--batch-size <n>", batch[0], positiveInt, batch[1])
    .option("--max-memory <size>", "most memory the compiled model may use (bytes, or KB/MB/GB, 1024-based); default and at most 4GB", byteSize);
}

/** Metadata keys `kiln train` writes into --out: how the run went, for --resume. */
const RECORD = { epochs: "kiln.epochs", seed: "kiln.seed", batchSize: "kiln.batch_size", shuffle: "kiln.shuffle", shuffleBuffer: "kiln.shuffle_buffer", learningRate: "kiln.learning_rate" } as const;

/**
 * The training data: whole arrays from any data file, or with --shuffle-buffer safetensors
 * streamed in chunks, shuffled inside the buffer by (seed, epoch), as a function of the epoch.
 */
async function trainingData(o: any, model: Model): Promise<{ data: Feeds | ((epoch: number) => AsyncGenerator<Feeds>); count: number; stepsPerEpoch?: number }> {
  const slots = [...model.inputs, ...model.targets];
  if (o.shuffleBuffer === undefined) {
    if (o.dataMemory !== undefined) throw new UsageError("--data-memory caps the memory of streamed data: it goes with --shuffle-buffer");
    const data = await loadData(o.data, slots, o.columns);
    const all = data[model.inputs[0]!.name]!.length / sizeOf(model.inputs[0]!.shape);
    return { data, count: o.validationSplit === undefined ? all : Math.ceil(all * (1 - o.validationSplit)) };
  }
  if (o.validationSplit !== undefined) throw new UsageError("--validation-split holds out the last examples of data read whole; with --shuffle-buffer (streamed data) give --validation <file>");
  if (o.columns) throw new UsageError("--shuffle-buffer streams safetensors files; --columns is for CSV data, which is read whole");
  const notSafetensors = (o.data as string[]).find((f) => !/\.safetensors$/i.test(f));
  if (notSafetensors) throw new UsageError(`--shuffle-buffer streams safetensors files (shards with a tensor per input and target); ${notSafetensors} is not one: drop --shuffle-buffer to read it whole`);
  const stream = await openDataStream(o.data, slots.map(({ name, shape, dtype }) => ({ name, shape, dtype })), {
    batchSize: o.batchSize, shuffleBuffer: o.shuffle ? o.shuffleBuffer : 0, memory: o.dataMemory ?? DEFAULT_DATA_MEMORY, seed: model.manifest.seed,
  });
  return { data: (epoch) => stream.batches(epoch), count: stream.count, stepsPerEpoch: Math.ceil(stream.count / o.batchSize) };
}

/** --data-memory's default: the streamed data's buffer, batch and chunk together. */
const DEFAULT_DATA_MEMORY = 64 * 1024 ** 2;

/** A settable module's current rate, recorded so --resume continues a reduced rate (it is not in the weights). */
const rateRecord = (model: Model): Record<string, string> =>
  (model.manifest.training?.learningRateOffset !== undefined ? { [RECORD.learningRate]: String(learningRate(model)) } : {});

/** The rate a resumed run starts at: the one the checkpoint recorded, when this module can take it. */
function resumedRate(model: Model, metadata: Record<string, string>, io: CliContext["io"], file: string): number | undefined {
  const saved = metadata[RECORD.learningRate];
  if (saved === undefined) return undefined;
  const lr = Number(saved);
  if (!(lr > 0 && Number.isFinite(lr))) throw new UsageError(`${file} records ${RECORD.learningRate} ${JSON.stringify(saved.slice(0, 40))}; expected a number > 0`);
  if (model.manifest.training?.learningRateOffset !== undefined) return lr;
  if (Math.fround(lr) !== learningRate(model)) io.err(`kiln train: note: ${file} was trained down to learning rate ${lr}; without --reduce-lr-patience this run uses the graph's ${learningRate(model)}\n`);
  return undefined;
}

/** The weights file `model.saveWeights()` gives, with the training run's record as safetensors metadata. */
function withRecord(bytes: Uint8Array, record: Record<string, string>): Uint8Array {
  return writeSafetensors(readSafetensors(bytes).tensors, record);
}

interface ResumePoint {
  bytes?: Uint8Array;
  metadata: Record<string, string>;
  initialEpoch: number;
}

/**
 * What --resume continues from: the checkpoint's bytes and record, and the epoch to start at —
 * --initial-epoch if given, else the epochs the file records (`kiln.epochs`, written by kiln train).
 */
async function resumePoint(o: any): Promise<ResumePoint> {
  if (!o.resume) return { metadata: {}, initialEpoch: o.initialEpoch ?? 0 };
  if (o.weights) throw new UsageError("--resume and --weights both give the starting weights; use one");
  const bytes = await readBytes(o.resume);
  const { tensors, metadata = {} } = readSafetensors(bytes);
  if (!tensors.has("optimizer/step")) {
    throw new UsageError(`${o.resume} has no optimizer state (optimizer/step), so training cannot resume exactly; use --weights to start from its weights with a fresh optimizer`);
  }
  const saved = metadata[RECORD.epochs];
  if (o.initialEpoch !== undefined) return { bytes, metadata, initialEpoch: o.initialEpoch };
  if (saved === undefined || !/^(0|[1-9][0-9]{0,8})$/.test(saved)) {
    throw new UsageError(`${o.resume} does not record how many epochs it was trained for (metadata "${RECORD.epochs}", written by kiln train); give --initial-epoch`);
  }
  return { bytes, metadata, initialEpoch: Number(saved) };
}

/** A different seed, batch size or shuffle setting trains on, but not as the uninterrupted run would have: say so. */
function noteChanges(io: CliContext["io"], file: string, metadata: Record<string, string>, now: Record<string, string>): void {
  // Streamed (a buffered shuffle) before, read whole now: another order.
  if (metadata[RECORD.shuffleBuffer] !== undefined && now[RECORD.shuffleBuffer] === undefined) now = { ...now, [RECORD.shuffleBuffer]: "none (read whole)" };
  for (const [key, value] of Object.entries(now)) {
    const was = metadata[key];
    if (was !== undefined && was !== value) {
      io.err(`kiln train: note: ${file} was trained with ${key} ${JSON.stringify(was.slice(0, 40))}, this run uses ${JSON.stringify(value)}: the result will differ from an uninterrupted run\n`);
    }
  }
}

export function registerTrain(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  modelCommand(program, "train", "train a graph on a data file (safetensors, .npy/.npz or CSV) and save the trained weights",
    "training data: safetensors (a tensor per input and target), .npz (an array per input and target), .npy or .csv (with --columns)", "initial weights (safetensors) instead of the seeded initializers; weights the file lacks (a new head) keep the initializers and tensors the graph lacks are skipped, both listed on stderr", ["examples per step", 32])
    .option("--strict-weights", "with --weights: every weight of the graph must be in the file, and nothing else (as evaluate and predict)")
    .option("--validation <file>", "validation data, evaluated after every epoch")
    .option("--epochs <n>", "the epoch to stop before, counting from the start of training as Keras does (with --initial-epoch 2 --epochs 5, epochs 3 to 5 run)", positiveInt, 1)
    .option("--initial-epoch <n>", "the epoch to start at (Keras initial_epoch): its shuffle, and the numbering, continue from there", nonNegativeInt)
    .option("--resume <file>", "continue a run saved by kiln train: its weights, optimizer state and epoch count (bit-identical to not stopping, given the same data and options)")
    .option("--out <file>", "where to save the trained weights and optimizer state", "trained.safetensors")
    .option("--no-shuffle", "keep the data order")
    .option("--seed <n>", "replace the graph's seed (initial weights, dropout, shuffling)", seedInt)
    .option("--validation-split <f>", "hold out the last fraction of --data (before shuffling) as validation data, as Keras's validation_split", fraction)
    .option("--validation-freq <n>", "validate every n-th epoch (Keras validation_freq)", positiveInt)
    .option("--early-stopping-patience <n>", "stop after n epochs without improvement of --early-stopping-monitor (Keras EarlyStopping)", nonNegativeInt)
    .option("--early-stopping-monitor <log>", "the log early stopping watches", "val_loss")
    .option("--early-stopping-min-delta <x>", "the least change that counts as an improvement", finiteNumber)
    .option("--early-stopping-mode <mode>", "auto, min or max", modeArg)
    .option("--early-stopping-baseline <x>", "the value to beat (Keras baseline)", finiteNumber)
    .option("--early-stopping-start-from-epoch <n>", "epochs to wait before watching (Keras start_from_epoch)", nonNegativeInt)
    .option("--restore-best-weights", "at the end, go back to the weights of the best epoch (with --early-stopping-patience)")
    .option("--checkpoint <file>", "save weights and optimizer state after every epoch; {epoch} in the name becomes the epoch (from 1)")
    .option("--checkpoint-best-only", "save a checkpoint only when --checkpoint-monitor improves")
    .option("--checkpoint-monitor <log>", "the log --checkpoint-best-only watches", "val_loss")
    .option("--reduce-lr-patience <n>", "multiply the learning rate by --reduce-lr-factor after n epochs without improvement (Keras ReduceLROnPlateau; compiles a settable rate)", nonNegativeInt)
    .option("--reduce-lr-factor <f>", "the factor", fraction, 0.1)
    .option("--reduce-lr-monitor <log>", "the log it watches", "val_loss")
    .option("--reduce-lr-min-delta <x>", "the least change that counts as an improvement", finiteNumber, 1e-4)
    .option("--reduce-lr-cooldown <n>", "epochs to wait after a reduction", nonNegativeInt, 0)
    .option("--reduce-lr-min-lr <x>", "the lowest rate", finiteNumber, 0)
    .option("--terminate-on-nan", "stop training at a non-finite loss and save what came before (instead of failing)")
    .option("--sample-weight <tensor>", "weigh each example's loss by this F32 [N] tensor of --data (Keras sample_weight; with --validation-split the held-out examples keep theirs)")
    .option("--class-weight <json>", "weigh each example's loss by its class, a JSON object such as '{\"0\": 1, \"1\": 5}' (Keras class_weight; every class of the data needs a weight)", classWeightJson)
    .option("--shuffle-buffer <n>", "stream the safetensors --data in chunks instead of reading it whole, shuffling inside a buffer of n examples (as tf.data's shuffle; seeded by the seed and the epoch)", nonNegativeInt)
    .option("--data-memory <size>", "with --shuffle-buffer: the most memory the streamed data takes (buffer, a batch and a chunk; bytes, or KB/MB/GB); default 64MB", byteSize)
    .option("--verbose <level>", "0 silent, 1 a progress bar (plain lines when piped), 2 one line per epoch (Keras's verbose)", verbosity, 1)
    .option("--csv-log <file>", "write each epoch's logs as CSV (Keras CSVLogger)")
    .option("--json-log <file>", "write each epoch's logs as JSON lines")
    .action(guarded(ctx, "train", async (graph: string, o: any) => {
      // Before any work: an unwritable --out would otherwise lose every epoch at the end.
      await checkWritable(o.out);
      for (const f of [o.csvLog, o.jsonLog]) if (f) await checkWritable(f);
      const resume = await resumePoint(o);
      checkMonitors(o);
      const model = await modelFor(graph, o.batchSize, { ...o, settableLearningRate: o.reduceLrPatience !== undefined, partialWeights: o.strictWeights ? undefined : { io } });
      if (!model.canTrain) throw new UsageError(`${graph} has no "training" section`);
      const { initialEpoch } = resume;
      if (initialEpoch >= o.epochs) {
        throw new UsageError(`the run starts at epoch ${initialEpoch + 1} but --epochs is ${o.epochs}: --epochs counts from the start of training (as Keras's epochs), so give more than ${initialEpoch}`);
      }
      // What makes the order of examples: a resumed run must use the same for an exact resume.
      const settings = {
        [RECORD.seed]: String(model.manifest.seed), [RECORD.batchSize]: String(o.batchSize), [RECORD.shuffle]: String(o.shuffle),
        ...(o.shuffleBuffer !== undefined ? { [RECORD.shuffleBuffer]: String(o.shuffleBuffer) } : {}),
      };
      if (resume.bytes) {
        model.loadWeights(resume.bytes);
        noteChanges(io, o.resume, resume.metadata, settings);
      }
      const slots = [...model.inputs, ...model.targets];
      // --columns maps CSV columns: a CSV validation file has the training file's.
      const validationData = o.validation ? await loadData([o.validation], slots, /\.csv$/i.test(o.validation) ? o.columns : undefined) : undefined;
      if (validationData && o.validationSplit !== undefined) throw new UsageError("--validation and --validation-split both give validation data; use one");
      const { data, count, stepsPerEpoch } = await trainingData(o, model);
      const sampleWeight = await sampleWeightsOf(o, () => (data as Feeds)[model.inputs[0]!.name]!.length / sizeOf(model.inputs[0]!.shape));
      const logs = { csv: "", json: "" };
      const steps = Math.ceil(count / o.batchSize);
      const progress = progressCallback({ verbose: o.verbose, epochs: o.epochs, steps, out: io.out, terminal: io.terminal ?? (process.stderr.isTTY ? process.stderr : undefined) });
      const rate = resume.bytes ? resumedRate(model, resume.metadata, io, o.resume) : undefined;
      let history;
      try {
        history = await model.fit(data, {
          epochs: o.epochs, initialEpoch, batchSize: o.batchSize, shuffle: o.shuffle, validationData, stepsPerEpoch,
          ...(rate !== undefined ? { learningRate: rate } : {}),
          validationSplit: o.validationSplit, validationFreq: o.validationFreq,
          ...(sampleWeight ? { sampleWeight } : {}), ...(o.classWeight ? { classWeight: o.classWeight } : {}),
          // Last, as Keras's ProgbarLogger: it prints the logs the other callbacks completed.
          callbacks: [...(await callbacksOf(o, logs, io, model)), progress],
        });
      } finally {
        progress.stop();
      }
      // Early stopping or terminate-on-NaN may end before --epochs: record the epochs that ran.
      const done = history.epoch.length ? history.epoch.at(-1)! + 1 : initialEpoch;
      if (done < o.epochs) io.out(`stopped after epoch ${done}\n`);
      if (o.csvLog) await writeOutput(o.csvLog, new TextEncoder().encode(logs.csv));
      if (o.jsonLog) await writeOutput(o.jsonLog, new TextEncoder().encode(logs.json));
      await writeOutput(o.out, withRecord(model.saveWeights(), { [RECORD.epochs]: String(done), ...settings, ...rateRecord(model) }));
      io.out(`saved ${o.out}\n`);
    }));

  modelCommand(program, "evaluate", "loss and metrics of a graph's model on a data file",
    "data: safetensors (a tensor per input and target), .npz (an array per input and target), .npy or .csv (with --columns)", "weights (safetensors)", ["examples per step", 64])
    .option("--json", "print the result as JSON")
    .option("--sample-weight <tensor>", "weigh each example's loss by this F32 [N] tensor of --data (Keras sample_weight)")
    .action(guarded(ctx, "evaluate", async (graph: string, o: any) => {
      const model = await modelFor(graph, o.batchSize, o);
      if (!model.canTrain) throw new UsageError(`${graph} has no "training" section: it has no loss to evaluate`);
      const data = await loadData(o.data, [...model.inputs, ...model.targets], o.columns);
      const sampleWeight = await sampleWeightsOf(o, () => data[model.inputs[0]!.name]!.length / sizeOf(model.inputs[0]!.shape));
      const r = model.evaluate(data, { batchSize: o.batchSize, ...(sampleWeight ? { sampleWeight } : {}) });
      io.out(o.json ? JSON.stringify(r) + "\n" : `${fmt({ loss: r.loss, ...r.metrics })}\n`);
    }));

  modelCommand(program, "predict", "run a graph's model on a data file; write the outputs as safetensors (or JSON)",
    "inputs: safetensors (a tensor per graph input), .npz (an array per input), .npy or .csv (with --columns)", "weights (safetensors)", ["examples per call", 64])
    .option("--out <file>", "where to write the outputs (safetensors)")
    .option("--json", "print the outputs as JSON instead")
    .action(guarded(ctx, "predict", async (graph: string, o: any) => {
      if (o.out) await checkWritable(o.out);
      const model = await modelFor(graph, o.batchSize, o);
      const feeds = await loadData(o.data, model.inputs, o.columns);
      const outputs = model.predict(feeds);
      if (o.json || !o.out) {
        io.out(JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, Array.from(v)]))) + "\n");
      }
      if (o.out) {
        const count = feeds[model.inputs[0]!.name]!.length / sizeOf(model.inputs[0]!.shape);
        const tensors = new Map(model.outputs.map((s) => [s.name, { shape: [count, ...s.shape], data: outputs[s.name]! }]));
        await writeOutput(o.out, writeDataFile(tensors));
      }
    }));
}

/** A monitor named val_… needs validation data: say so before compiling rather than watch nothing. */
function checkMonitors(o: any): void {
  const validates = o.validation !== undefined || o.validationSplit !== undefined;
  const watched: [string | undefined, string, string][] = [
    [o.earlyStoppingPatience !== undefined ? o.earlyStoppingMonitor : undefined, "--early-stopping-patience", "--early-stopping-monitor"],
    [o.checkpointBestOnly ? o.checkpointMonitor : undefined, "--checkpoint-best-only", "--checkpoint-monitor"],
    [o.reduceLrPatience !== undefined ? o.reduceLrMonitor : undefined, "--reduce-lr-patience", "--reduce-lr-monitor"],
  ];
  for (const [monitor, flag, monitorFlag] of watched) {
    if (monitor?.startsWith("val_") && !validates) throw new UsageError(`${flag} watches ${monitor}, which needs --validation or --validation-split (or ${monitorFlag} loss)`);
  }
  if (o.restoreBestWeights && o.earlyStoppingPatience === undefined) throw new UsageError("--restore-best-weights goes with --early-stopping-patience");
  if (o.checkpointBestOnly && !o.checkpoint) throw new UsageError("--checkpoint-best-only goes with --checkpoint <file>");
}

/** fit's callbacks for the flags given; the loggers collect their text in `logs` (written at the end). */
async function callbacksOf(o: any, logs: { csv: string; json: string }, io: CliContext["io"], model: Model): Promise<BuiltinCallback[]> {
  const list: BuiltinCallback[] = [];
  if (o.terminateOnNan) list.push({ type: "terminate_on_nan" });
  // First, so the loggers and checkpoints see the learning_rate it adds to the logs.
  if (o.reduceLrPatience !== undefined) {
    list.push({ type: "reduce_lr_on_plateau", monitor: o.reduceLrMonitor, patience: o.reduceLrPatience, factor: o.reduceLrFactor, minDelta: o.reduceLrMinDelta, cooldown: o.reduceLrCooldown, minLr: o.reduceLrMinLr });
  }
  if (o.csvLog) list.push({ type: "csv_logger", write: (t) => void (logs.csv += t) });
  if (o.jsonLog) list.push({ type: "json_logger", write: (t) => void (logs.json += t) });
  if (o.checkpoint) {
    await checkWritable(o.checkpoint.replaceAll("{epoch}", "1"));
    list.push({
      type: "model_checkpoint", monitor: o.checkpointMonitor, saveBestOnly: !!o.checkpointBestOnly,
      save: async (bytes, { epoch }) => {
        const file = o.checkpoint.replaceAll("{epoch}", String(epoch + 1));
        await writeOutput(file, withRecord(bytes, { [RECORD.epochs]: String(epoch + 1), ...rateRecord(model) }));
        io.out(`saved checkpoint ${file}\n`);
      },
    });
  }
  if (o.earlyStoppingPatience !== undefined) {
    list.push({
      type: "early_stopping", monitor: o.earlyStoppingMonitor, patience: o.earlyStoppingPatience, restoreBestWeights: !!o.restoreBestWeights,
      ...(o.earlyStoppingMinDelta !== undefined ? { minDelta: o.earlyStoppingMinDelta } : {}),
      ...(o.earlyStoppingMode !== undefined ? { mode: o.earlyStoppingMode } : {}),
      ...(o.earlyStoppingBaseline !== undefined ? { baseline: o.earlyStoppingBaseline } : {}),
      ...(o.earlyStoppingStartFromEpoch !== undefined ? { startFromEpoch: o.earlyStoppingStartFromEpoch } : {}),
    });
  }
  return list;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
