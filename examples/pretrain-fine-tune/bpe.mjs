/**
 * A byte-level byte-pair encoding (as GPT-2's): text is cut into chunks by a pre-tokenizing
 * pattern (letters, digits, punctuation runs and whitespace, each with at most one leading
 * space), every chunk is its UTF-8 bytes (ids 0–255, so any text encodes and nothing is unknown),
 * and merges learned on the training text join adjacent tokens inside a chunk, never across two.
 * Id 256 is the end-of-text token that separates emails; merge r makes id 257 + r.
 *
 * Training is deterministic: the most frequent pair wins, ties go to the smaller (left, right)
 * id pair, and nothing depends on Map iteration order beyond the order of the text.
 */

export const END_OF_TEXT = 256;
const FIRST_MERGE_ID = 257;
const PATTERN = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** The pre-tokenizer's chunks of `text`, in order (their concatenation is `text`). */
export const chunks = (text) => text.match(PATTERN) ?? [];

const pairKey = (a, b) => a * 0x10000 + b;

/**
 * Learns `mergeCount` merges from `texts` (an array of strings). Returns `[left, right][]` in
 * rank order (the first merge is applied first). Stops early when no pair occurs twice.
 */
export function trainBpe(texts, mergeCount) {
  // Unique chunks with their counts; each is a sequence of token ids, merged in place.
  const index = new Map();
  const words = [], counts = [];
  for (const text of texts) {
    for (const chunk of chunks(text)) {
      const at = index.get(chunk);
      if (at === undefined) {
        index.set(chunk, words.length);
        words.push(Array.from(encoder.encode(chunk)));
        counts.push(1);
      } else counts[at]++;
    }
  }
  // Pair counts over all chunks, and which chunks hold each pair (to update only those).
  const pairCounts = new Map(), holders = new Map();
  const addPairs = (w, sign) => {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const key = pairKey(word[i], word[i + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * counts[w]);
      if (sign > 0) {
        let set = holders.get(key);
        if (!set) holders.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const merges = [];
  for (let r = 0; r < mergeCount; r++) {
    let best = -1, bestCount = 1;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best >= 0 && key < best)) (best = key, bestCount = count);
    }
    if (best < 0) break; // no pair left that occurs twice
    const left = Math.floor(best / 0x10000), right = best % 0x10000, id = FIRST_MERGE_ID + r;
    merges.push([left, right]);
    for (const w of [...holders.get(best)].sort((a, b) => a - b)) {
      addPairs(w, -1);
      words[w] = mergeWord(words[w], left, right, id);
      addPairs(w, 1);
    }
    pairCounts.delete(best);
    holders.delete(best);
  }
  return merges;
}

/** `word` with every non-overlapping (left, right), scanned left to right, replaced by `id`. */
function mergeWord(word, left, right, id) {
  const out = [];
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === left && word[i + 1] === right) (out.push(id), i++);
    else out.push(word[i]);
  }
  return out;
}

/** Encodes and decodes with learned merges. */
export class Tokenizer {
  constructor(merges) {
    this.merges = merges.map(([a, b]) => [a, b]);
    this.vocabSize = FIRST_MERGE_ID + merges.length;
    // rank of each pair; bytes of each id (for decoding)
    this.ranks = new Map(this.merges.map(([a, b], r) => [pairKey(a, b), r]));
    this.bytes = Array.from({ length: 256 }, (_, b) => [b]);
    this.bytes.push([]); // end of text decodes to nothing
    for (const [a, b] of this.merges) this.bytes.push([...this.bytes[a], ...this.bytes[b]]);
    this.cache = new Map();
  }

  /** Token ids of `text` (no end-of-text tokens added). */
  encode(text) {
    const ids = [];
    for (const chunk of chunks(text)) {
      let encoded = this.cache.get(chunk);
      if (!encoded) {
        encoded = this.encodeChunk(Array.from(encoder.encode(chunk)));
        if (this.cache.size < 200_000) this.cache.set(chunk, encoded);
      }
      for (const id of encoded) ids.push(id);
    }
    return ids;
  }

  /** Applies merges to one chunk's bytes: always the lowest-ranked pair present, as training made them. */
  encodeChunk(word) {
    while (word.length > 1) {
      let bestRank = Infinity, bestAt = -1;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(pairKey(word[i], word[i + 1]));
        if (rank !== undefined && rank < bestRank) (bestRank = rank, bestAt = i);
      }
      if (bestAt < 0) break;
      const [left, right] = this.merges[bestRank];
      word = mergeWord(word, left, right, FIRST_MERGE_ID + bestRank);
    }
    return word;
  }

  /** The text of `ids` (end-of-text tokens dropped; a cut inside a UTF-8 character shows U+FFFD). */
  decode(ids) {
    const out = [];
    for (const id of ids) {
      const bytes = this.bytes[id];
      if (!bytes) throw new RangeError(`decode: token id ${id} is outside the vocabulary 0..${this.vocabSize - 1}`);
      for (const b of bytes) out.push(b);
    }
    return decoder.decode(new Uint8Array(out));
  }

  /** The saved form: merges in rank order, plus each id's bytes as hex (for reading, not needed to load). */
  toJSON() {
    return {
      format: "kiln.example.bpe/v1", pattern: PATTERN.source, endOfText: END_OF_TEXT, vocabSize: this.vocabSize,
      merges: this.merges,
      vocab: this.bytes.map((bytes) => Buffer.from(bytes).toString("hex")),
    };
  }

  static fromJSON(json) {
    if (json?.format !== "kiln.example.bpe/v1" || !Array.isArray(json.merges)) throw new Error("tokenizer file: expected format kiln.example.bpe/v1 with a merges array");
    if (json.pattern !== PATTERN.source) throw new Error("tokenizer file: saved with another pre-tokenizing pattern");
    json.merges.forEach(([a, b], r) => {
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= FIRST_MERGE_ID + r || b >= FIRST_MERGE_ID + r || a === END_OF_TEXT || b === END_OF_TEXT)
        throw new Error(`tokenizer file: merges[${r}] = ${JSON.stringify([a, b])} must join two earlier ids other than ${END_OF_TEXT}`);
    });
    return new Tokenizer(json.merges);
  }
}
