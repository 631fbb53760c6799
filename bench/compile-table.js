/**
 * The bench's compile table alone, without the rest of the benchmark: compile time, module size
 * and parameter count of every example graph and every zoo model (examples/zoo/graphs), built as
 * `npm run bench` builds them (maxBatch 64, asc -O0). Prints the markdown table and writes it to
 * bench/results/compile-table.md. Build dist first (`npm run build`).
 * Usage: node bench/compile-table.js [--zoo]   (--zoo: the zoo models only)
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { readGraph, exampleGraphs, zooGraphs, ROOT } from "./lib/graphs.js";
import { compileRows } from "./lib/kiln.js";
import { compileHead, compileRow, markdown } from "./lib/report.js";

const zooOnly = process.argv.includes("--zoo");
const optimizeLevel = 0;
const entries = [...(zooOnly ? [] : exampleGraphs()), ...zooGraphs()];
const { rows } = await compileRows(entries, { maxBatch: 64, optimizeLevel }, readGraph, (m) => console.error(m));
const table = markdown(compileHead(optimizeLevel), rows.map(compileRow));
const when = new Date().toISOString().slice(0, 10);
const text = `Measured ${when} with \`node bench/compile-table.js${zooOnly ? " --zoo" : ""}\` (one compile each, warm compiler; load average ${loadavg()[0].toFixed(1)} when it ended).\n\n${table}\n`;
writeFileSync(ROOT + "bench/results/compile-table.md", text);
console.log(text);
console.error("wrote bench/results/compile-table.md");
