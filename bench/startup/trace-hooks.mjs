// Module resolve hook for trace-imports.mjs (runs on Node's loader thread): appends each resolved URL.
import { appendFileSync } from "node:fs";

let file;

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(file, result.url + "\n");
  return result;
}
