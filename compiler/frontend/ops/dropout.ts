/**
 * dropout: inverted dropout in training steps, identity otherwise; same shape, no weights.
 * The rate must lie in [0, 1) (1 would divide by zero in the 1/(1−rate) scale).
 */
import type { OpDef } from "./op.js";
import { lowerDropout } from "../../passes/lower/layers.js";

export const dropout: OpDef = {
  lower: lowerDropout,
  name: "dropout",
  description: "Inverted dropout (scale 1/(1-rate)) in training steps, identity in predict/evaluate.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    rate: {
      title: "a number in [0, 1)",
      description: "Fraction of the inputs to drop.",
      type: "number",
      minimum: 0,
      exclusiveMaximum: 1,
    },
  },
  required: ["rate"],
  normalize: (raw) => ({ rate: raw.rate }),
  shape: ([x]) => [...x],
  weights: () => [],
};
