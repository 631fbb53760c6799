/**
 * `--max-memory <size>`: a byte count, or a number with a binary unit (KB/KiB = 1024 bytes,
 * MB/MiB = 1024², GB/GiB = 1024³; case-insensitive). Whole bytes only: "1.5GB" is fine,
 * "0.1KB" (102.4 bytes) is not.
 */
import { InvalidArgumentError } from "commander";

const UNITS: Record<string, number> = { "": 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };

export function byteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const scale = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && scale ? Number(m[1]) * scale : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidArgumentError(`expected a size in bytes, or with a unit KB, MB or GB (1024-based), e.g. 512MB; got "${value}"`);
  }
  return bytes;
}
