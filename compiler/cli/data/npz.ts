/**
 * NumPy `.npz` archives (np.savez, np.savez_compressed): a zip of `.npy` files, one per array,
 * named by the array. Unzipped with fflate; every entry is read as .npy (npy.ts). A damaged zip,
 * an entry that is not .npy or one that would inflate past the limit is a KilnError naming the
 * file (and the array).
 */
import { unzipSync } from "fflate";
import { npyError, readNpy, type NdArray } from "./npy.js";

/** Largest inflated entry accepted: 4 GiB, WebAssembly's memory (no model could take more). */
const MAX_ENTRY = 4 * 1024 ** 3;
/** Deflate's largest expansion is about 1032:1 (258-byte matches in ~2 bits). */
const DEFLATE_RATIO = 1032;

/** The arrays of an .npz by name (a Map: names come from the file). */
export function readNpz(bytes: Uint8Array, file: string): Map<string, NdArray> {
  let entries: Record<string, Uint8Array>;
  let listed = 0;
  try {
    entries = unzipSync(bytes, {
      // The sizes an entry claims are checked before fflate allocates for them: a damaged or
      // hostile directory could otherwise ask for gigabytes.
      filter: (f) => {
        // Each central-directory record takes at least 46 bytes: a count beyond that is a damaged (or zip64-faked) directory, not a long loop.
        if (++listed > bytes.length / 46) throw npyError(file, "the zip directory lists more entries than the file can hold: the archive is damaged");
        const entry = JSON.stringify(f.name.slice(0, 64));
        if (f.compression !== 0 && f.compression !== 8) throw npyError(file, `entry ${entry} uses zip compression method ${f.compression}; expected 0 (stored) or 8 (deflate), as NumPy writes`);
        if (f.compression === 0 && f.originalSize !== f.size) throw npyError(file, `entry ${entry} is stored with ${f.size} bytes but claims ${f.originalSize}: the archive is damaged`);
        if (f.compression === 8 && f.originalSize > f.size * DEFLATE_RATIO + 1024) throw npyError(file, `entry ${entry} claims to inflate ${f.size} bytes to ${f.originalSize}, more than deflate can: the archive is damaged`);
        if (f.originalSize > MAX_ENTRY) throw npyError(file, `entry ${entry} would inflate to ${f.originalSize} bytes; expected at most ${MAX_ENTRY}`);
        return true;
      },
    });
  } catch (e) {
    if ((e as Error)?.name === "KilnError") throw e;
    throw npyError(file, `not a readable .npz (zip) archive: ${(e as Error)?.message ?? String(e)}`);
  }
  const arrays = new Map<string, NdArray>();
  for (const [entry, data] of Object.entries(entries)) {
    if (entry.endsWith("/")) continue; // a directory entry
    if (!entry.endsWith(".npy")) throw npyError(file, `entry ${JSON.stringify(entry.slice(0, 64))}: expected only .npy arrays in an .npz`);
    const name = entry.slice(0, -4);
    arrays.set(name, readNpy(data, `${file}: ${name.slice(0, 64)}`));
  }
  if (!arrays.size) throw npyError(file, "the archive holds no arrays");
  return arrays;
}
