/**
 * Regenerates bench/results/README-table.md (the README's Benchmarks section) from
 * bench/results/latest.json without re-running anything: `node bench/readme.js`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { ROOT } from "./lib/graphs.js";
import { renderReport } from "./lib/report.js";

const results = JSON.parse(readFileSync(ROOT + "bench/results/latest.json", "utf8"));
writeFileSync(ROOT + "bench/results/README-table.md", renderReport(results) + "\n");
console.log("wrote bench/results/README-table.md");
