/**
 * Checks an HDF5 file's global heap collections before the file reaches the HDF5 C library
 * (h5wasm). Why: when HDF5 loads a collection (to read any variable-length string, e.g. Keras 2's
 * `model_config` or `backend` attribute) it walks the collection's objects with
 * `p = begin + need`, where `need` comes from the file; an object header claiming index 0 (free
 * space) and size 0 gives `need = 0`, and the walk never advances: the HDF5 reader spins forever
 * inside WebAssembly (fuzz test, Rng 184 case 755: one flipped byte made an object's size run into
 * zero bytes). The reader runs in a worker with a deadline (hdf5-reader.ts), which ends any such
 * hang; this check still runs first so that this known one fails at once, saying where the file is
 * corrupt, instead of after the deadline. So kiln walks every collection itself first, with the
 * library's rules, and refuses one whose objects do not tile it exactly: a step of 0 (the hang), or
 * a step past the collection's end or a collection past the end of the file (the library would read
 * bytes that are not the object, truncated to its 32-bit size_t; a file HDF5 wrote never does this).
 *
 * Collections are found by their "GCOL" signature with version 1, scanning the whole file: HDF5
 * only loads a collection at an address whose bytes carry that signature, so every collection it
 * could walk is among these. A dataset's raw bytes that happen to spell "GCOL\x01" and then a bad
 * walk would be refused too; a float32 weight holding those bytes is about 5.4e7, rare enough to
 * accept for a check that cannot hang (each step advances at least one object header).
 * Layout: HDF5 File Format Specification, "Global Heap" (III.E) and superblock (II.A).
 */

const SIGNATURE = [0x47, 0x43, 0x4f, 0x4c]; // "GCOL"

/** Size of lengths from the superblock at offset 0 (versions 0-1: byte 14; 2-3: byte 10). */
function sizeOfLengths(b: Uint8Array): number {
  const version = b[8] ?? 0;
  const n = version <= 1 ? b[14] : b[10];
  return n === 2 || n === 4 || n === 8 ? n : 8;
}

function readLength(b: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + b[at + i]!;
  return v; // up to 2^64: only compared, never used as an index past a bounds check
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** Why the collection at `base` would make HDF5 loop or overrun, or undefined when it tiles. */
function badCollection(b: Uint8Array, base: number, lengths: number): string | undefined {
  const headerSize = align8(8 + lengths);
  const objectHeader = 8 + lengths;
  if (base + headerSize > b.length) return undefined; // the library reports a truncated collection itself
  const size = readLength(b, base + 8, lengths);
  if (size < headerSize || base + size > b.length) return `global heap collection at byte ${base} claims ${size} bytes (the file has ${b.length})`;
  const end = base + size;
  let p = base + headerSize;
  while (p < end) {
    if (p + objectHeader > end) return undefined; // the library takes a too-small tail as free space
    const index = b[p]! | (b[p + 1]! << 8);
    const objectSize = readLength(b, p + 8, lengths);
    const need = index > 0 ? objectHeader + align8(objectSize) : objectSize;
    if (need === 0 || need > end - p) return `global heap collection at byte ${base}: object ${index} at byte ${p} claims ${objectSize} bytes (${end - p} left in the collection)`;
    p += need;
  }
  return undefined;
}

/** The first global heap collection HDF5 could not walk safely, as a message, or undefined. */
export function unsafeGlobalHeap(b: Uint8Array): string | undefined {
  const lengths = sizeOfLengths(b);
  for (let at = b.indexOf(SIGNATURE[0]!, 8); at >= 0; at = b.indexOf(SIGNATURE[0]!, at + 1)) {
    if (b[at + 1] !== SIGNATURE[1] || b[at + 2] !== SIGNATURE[2] || b[at + 3] !== SIGNATURE[3] || b[at + 4] !== 1) continue;
    const bad = badCollection(b, at, lengths);
    if (bad) return bad;
  }
  return undefined;
}
