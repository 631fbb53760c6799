/**
 * Ops kiln has that neither export table maps yet (they reached kiln after the tables were
 * written): each is refused by name, the same way in every target format.
 */
import type { OpName } from "../frontend/graph-types.js";

const NOT_EXPORTED_YET = [
  "time_distributed",
  "group_normalization", "dot", "spatial_dropout1d", "spatial_dropout2d", "gaussian_noise", "gaussian_dropout",
] as const satisfies readonly OpName[];

/** One refusal per op above, for an export table. */
export const notExportedYet = Object.fromEntries(NOT_EXPORTED_YET.map((op) => [op, () => `kiln does not export ${op} yet`])) as
  Record<(typeof NOT_EXPORTED_YET)[number], () => string>;
