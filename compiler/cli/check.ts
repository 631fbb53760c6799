/**
 * `kiln check graph.json [--json]`: runs the front end and prints a Keras-style summary (or the
 * same as JSON). Exit 0 valid, 1 invalid graph (each problem on its own line on stderr, with its
 * path and layer), 2 usage error (including a file that cannot be read).
 */
import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { KilnError, formatDiagnostic } from "../frontend/diagnostics.js";
import { checkGraph } from "../frontend/index.js";
import { formatSummary, summarize } from "../frontend/summary.js";
import type { CliContext } from "./main.js";

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
        io.out(opts.json ? JSON.stringify(summarize(graph), null, 2) + "\n" : formatSummary(graph));
        setExitCode(0);
      } catch (err) {
        if (!(err instanceof KilnError)) throw err;
        for (const d of err.diagnostics) io.err(`${file}: ${oneLine(formatDiagnostic(d))}\n`);
        setExitCode(1);
      }
    });
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
