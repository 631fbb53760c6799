// Small builders for front-end tests: a graph value around some layers, and a catcher that returns
// the KilnError a check throws (failing the test when it does not throw one).
import { expect } from "vitest";
import { checkGraph } from "../../compiler/frontend/index.js";
import { KilnError } from "../../compiler/frontend/diagnostics.js";

export type Obj = Record<string, unknown>;

export function graphOf(inputs: Obj[], layers: Obj[], extra: Obj = {}): Obj {
  return { format: "kiln.graph/v1", name: "t", inputs, layers, ...extra };
}

export const input = (shape: number[], name = "x", dtype?: string): Obj => (dtype ? { name, shape, dtype } : { name, shape });

/** Output shape of the last layer of a one-input graph. */
export function outShape(shape: number[], ...layers: Obj[]): number[] {
  const named = layers.map((l, i) => ({ name: `l${i}`, ...l }));
  const g = checkGraph(graphOf([input(shape)], named));
  return g.layers[g.layers.length - 1].shape;
}

export function errorOf(value: unknown, opts?: Parameters<typeof checkGraph>[1]): KilnError {
  try {
    checkGraph(value, opts);
  } catch (err) {
    if (err instanceof KilnError) return err;
    throw err;
  }
  expect.fail("expected a KilnError");
}
