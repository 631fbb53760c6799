/**
 * `kiln train`'s progress, as Keras 3's ProgbarLogger prints it: "Epoch k/N", then with
 * `--verbose 1` a live line on a terminal (steps done/total, a 20-character bar, the ETA, the time
 * per step, the running loss and metrics) that ends as "469/469 ━━━━ 3s 5ms/step - loss: …";
 * piped, only that closing line. `--verbose 2`: one line per epoch, "469/469 - 3s - 5ms/step -
 * loss: …". `--verbose 0`: nothing. The live line is drawn with cli-progress.
 */
import cliProgress from "cli-progress";
import type { Callback, Logs } from "../../runtime/fit.js";

export type Verbosity = 0 | 1 | 2;

export interface ProgressOptions {
  verbose: Verbosity;
  /** The epoch to stop before (as --epochs counts). */
  epochs: number;
  /** Batches per epoch. */
  steps: number;
  /** Where the lines go. */
  out(text: string): void;
  /** A terminal to draw the live line on (verbose 1), or undefined: plain lines. */
  terminal?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Milliseconds now (tests give a clock). */
  now?: () => number;
}

const WIDTH = 20;

/** A value as Keras's Progbar: 4 decimals, or 4 significant digits in exponent form for tiny ones ("1.2340e-04"). */
export function kerasValue(v: number): string {
  if (Math.abs(v) > 1e-3 || !Number.isFinite(v)) return Number.isFinite(v) ? v.toFixed(4) : String(v).toLowerCase().replace("infinity", "inf");
  return v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
}

/** " - loss: 0.4803 - mae: 0.1200", the logs sorted by name as Keras 3 shows them. */
export function kerasLogs(logs: Logs): string {
  return Object.keys(logs).sort().map((k) => ` - ${k}: ${kerasValue(logs[k]!)}`).join("");
}

/** Keras's time per step: "5ms/step", "12us/step" or "2s/step". */
export function perStep(seconds: number): string {
  if (seconds >= 1 || seconds === 0) return `${seconds.toFixed(0)}s/step`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(0)}ms/step`;
  return `${(seconds * 1e6).toFixed(0)}us/step`;
}

/** Keras's ETA: "7s", "1:05" or "1:00:05". */
export function eta(seconds: number): string {
  const s = Math.floor(seconds), two = (n: number) => String(n).padStart(2, "0");
  if (s > 3600) return `${Math.floor(s / 3600)}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  if (s > 60) return `${Math.floor(s / 60)}:${two(s % 60)}`;
  return `${s}s`;
}

const count = (current: number, total: number) => `${String(current).padStart(String(total).length)}/${total}`;
/** Keras's bar is one character in two colours; without colour the part to come is a thin line. */
const bar = (current: number, total: number) => {
  const filled = Math.min(WIDTH, Math.floor((WIDTH * current) / total));
  return "━".repeat(filled) + "─".repeat(WIDTH - filled);
};

/** The closing line of an epoch at `verbose` after `done` of `steps` batches (fewer when training stopped inside it). */
export function epochLine(verbose: Verbosity, done: number, steps: number, seconds: number, logs: Logs): string {
  const time = perStep(done ? seconds / done : 0);
  if (verbose === 2) return `${count(done, steps)} - ${seconds.toFixed(0)}s - ${time}${kerasLogs(logs)}`;
  return `${count(done, steps)} ${bar(done, steps)} ${seconds.toFixed(0)}s ${time}${kerasLogs(logs)}`;
}

/** The live line after `done` of `steps` batches, `seconds` into the epoch. */
export function liveLine(done: number, steps: number, seconds: number, logs: Logs): string {
  const each = seconds / done;
  return `${count(done, steps)} ${bar(done, steps)} ${eta(each * (steps - done))} ${perStep(each)}${kerasLogs(logs)}`;
}

/** fit's callback that prints the progress (put it last, as Keras's ProgbarLogger). */
export function progressCallback(o: ProgressOptions): Callback & { stop(): void } {
  const now = o.now ?? (() => performance.now());
  let started = 0, done = 0;
  const live = o.verbose === 1 && o.terminal?.isTTY
    ? new cliProgress.SingleBar({ stream: o.terminal, format: (_opts, _params, payload: { line?: string }) => payload.line ?? "", hideCursor: true, clearOnComplete: true, linewrap: false })
    : undefined;
  return {
    onEpochBegin(epoch) {
      if (o.verbose === 0) return;
      o.out(`Epoch ${epoch + 1}/${o.epochs}\n`);
      started = now();
      done = 0;
      live?.start(o.steps, 0, { line: `${count(0, o.steps)} ${bar(0, o.steps)}` });
    },
    onBatchEnd(batch, logs) {
      done = batch + 1;
      live?.update(done, { line: liveLine(done, o.steps, (now() - started) / 1000, logs) });
    },
    onEpochEnd(_epoch, logs) {
      if (o.verbose === 0) return;
      live?.stop();
      o.out(`${epochLine(o.verbose, done, o.steps, (now() - started) / 1000, logs)}\n`);
    },
    stop() {
      live?.stop();
    },
  };
}
