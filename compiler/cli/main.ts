/**
 * The `kiln` command line. Each subcommand lives in its own file and registers itself here with
 * one line in COMMANDS. `main` never exits the process: it returns the exit code (0 ok, 1 invalid
 * input, 2 usage error), and output goes through injectable writers so tests can capture it.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerCheck } from "./check.js";
import { registerCompile } from "./compile.js";
import { registerTrain } from "./train.js";
import { registerImport } from "./import.js";

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** A terminal for live progress (kiln train --verbose 1); default: stderr when it is a TTY. */
  terminal?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What a subcommand gets: the program to attach to, the writers, and a way to set the exit code. */
export interface CliContext {
  io: CliIO;
  setExitCode(code: number): void;
}

export type RegisterCommand = (program: Command, ctx: CliContext) => void;

/** Subcommands: add `registerCompile`, `registerTrain`, … here. */
const COMMANDS: RegisterCommand[] = [registerCheck, registerCompile, registerTrain, registerImport];

const processIO: CliIO = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** kiln's version, from the package.json above this file (compiler/cli/ in the sources, dist/compiler/cli/ built). */
function version(): string {
  for (const up of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8"));
      if (pkg.name === "kiln" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not there: the next level up
    }
  }
  return "unknown";
}

/** The `kiln` program with every subcommand registered (main parses with it; tests read its options). */
export function createProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command("kiln")
    .description("Compile declarative JSON model graphs to WebAssembly that trains and runs anywhere JavaScript does.")
    .version(version(), "-V, --version", "print kiln's version")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run kiln --help for usage)");
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  let exitCode = 0;
  const program = createProgram({ io, setExitCode: (code) => void (exitCode = code) });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version end with a CommanderError too, but with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return exitCode;
}
