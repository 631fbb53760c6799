/**
 * What the lazily loaded parts of the runtime (threads, decode, debug, init, the load-failure
 * sentences; training, fit and streaming for `kiln/runtime`) take from the core, in one module.
 * Why: a bundler that splits code (esbuild, as scripts/runtime-size.mjs measures) assigns each file
 * to a chunk by which entries reach it; when every lazy part reaches the whole core through this
 * one module, the core is one chunk instead of one chunk per combination of lazy parts (each with
 * its own import and export statements: 440 bytes of a predict-only app's 15.8 KB on 2026-12-07).
 * The lazy parts load only after the core, so reaching all of it costs them nothing.
 */
export { fail, KilnError, refuse } from "./errors.js";
export { instantiate, typeName } from "./load.js";
export { checkManifest, isInt, isObject, isString, partChecks, readManifest, size } from "./manifest.js";
export { checkFeeds, genuine, put } from "./feeds.js";
export { open } from "./open.js";
export { Predictor } from "./predictor.js";
