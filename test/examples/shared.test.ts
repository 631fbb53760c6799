// The examples' shared helpers: SVG learning curves, nice ticks, seeded splits and sampling.
// They are plain .mjs files (what users run), loaded here by URL.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";
import { ROOT } from "./helpers.js";

const load = (file: string): Promise<any> => import(pathToFileURL(join(ROOT, "examples/shared", file)).href);

describe("learning curve SVG", () => {
  const history = { loss: [2, 1, 0.5], accuracy: [0.2, 0.6, 0.8], val_loss: [2.2, 1.4, 0.9], val_accuracy: [0.1, 0.5, 0.7] };

  test("one panel per quantity, each with axis labels, ticks, both curves and a legend", async () => {
    const { learningCurveSvg } = await load("plot.mjs");
    const svg: string = learningCurveSvg(history, { title: "T <&> 1" });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="840"/);
    expect(svg).toContain("T &lt;&amp;&gt; 1");
    expect(svg.match(/>Epoch<\/text>/g)).toHaveLength(2);
    expect(svg.match(/>Loss<\/text>/g)).toHaveLength(2); // panel title and y-axis label
    expect(svg.match(/>Accuracy<\/text>/g)).toHaveLength(2);
    expect(svg.match(/>train<\/text>/g)).toHaveLength(2);
    expect(svg.match(/>validation<\/text>/g)).toHaveLength(2);
    const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(4);
    for (const d of paths) expect(d.split(" ")).toHaveLength(3); // three epochs each
    // Epoch ticks 1, 2, 3 under both panels.
    for (const e of [1, 2, 3]) expect(svg.match(new RegExp(`text-anchor="middle">${e}</text>`, "g"))).toHaveLength(2);
  });

  test("higher loss is drawn higher up (smaller y) and a missing series is left out", async () => {
    const { learningCurveSvg } = await load("plot.mjs");
    const svg: string = learningCurveSvg({ loss: [3, 1] });
    const d = svg.match(/<path d="M([\d.]+),([\d.]+) L([\d.]+),([\d.]+)"/)!;
    expect(Number(d[2])).toBeLessThan(Number(d[4]));
    expect(Number(d[1])).toBeLessThan(Number(d[3]));
    expect(svg).not.toContain(">validation</text>");
    expect(svg).not.toContain("NaN");
  });

  test("nice ticks are 1, 2 or 5 times a power of ten and cover the range", async () => {
    const { niceTicks } = await load("plot.mjs");
    expect(niceTicks(0, 1, 6)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 20, 8)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    const t: number[] = niceTicks(0.013, 0.087, 6);
    expect(t[0]).toBeGreaterThanOrEqual(0.013);
    expect(t.at(-1)).toBeLessThanOrEqual(0.087);
    const step = t[1]! - t[0]!;
    expect([0.01, 0.02, 0.05].some((s) => Math.abs(step - s) < 1e-12)).toBe(true);
  });
});

describe("seeded splitting and sampling", () => {
  test("stratified split keeps each class's share, covers every row once, and is seeded", async () => {
    const { stratifiedSplit } = await load("rng.mjs");
    const labels = [...Array(50).fill("a"), ...Array(30).fill("b"), ...Array(20).fill("c")];
    const { train, test } = stratifiedSplit(labels, 0.8, 5);
    expect(train).toHaveLength(80);
    expect(test).toHaveLength(20);
    expect(new Set([...train, ...test]).size).toBe(100);
    const count = (rows: number[], c: string) => rows.filter((i) => labels[i] === c).length;
    expect([count(test, "a"), count(test, "b"), count(test, "c")]).toEqual([10, 6, 4]);
    expect(stratifiedSplit(labels, 0.8, 5)).toEqual({ train, test });
    expect(stratifiedSplit(labels, 0.8, 6).test).not.toEqual(test);
  });

  test("sampleIndex follows the weights", async () => {
    const { rng, sampleIndex } = await load("rng.mjs");
    const random = rng(9);
    const hits = [0, 0, 0];
    for (let i = 0; i < 6000; i++) hits[sampleIndex([1, 0, 2], random)]++;
    expect(hits[1]).toBe(0);
    expect(hits[2]! / hits[0]!).toBeGreaterThan(1.7);
    expect(hits[2]! / hits[0]!).toBeLessThan(2.3);
  });
});
