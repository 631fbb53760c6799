/**
 * `kiln check graph.json [--json]`: runs the front end and prints a Keras-style summary (or the
 * same as JSON), with the memory the module would declare at the default max batch (64); notes
 * that are not errors (a kiln.graph/v1 file and how its axes were read) go to stderr. Exit 0
 * valid, 1 invalid graph (each problem on its own line on stderr, with its
 * path and layer), 2 usage error (including a file that cannot be read).
 */
import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { KilnError, formatDiagnostic } from "../frontend/diagnostics.js";
import { checkGraph } from "../frontend/index.js";
import { formatSummary, summarize } from "../frontend/summary.js";
import type { CliContext } from "./main.js";
import { plannedMemory, type PlannedMemory } from "../index.js";
import type { Graph } from "../frontend/graph-types.js";
import { formatBytes } from "../passes/memory.js";

export function registerCheck(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command("check")
    .description("validate a graph file and print its summary (layers, shapes, parameter counts)")
    .argument("<graph>", "path of the graph JSON file")
    .option("--json", "print the summary as JSON")
    .option("--max-bytes <n>", "largest graph file accepted, in bytes", parsePositive)
    .action(async (file: string, opts: { json?: boolean; maxBytes?: number }) => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        io.err(`kiln check: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
        return setExitCode(2);
      }
      try {
        const graph = checkGraph(text, { maxBytes: opts.maxBytes });
        // Notes (a kiln.graph/v1 file, how its axes were read) go to stderr: the summary stays parseable.
        for (const d of graph.notes ?? []) io.err(`${file}: note: ${oneLine(formatDiagnostic(d))}\n`);
        const memory = memoryOf(graph);
        io.out(opts.json ? JSON.stringify({ ...summarize(graph), memory }, null, 2) + "\n" : formatSummary(graph) + memoryLine(memory));
        setExitCode(0);
      } catch (err) {
        if (!(err instanceof KilnError)) throw err;
        for (const d of err.diagnostics) io.err(`${file}: ${oneLine(formatDiagnostic(d))}\n`);
        setExitCode(1);
      }
    });
}

/**
 * The plan alone (tens to hundreds of ms). A graph the lowering cannot plan is still a checked
 * graph: its summary says why instead of failing the check.
 */
function memoryOf(graph: Graph): PlannedMemory | { error: string } {
  try {
    return plannedMemory(graph);
  } catch (err) {
    return { error: err instanceof KilnError ? err.diagnostics.map((d) => d.message).join("; ") : String((err as Error).message ?? err) };
  }
}

/** " Memory at max batch 64: 24.0 MiB (activations 21.6 MiB; …)", and what fits when it is over 4 GiB. */
function memoryLine(m: PlannedMemory | { error: string }): string {
  if ("error" in m) return ` Memory: not planned (${m.error})\n`;
  const regions = Object.entries(m.regions).filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]).map(([name, b]) => `${name} ${formatBytes(b)}`);
  const over = m.fits ? "" : m.largestBatch
    ? `; over WebAssembly's 4 GiB: compile with --max-batch ${m.largestBatch} or less`
    : "; over WebAssembly's 4 GiB at any batch";
  return ` Memory at max batch ${m.maxBatch}: ${formatBytes(m.bytes)} (${regions.join("; ")})${over}\n`;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  }
  return n;
}

/** Keeps one problem on one line even when a quoted key from the file holds line breaks. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
