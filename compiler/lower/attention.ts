/** multi_head_attention: projections, scaled scores, (causal) softmax, weighted values, output projection. */
import type { Lowering } from "./layers.js";

export const ATTENTION: Record<string, Lowering> = {};
