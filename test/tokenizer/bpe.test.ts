// The pretrain-fine-tune example's byte-level BPE (examples/pretrain-fine-tune/bpe.mjs): round trips, determinism,
// merges applied in rank order, and the saved form; plus the prepare script's seeded split.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";
import { ROOT } from "../examples/helpers.js";

const load = (file: string): Promise<any> => import(pathToFileURL(join(ROOT, "examples/pretrain-fine-tune", file)).href);

const TEXT = [
  "the cat sat on the mat. the cat ate the rat!",
  "Click here: http://example.com/offer?id=123 -- FREE money, free MONEY.",
  "naïve café — 日本語 テキスト 🙂 and tabs\tand\n\nnew lines   with spaces",
];

describe("byte-level BPE", () => {
  test("encode then decode gives back any text, including text unseen in training", async () => {
    const { Tokenizer, trainBpe } = await load("bpe.mjs");
    const tokenizer = new Tokenizer(trainBpe(TEXT, 60));
    for (const text of [...TEXT, "zebra ΩΩΩ\u0000 \r\n 12345678901234567890 ...!!!", ""]) {
      const ids: number[] = tokenizer.encode(text);
      for (const id of ids) expect(id).toBeLessThan(tokenizer.vocabSize);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    // Merges shorten the text: fewer tokens than bytes for the training text.
    expect(tokenizer.encode(TEXT[0]).length).toBeLessThan(new TextEncoder().encode(TEXT[0]).length * 0.6);
  });

  test("training is deterministic and independent of earlier runs", async () => {
    const { trainBpe } = await load("bpe.mjs");
    const a = trainBpe(TEXT, 80), b = trainBpe([...TEXT], 80);
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(10);
    // Prefix property: asking for fewer merges gives the first ones of the longer list.
    expect(trainBpe(TEXT, 10)).toEqual(a.slice(0, 10));
  });

  test("the first merge is the most frequent pair, ties to the smaller id pair", async () => {
    const { trainBpe } = await load("bpe.mjs");
    // Chunks "ab" ×3, "cd" ×3, "," ×5, "x" ×1: (a, b) and (c, d) tie at 3; the smaller pair goes first.
    const merges = trainBpe(["cd,ab,cd,ab,cd,ab,x"], 2);
    const [a, b, c, d] = [..."abcd"].map((ch) => ch.charCodeAt(0));
    expect(merges).toEqual([[a, b], [c, d]]);
    // Merges never cross chunk boundaries: " ab" is a chunk with its leading space, so (space, a)
    // may merge, but (b, space) never occurs inside a chunk.
    const all: number[][] = trainBpe(["ab ab ab cd cd cd xy"], 50);
    expect(all.some(([l, r]) => l === b && r === 32)).toBe(false);
  });

  test("merges apply in rank order, not left to right", async () => {
    const { Tokenizer } = await load("bpe.mjs");
    const [a, b, c] = [..."abc"].map((ch) => ch.charCodeAt(0));
    // rank 0: (b, c) → 257; rank 1: (a, b) → 258. "abc": (a,b) is leftmost but (b,c) ranks first.
    const tokenizer = new Tokenizer([[b, c], [a, b]]);
    expect(tokenizer.encode("abc")).toEqual([a, 257]);
    expect(tokenizer.encode("abab")).toEqual([258, 258]);
    // Swapped ranks: now (a, b) wins and "abc" becomes [258, c].
    expect(new Tokenizer([[a, b], [b, c]]).encode("abc")).toEqual([257, c]);
    // A merge of merges: rank 2 joins 258 and 257.
    expect(new Tokenizer([[b, c], [a, b], [258, 257]]).encode("abbc")).toEqual([259]);
  });

  test("the saved form loads back to the same encoder; a bad merge is refused naming it", async () => {
    const { Tokenizer, trainBpe } = await load("bpe.mjs");
    const tokenizer = new Tokenizer(trainBpe(TEXT, 40));
    const saved = JSON.parse(JSON.stringify(tokenizer.toJSON()));
    expect(saved.vocab).toHaveLength(tokenizer.vocabSize);
    const loaded = Tokenizer.fromJSON(saved);
    for (const text of TEXT) expect(loaded.encode(text)).toEqual(tokenizer.encode(text));
    expect(() => Tokenizer.fromJSON({ ...saved, merges: [[97, 300]] })).toThrow(/merges\[0\]/);
    expect(() => Tokenizer.fromJSON({ ...saved, format: "x" })).toThrow(/kiln.example.bpe\/v1/);
  });

  test("decode refuses an id outside the vocabulary", async () => {
    const { Tokenizer } = await load("bpe.mjs");
    expect(() => new Tokenizer([]).decode([257])).toThrow(/outside the vocabulary 0..256/);
  });
});

describe("pretrain-fine-tune data preparation", () => {
  test("the split is a seeded hash of each email: stable, about 80/10/10, and changes with the seed", async () => {
    const { partOf } = await load("prepare.mjs");
    const keys = Array.from({ length: 4000 }, (_, i) => [`g${i % 3}`, String(i)]);
    const parts = keys.map(([g, id]) => partOf(g, id, 1));
    expect(keys.map(([g, id]) => partOf(g, id, 1))).toEqual(parts);
    const share = (p: string) => parts.filter((x: string) => x === p).length / parts.length;
    expect(share("train")).toBeGreaterThan(0.76);
    expect(share("train")).toBeLessThan(0.84);
    expect(share("heldOut")).toBeGreaterThan(0.07);
    expect(share("test")).toBeGreaterThan(0.07);
    const other = keys.map(([g, id]) => partOf(g, id, 2));
    expect(other.filter((p: string, i: number) => p !== parts[i]).length).toBeGreaterThan(400);
  });

  test("an email keeps its Subject and body, not its other headers", async () => {
    const { emailText } = await load("prepare.mjs");
    const raw = "From: a@b\r\nReceived: from relay.spam.example\r\nSubject: Hello there\r\n\r\nBody line 1\r\nline 2";
    expect(emailText(raw, 1000)).toBe("Hello there\n\nBody line 1\nline 2");
    expect(emailText(raw, 5)).toBe("Hello");
  });

  test("language-model windows are the end-of-text-joined stream shifted by one", async () => {
    const { lmWindows } = await load("prepare.mjs");
    const { count, tokens, next } = lmWindows([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4);
    // stream: 256 1 2 3 256 4 5 256 6 7 8 9 → (12 − 1) / 4 = 2 windows
    expect(count).toBe(2);
    expect(Array.from(tokens)).toEqual([256, 1, 2, 3, 256, 4, 5, 256]);
    expect(Array.from(next)).toEqual([1, 2, 3, 256, 4, 5, 256, 6]);
  });
});
