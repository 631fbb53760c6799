/**
 * The sum of filter-gradient partials (emit/chunks.ts: emitChunkSum): out (=|+=) the partials of
 * the ⌈batch / chunk⌉ chunks a batch fills, added in chunk order — bit for bit the f32 sum a
 * sequential loop gives (threaded and plain builds rely on that order), checked against float64
 * too. Column slices (threaded builds' parts) leave the other columns alone. The wrapper that
 * makes the partials is checked through the compiled gradients (test/compile/gradients.test.ts,
 * batch 9) and the thread determinism tests. Last, the emitters' and the assembler's refusals.
 */
import { describe, expect, it } from "vitest";
import { emitChunkedGradFilter, emitChunkSum } from "../../compiler/emit/chunks.js";
import type { KernelDef, KernelParam } from "../../compiler/emit/kernel.js";
import { assembleModule } from "../../compiler/assemble/module.js";
import { buildKernels, relErr, rng } from "./harness.js";

const N = 37; // floats per partial: 2 passes of 16, one of 4, one single float
const CHUNK = 4, MAX_CHUNKS = 4;

describe("chunk_sum", async () => {
  const slices = [{ cols: N, offset: 0 }, { cols: 20, offset: 0 }, { cols: 17, offset: 20 }];
  const specs = slices.flatMap((sl) => [false, true].map((accumulate) => ({ ...sl, accumulate })));
  const mod = await buildKernels(specs.map((s) => emitChunkSum({ n: N, cols: s.cols, chunk: CHUNK, accumulate: s.accumulate })));
  const r = rng(7);
  const partials = r.uniform(MAX_CHUNKS * N).map((v, i) => v * 10 ** ((i % 5) - 2));
  const old = r.uniform(N);

  specs.forEach((s, k) => {
    for (const batch of [0, 1, 4, 5, 13, 16]) {
      it(`${s.cols} of ${N} columns from ${s.offset}${s.accumulate ? ", accumulating" : ""}, batch ${batch}`, () => {
        mod.reset();
        const p = mod.alloc(MAX_CHUNKS * N, partials), out = mod.alloc(N, old);
        mod.call(k, p + 4 * s.offset, out + 4 * s.offset, batch);
        const got = mod.f32(out, N);
        const chunks = Math.ceil(batch / CHUNK);
        const exact = new Float32Array(N), ref = new Float64Array(N);
        for (let i = 0; i < N; i++) {
          if (i < s.offset || i >= s.offset + s.cols) {
            exact[i] = ref[i] = old[i]!;
            continue;
          }
          let f = 0, d = 0;
          for (let j = 0; j < chunks; j++) {
            f = Math.fround(f + partials[j * N + i]!);
            d += partials[j * N + i]!;
          }
          exact[i] = s.accumulate ? Math.fround(old[i]! + f) : f;
          ref[i] = (s.accumulate ? old[i]! : 0) + d;
        }
        expect(Array.from(got)).toEqual(Array.from(exact));
        if (chunks > 0 || s.accumulate) expect(relErr(got, ref)).toBeLessThan(1e-6);
      });
    }
  });
});

describe("chunk emitters and the assembler refuse what they cannot emit", () => {
  const inner: KernelDef = {
    key: "inner", label: "inner", body: "",
    params: [...["x", "dy", "dw", "scratch"].map((name): KernelParam => ({ name, type: "usize" })), { name: "n", type: "i32" }],
  };
  it("emitChunkSum: sizes must be positive integers and the columns fit the partial", () => {
    expect(() => emitChunkSum({ n: 0, cols: 0, chunk: 4 })).toThrow(/bad sizes/);
    expect(() => emitChunkSum({ n: 8, cols: 9, chunk: 4 })).toThrow(/bad sizes/);
    expect(() => emitChunkSum({ n: 8, cols: 8, chunk: 1.5 })).toThrow(/bad sizes/);
  });
  it("emitChunkedGradFilter: the inner kernel takes (x, dy, dw, scratch, n), the chunk is a positive integer", () => {
    expect(() => emitChunkedGradFilter({ ...inner, params: inner.params.slice(0, 4) }, 4, 16, 16, 16)).toThrow(/does not take/);
    expect(() => emitChunkedGradFilter(inner, 0, 16, 16, 16)).toThrow(/chunk must be/);
    expect(emitChunkedGradFilter(inner, 4, 16, 16, 16).calls).toEqual([inner]);
  });
  it("assembleModule: a body may call only the kernels it lists", () => {
    const caller: KernelDef = { key: "caller", label: "caller", params: [], body: "$kernel0();\n$kernel1();", calls: [{ ...inner, params: [] }] };
    expect(() => assembleModule([{ name: "predict", calls: [{ def: caller, args: {} }] }])).toThrow(/calls a kernel it does not list/);
    const { source } = assembleModule([{ name: "predict", calls: [{ def: { ...caller, body: "$kernel0();" }, args: {} }] }]);
    // the callee is named first (k0), and the caller's body calls it by that name
    expect(source).toContain("function k1(): void {\n  k0();\n}");
  });
});
