/**
 * The optimizer registry: one file per optimizer. The graph schema, the training check, the
 * lowering (slots), the step-scalar and update kernels and the manifest's slot names all read it,
 * so adding an optimizer is its file, a line here and its tests.
 */
import { adam } from "./adam.js";
import { adamw } from "./adamw.js";
import type { OptimizerDef } from "./optimizer.js";
import { rmsprop } from "./rmsprop.js";
import { sgd } from "./sgd.js";

export const OPTIMIZERS = { sgd, adam, adamw, rmsprop } satisfies Record<string, OptimizerDef<any>>;

export type OptimizerType = keyof typeof OPTIMIZERS;
export const OPTIMIZER_TYPES = Object.keys(OPTIMIZERS) as OptimizerType[];

export function optimizerDef(type: string): OptimizerDef {
  if (!Object.hasOwn(OPTIMIZERS, type)) throw new Error(`internal: unknown optimizer "${type}"`);
  return OPTIMIZERS[type as OptimizerType] as OptimizerDef;
}

export type { OptimizerDef } from "./optimizer.js";
