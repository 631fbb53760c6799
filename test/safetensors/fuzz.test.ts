/**
 * The safetensors fuzz run inside the test suite: 2,000 seeded cases by default, 20,000 with
 * KILN_FUZZ_FULL=1. No crash (only KilnError), no accepted file that disagrees with the oracle.
 */

import { describe, expect, it } from "vitest";
import { fuzzSafetensors } from "./fuzz.js";

const FULL = process.env.KILN_FUZZ_FULL === "1";
const CASES = FULL ? 20_000 : 2_000;

describe("safetensors reader under mutation", () => {
  it(`${CASES} mutated files: KilnError or an exact, in-bounds result`, () => {
    const r = fuzzSafetensors(CASES, 1);
    expect(r.crashes).toEqual([]);
    expect(r.violations).toEqual([]);
    expect(r.accepted + r.rejected).toBe(CASES);
    // The corpus and mutations must exercise both sides, or the run proves little.
    expect(r.accepted).toBeGreaterThan(CASES / 50);
    expect(r.rejected).toBeGreaterThan(CASES / 2);
    for (const [label, t] of Object.entries(r.byMutation)) expect(t.accepted + t.rejected, label).toBeGreaterThan(0);
    // Consistent rewrites (permuted data regions) must always be read back.
    expect(r.byMutation.validReorder.rejected).toBe(0);
  });
});
