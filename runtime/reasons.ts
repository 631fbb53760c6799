/**
 * The reasons a load or a weights file is refused, numbered. A Refusal carries one of these and its
 * values; the sentences, keyed by them, are in load-errors.ts and weights-errors.ts, fetched only
 * when a load fails. A const enum: the compiled code every load parses holds only the numbers
 * (the names cost a predict-only app ~120 B gzipped), the source reads by name.
 */
export const enum Reason {
  // load.ts, open.ts: the source and the module
  badUrl, source, fetch, http, bodyUsed, body, file, compile, instantiate, imports, noMemory, noWeights,
  // manifest.ts: the manifest
  sections, json, format, maxBatch, pages, seed, region, overlap, named, sameName, slot, weightShape, predict, noExport, kernels, functions,
  // weights-io.ts: a weights file
  fileType, short, headerLength, headerJson, tensorCount, entry, entryBytes, packed, cover, missing, noTensor, tensorType, nonFinite, step, velocity,
}
