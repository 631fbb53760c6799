/**
 * The JSON summary an example writes with `--summary <file>`: the per-epoch history and the
 * example's results. Tests read it to check that the pipeline ran and the loss fell.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export function writeSummary(path, summary) {
  if (!path) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(summary, null, 2) + "\n");
}
