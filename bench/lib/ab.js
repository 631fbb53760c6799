// What the A/B probes (matmul-ab, mobilenet-profile, finetune-profile) share: which builds to load
// and how to time one call in CPU time.
import { pathToFileURL } from "node:url";

/** The builds to compare: `baseDir` (a dist/ built from another tree, relative to the working directory) first if given, then this tree's dist/. */
export function abDists(baseDir) {
  const here = ["new", new URL("../../dist/", import.meta.url).href];
  if (baseDir === undefined) return [here];
  return [["base", new URL(`${baseDir.replace(/\/?$/, "/")}`, pathToFileURL(process.cwd() + "/")).href], here];
}

/** CPU milliseconds per call of `f`, over at least `minMs` of wall time (process.cpuUsage: time descheduled on a shared machine does not count). */
export function cpuMs(f, minMs) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  let n = 0;
  do { f(); n++; } while (performance.now() - t0 < minMs);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
}

/** The bench's one median (measure.js: the mean of the middle two for an even count). */
export { median } from "./measure.js";
