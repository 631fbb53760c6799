/**
 * The recurrence loop kernel (emit/recurrence.ts) against float64 loops, per cell: every state
 * (return_sequences, go_backwards, the reversed output bidirectional asks for) and the last one,
 * 6 units (one f32x4 step and a scalar tail of the cell), 6 to 24 columns of h·U (16-column
 * register blocks, 4-column steps and scalar tails), a runtime batch; and a share of the batch
 * (one example, pointers offset as a thread's) gives the same bits as the whole call. Its
 * gradient kernel is checked through the compiled gradient and finite-difference suites.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitRecurrence, type RecurrenceSpec } from "../../compiler/emit/recurrence.js";
import { CELL_GATES, CELL_SAVED, type RecurrenceCell } from "../../compiler/prims/recurrence.js";
import { buildModule, randomArray, relErr, type TestModule } from "./ew-harness.js";

const T = 5, U = 6, B = 3;
const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** float64 states of one example, in step order: h_k after step k. */
function reference(cell: RecurrenceCell, p: Float32Array, w: Float32Array, rb: Float32Array, goBackwards: boolean): number[][] {
  const g = CELL_GATES[cell] * U;
  let h = new Array(U).fill(0), c = new Array(U).fill(0);
  const states: number[][] = [];
  const hU = (v: number[], col: number) => Array.from({ length: U }, (_, j) => v.reduce((s, vi, i) => s + vi * w[i * g + col + j]!, 0));
  for (let k = 0; k < T; k++) {
    const t = goBackwards ? T - 1 - k : k;
    const P = (gate: number) => Array.from({ length: U }, (_, j) => p[t * g + gate * U + j]!);
    const R = (gate: number) => hU(h, gate * U);
    let next: number[];
    if (cell === "simple_rnn") next = P(0).map((x, j) => Math.tanh(x + R(0)[j]!));
    else if (cell === "lstm") {
      const [i, f, gg, o] = [0, 1, 2, 3].map((q) => P(q).map((x, j) => x + R(q)[j]!));
      c = c.map((cp, j) => sig(f![j]!) * cp + sig(i![j]!) * Math.tanh(gg![j]!));
      next = c.map((cv, j) => sig(o![j]!) * Math.tanh(cv));
    } else {
      const bias = (q: number, j: number) => (cell === "gru_after" ? rb[q * U + j]! : 0);
      const z = P(0).map((x, j) => sig(x + R(0)[j]! + bias(0, j)));
      const r = P(1).map((x, j) => sig(x + R(1)[j]! + bias(1, j)));
      const cand = cell === "gru_after"
        ? P(2).map((x, j) => Math.tanh(x + r[j]! * (R(2)[j]! + bias(2, j))))
        : (() => { const rh = hU(h.map((hv, j) => r[j]! * hv), 2 * U); return P(2).map((x, j) => Math.tanh(x + rh[j]!)); })();
      next = h.map((hp, j) => z[j]! * hp + (1 - z[j]!) * cand[j]!);
    }
    h = next;
    states.push(h);
  }
  return states;
}

const CELLS: RecurrenceCell[] = ["simple_rnn", "lstm", "gru_after", "gru_before"];
const VARIANTS = [
  { sequences: true, goBackwards: false, reverseOutput: false },
  { sequences: true, goBackwards: true, reverseOutput: false },
  { sequences: true, goBackwards: true, reverseOutput: true },
  { sequences: false, goBackwards: true, reverseOutput: false },
];
const spec = (cell: RecurrenceCell, v: (typeof VARIANTS)[number]): RecurrenceSpec => ({ cell, activation: "tanh", steps: T, units: U, batch: "nb", ...v });
const kernels = Object.fromEntries(CELLS.flatMap((cell) => VARIANTS.map((v, i) => [`${cell}_${i}`, emitRecurrence(spec(cell, v))])));

let mod: TestModule;
beforeAll(async () => {
  mod = await buildModule(kernels);
}, 120_000);

describe("recurrence loop kernel vs float64 loops", () => {
  for (const cell of CELLS) {
    VARIANTS.forEach((v, vi) => {
      it(`${cell} ${JSON.stringify(v)}`, () => {
        mod.reset();
        const g = CELL_GATES[cell] * U, sw = CELL_SAVED[cell] * U, out = v.sequences ? T * U : U;
        const p = randomArray(B * T * g, 10 + vi, -1.5, 1.5), w = randomArray(U * g, 20 + vi, -0.6, 0.6), rb = randomArray(g, 30 + vi, -0.5, 0.5);
        const bufs = () => ({ y: mod.alloc(B * out), hp: mod.alloc(B * T * U), sv: mod.alloc(B * T * sw), rh: mod.alloc(B * T * U) });
        const pp = mod.put(p), wp = mod.put(w), rbp = mod.put(rb);
        const run = (o: ReturnType<typeof bufs>, first: number, count: number) => {
          const shift = (ptr: number, perExample: number) => ptr + 4 * first * perExample;
          const args = [shift(pp, T * g), wp, ...(cell === "gru_after" ? [rbp] : []), shift(o.y, out), shift(o.hp, T * U), shift(o.sv, T * sw), ...(cell === "gru_before" ? [shift(o.rh, T * U)] : []), count];
          mod.fns[`${cell}_${vi}`]!(...args);
        };
        const whole = bufs();
        run(whole, 0, B);
        const y = mod.f32(whole.y, B * out);
        for (let b = 0; b < B; b++) {
          const states = reference(cell, p.subarray(b * T * g, (b + 1) * T * g), w, rb, v.goBackwards);
          const want = v.sequences ? states.flatMap((_, k) => states[v.reverseOutput ? T - 1 - k : k]!) : states[T - 1]!;
          expect(relErr(y.subarray(b * out, (b + 1) * out), want), `example ${b}`).toBeLessThan(1e-5);
        }
        // The third example alone, as a thread whose share starts there: the same bits.
        const share = bufs();
        run(share, 2, 1);
        expect(Array.from(mod.f32(share.y + 4 * 2 * out, out))).toEqual(Array.from(y.subarray(2 * out, 3 * out)));
      });
    });
  }
});
