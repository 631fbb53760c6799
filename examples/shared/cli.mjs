/**
 * Command-line options every example shares (commander): --seed, --epochs, --quick, --summary,
 * --out and --optimize. Each example adds its own options through `extra` and passes its
 * defaults; `--quick` is the small, fast configuration the test suite runs.
 */
import { Command, InvalidArgumentError } from "commander";

const int = (value) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
};

/**
 * Parses process.argv. `defaults` holds the example's own values (epochs, …); `extra(program)`
 * may add options. Returns the parsed options with `quick` applied by the caller.
 */
export function parseOptions({ name, description, outDir, defaults = {}, extra }) {
  const program = new Command(name)
    .description(description)
    .option("--seed <n>", "seed for weights, shuffling and sampling (overrides the graph's seed)", int, defaults.seed)
    .option("--epochs <n>", "passes over the training data", int, defaults.epochs)
    .option("--quick", "a small, fast run (fewer examples and epochs) for tests", false)
    .option("--summary <file>", "write a JSON summary of the run (losses per epoch, results)")
    .option("--out <dir>", "folder for the learning curve and other outputs", outDir)
    .option("--data-dir <dir>", "folder for the prepared data files", `${outDir}/data`)
    .option("--optimize <level>", "asc optimization level 0..3 (quick runs use 0)", int);
  extra?.(program);
  program.parse(process.argv);
  const o = program.opts();
  o.optimize ??= o.quick ? 0 : 3;
  return o;
}

/** Integer parser for extra options. */
export { int as intOption };
