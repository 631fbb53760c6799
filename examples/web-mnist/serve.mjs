/**
 * The web demo's dev server (node:http, no dependencies): the page and its scripts from this folder,
 * the built runtime (dist/runtime/*.js) under /runtime/, and the compiled CNN and data file under
 * /build/ (prepared on first start). `--isolate` adds the COOP/COEP headers that make the page
 * cross-origin isolated (needed for shared memory: with them the worker trains on 2 threads).
 * Usage: node examples/web-mnist/serve.mjs [--port 8080] [--isolate] [--rebuild]
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_OUT, buildFiles, prepare } from "./prepare.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const runtimeDir = join(here, "../../dist/runtime");
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".bin": "application/octet-stream" };
const PAGE_FILES = new Set(["index.html", "app.js", "worker.js", "charts.js", "digits.js", "style.css"]);

/**
 * Maps a request path to a file, or undefined. Only known page files, and plain file names (no
 * slashes, no dots in front) under /runtime/ and /build/, so no request can leave these folders.
 */
export function resolvePath(pathname, buildDir) {
  if (pathname === "/") return join(here, "index.html");
  const [, top, name, extra] = pathname.split("/");
  if (extra !== undefined) return undefined;
  if (name === undefined) return PAGE_FILES.has(top) ? join(here, top) : undefined;
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) return undefined;
  if (top === "runtime" && name.endsWith(".js")) return join(runtimeDir, name);
  if (top === "build") return join(buildDir, name);
  return undefined;
}

/** Starts the server; resolves to `{ url, close }`. Prepares the build folder when files are missing. */
export async function startServer({ port = 8080, host = "127.0.0.1", isolate = false, buildDir = DEFAULT_OUT, rebuild = false } = {}) {
  if (!existsSync(join(runtimeDir, "index.js"))) throw new Error(`${runtimeDir}/index.js is missing: run \`npm run build\` first`);
  if (rebuild || !Object.values(buildFiles(buildDir)).every((f) => existsSync(f))) {
    console.log(`preparing ${buildDir} (data file and compiled CNN; takes a little while) ...`);
    await prepare({ out: buildDir });
  }
  const server = createServer(async (req, res) => {
    const file = resolvePath(new URL(req.url ?? "/", "http://x").pathname, buildDir);
    const headers = { "cache-control": "no-store" };
    if (isolate) Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
    let body;
    try {
      body = file && (await readFile(file));
    } catch {
      body = undefined;
    }
    if (!body || req.method !== "GET") {
      res.writeHead(body ? 405 : 404, { ...headers, "content-type": "text/plain" }).end(body ? "GET only" : "not found");
      return;
    }
    res.writeHead(200, { ...headers, "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  const url = `http://${host}:${server.address().port}/`;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args[at + 1]) : 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port expects 0-65535, got ${args[at + 1]}`);
    process.exit(2);
  }
  const { url } = await startServer({ port, isolate: args.includes("--isolate"), rebuild: args.includes("--rebuild") });
  console.log(`kiln web demo at ${url}${args.includes("--isolate") ? " (cross-origin isolated)" : ""}; Ctrl-C stops it`);
}
