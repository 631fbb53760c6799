/**
 * The cached-attention kernel (emit/cached-attention.ts) against a float64 loop: per example at
 * its own position p, k and v appended to the caches at row p, attention over rows 0..p per head,
 * odd head sizes; a position outside [0, context) writes a zero output row and leaves the caches.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitCachedAttention } from "../../compiler/emit/cached-attention.js";
import { buildModule, randomArray, relErr, type TestModule } from "./ew-harness.js";

const SPEC = { rows: "rt0", heads: 3, dk: 5, dv: 7, context: 6, alpha: 1 / Math.sqrt(5) };
const B = 4, KW = SPEC.heads * SPEC.dk, VW = SPEC.heads * SPEC.dv, T = SPEC.context;

/** float64: o[b] for query q[b] against caches already holding rows 0..p (this row included). */
function reference(q: Float32Array, kc: Float32Array, vc: Float32Array, b: number, p: number): number[] {
  const out: number[] = [];
  for (let h = 0; h < SPEC.heads; h++) {
    const s = Array.from({ length: p + 1 }, (_, j) => {
      let d = 0;
      for (let i = 0; i < SPEC.dk; i++) d += q[b * KW + h * SPEC.dk + i]! * kc[(b * T + j) * KW + h * SPEC.dk + i]!;
      return d * SPEC.alpha;
    });
    const m = Math.max(...s), e = s.map((x) => Math.exp(x - m)), z = e.reduce((a, x) => a + x, 0);
    for (let i = 0; i < SPEC.dv; i++) out.push(e.reduce((a, w, j) => a + (w / z) * vc[(b * T + j) * VW + h * SPEC.dv + i]!, 0));
  }
  return out;
}

describe("cached attention kernel", () => {
  let mod: TestModule;
  beforeAll(async () => {
    mod = await buildModule({ attend: emitCachedAttention(SPEC) });
  });

  it("appends k and v at each example's position and attends over rows 0..p", () => {
    mod.reset();
    const positions = [0, 3, 5, 7]; // the last is outside the context
    const q = randomArray(B * KW, 1), k = randomArray(B * KW, 2), v = randomArray(B * VW, 3);
    const kcInit = randomArray(B * T * KW, 4), vcInit = randomArray(B * T * VW, 5);
    const [pq, pk, pv] = [q, k, v].map((a) => mod.put(a));
    const pos = mod.put(positions, "i32"), po = mod.put(new Float32Array(B * VW).fill(9));
    const pkc = mod.put(kcInit), pvc = mod.put(vcInit), scratch = mod.alloc(T);
    mod.fns.attend!(pq!, pk!, pv!, pos, po, pkc, pvc, scratch, B);
    const kc = mod.f32(pkc, B * T * KW).slice(), vc = mod.f32(pvc, B * T * VW).slice(), o = mod.f32(po, B * VW);
    // The caches: row p of each example in range replaced by its k and v; every other row as it was.
    const wantK = kcInit.slice(), wantV = vcInit.slice();
    positions.forEach((p, b) => {
      if (p >= T) return;
      wantK.set(k.subarray(b * KW, (b + 1) * KW), (b * T + p) * KW);
      wantV.set(v.subarray(b * VW, (b + 1) * VW), (b * T + p) * VW);
    });
    expect(Array.from(kc)).toEqual(Array.from(wantK));
    expect(Array.from(vc)).toEqual(Array.from(wantV));
    positions.forEach((p, b) => {
      const got = o.subarray(b * VW, (b + 1) * VW);
      if (p >= T) expect(Array.from(got)).toEqual(new Array(VW).fill(0));
      else expect(relErr(got, reference(q, kc, vc, b, p))).toBeLessThan(1e-5);
    });
  });
});
