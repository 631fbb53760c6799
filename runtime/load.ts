/**
 * Runtime stage 0: turn whatever the caller has (bytes, a Response, a URL, a file path in Node, a
 * compiled WebAssembly.Module) into a WebAssembly.Module, and instantiate it (capabilities.ts
 * detects what the engine supports). Node built-ins are reached only through a dynamic import on the file path branch, so browser
 * bundles can drop them.
 */
import { refuse } from "./errors.js";
import type { Reasons } from "./load-errors.js";
import { Reason } from "./reasons.js";

export type Source = Uint8Array | ArrayBuffer | Response | URL | string | WebAssembly.Module;

/** Loading is refused for `reason` (a sentence of load-errors.ts, loaded only then); `path` names the source. */
const fail = <R extends Reason>(path: string, reason: R, ...values: Parameters<Reasons[R]>): never => refuse("load", path, reason, ...values);

const isNode = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** Resolves a model source to a compiled module. */
export async function toModule(source: Source): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  const where = typeof source === "string" ? source : source instanceof URL ? source.href : "model", bytes = await toBytes(source);
  // toBytes gives a Response only to compile it while it downloads. (Not `instanceof Response`: in
  // Node 20 merely evaluating `typeof Response` loads fetch, ~50-100 ms at start-up.)
  const streamed = !(bytes instanceof Uint8Array || bytes instanceof ArrayBuffer);
  try {
    return await (streamed ? WebAssembly.compileStreaming(bytes) : WebAssembly.compile(bytes as BufferSource));
  } catch (e) {
    // Streaming also fails when the download breaks off: only a CompileError is about the bytes.
    if (streamed && !(e instanceof WebAssembly.CompileError)) return fail(where, Reason.body, (e as Error).message);
    // The sentence (load-errors.ts) says whether this engine lacks SIMD or relaxed SIMD.
    return fail(where, Reason.compile, (e as Error).message);
  }
}

type Loaded = Uint8Array | ArrayBuffer | Response;

async function toBytes(source: Source): Promise<Loaded> {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return source;
  if (typeof Response !== "undefined" && source instanceof Response) return fromResponse(source, source.url || "response");
  if (typeof source === "string") {
    // A scheme of two letters or more (so not "C:") makes a URL; other strings are file paths in
    // Node and URLs relative to the page in browsers.
    const scheme = /^[a-z][a-z0-9+.-]+:/i.test(source);
    if (!scheme && isNode()) return readFile(source);
    try {
      source = new URL(source, scheme ? undefined : (globalThis as { location?: { href: string } }).location?.href);
    } catch {
      return fail(source as string, Reason.badUrl);
    }
  }
  if (!(source instanceof URL)) return fail("", Reason.source, typeName(source));
  if (source.protocol === "file:" && isNode()) return readFile(source);
  let res: Response;
  try {
    res = await fetch(source);
  } catch (e) {
    return fail(source.href, Reason.fetch, (e as Error).message);
  }
  return fromResponse(res, source.href);
}

/**
 * A response served as application/wasm (and not yet read) is compiled while it downloads
 * (compileStreaming); other responses are read whole first, as streaming requires that type.
 */
async function fromResponse(res: Response, where: string): Promise<Loaded> {
  if (!res.ok) fail(where, Reason.http, res.status, res.statusText);
  const wasmType = /^application\/wasm\b/i.test(res.headers.get("content-type") ?? "");
  if (wasmType && !res.bodyUsed && typeof WebAssembly.compileStreaming === "function") return res;
  try {
    return await res.arrayBuffer();
  } catch (e) {
    return fail(where, Reason.bodyUsed, (e as Error).message);
  }
}

async function readFile(path: string | URL): Promise<Uint8Array> {
  const fs = await import("node:fs/promises");
  try {
    return await fs.readFile(path);
  } catch (e) {
    return fail(String(path), Reason.file, (e as Error).message);
  }
}

/**
 * Instantiates a module with a fresh memory of `pages` (shared for threaded modules) and the
 * runtime's functions `env(memory)` next to it.
 */
export async function instantiate(mod: WebAssembly.Module, pages: number, shared: boolean, env: (memory: WebAssembly.Memory) => WebAssembly.ModuleImports) {
  try {
    const memory = new WebAssembly.Memory(shared ? { initial: pages, maximum: pages, shared } : { initial: pages });
    return { memory, instance: await WebAssembly.instantiate(mod, { env: { memory, ...env(memory) } }) };
  } catch (e) {
    return fail("", Reason.instantiate, pages, shared, (e as Error).message);
  }
}

export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}
