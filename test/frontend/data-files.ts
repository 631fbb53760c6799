/**
 * Writers of the data files people have, for tests: NumPy .npy (format 1.0 or 2.0, any descr,
 * C or Fortran order, as numpy.lib.format writes them: header padded with spaces to a multiple
 * of 64 bytes and ended by a newline), .npz (a zip of them, stored or deflated) and CSV.
 */
import { zipSync } from "fflate";

export interface NpyOptions {
  fortran?: boolean;
  version?: 1 | 2;
}

/** An .npy file of `bytes` (already in the descr's byte order and the layout's element order). */
export function npy(descr: string, shape: number[], bytes: Uint8Array, o: NpyOptions = {}): Uint8Array {
  const version = o.version ?? 1, pre = version === 1 ? 10 : 12;
  const dict = `{'descr': '${descr}', 'fortran_order': ${o.fortran ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - pre - 1) + "\n";
  const out = new Uint8Array(total + bytes.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, header.length, true);
  else v.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(bytes, total);
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

/** Little-endian .npy of a typed array. */
export const npyOf = (a: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array, shape: number[], o: NpyOptions = {}): Uint8Array => {
  const descr = a instanceof Float32Array ? "<f4" : a instanceof Float64Array ? "<f8" : a instanceof Int32Array ? "<i4" : a instanceof BigInt64Array ? "<i8" : "|u1";
  return npy(descr, shape, bytesOf(a), o);
};

/** The same array big-endian ('>' descr, bytes of each element reversed). */
export function bigEndian(a: Float32Array | Float64Array | Int32Array | BigInt64Array, shape: number[]): Uint8Array {
  const b = bytesOf(a), size = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
  return npy(`>${a instanceof Float32Array ? "f4" : a instanceof Float64Array ? "f8" : a instanceof Int32Array ? "i4" : "i8"}`, shape, b);
}

/** C-order data of `shape` written in Fortran (column-major) order. */
export function fortranOf<T extends Float32Array | Float64Array | Int32Array>(a: T, shape: number[]): T {
  const out = new (a.constructor as new (n: number) => T)(a.length);
  const cStride = shape.map((_, d) => shape.slice(d + 1).reduce((p, q) => p * q, 1));
  const fStride = shape.map((_, d) => shape.slice(0, d).reduce((p, q) => p * q, 1));
  for (let c = 0; c < a.length; c++) {
    let f = 0;
    shape.forEach((n, d) => (f += (Math.floor(c / cStride[d]!) % n) * fStride[d]!));
    out[f] = a[c]!;
  }
  return out;
}

/** An .npz of arrays by name (deflated when `compress`). */
export const npz = (arrays: Record<string, Uint8Array>, compress = false): Uint8Array =>
  zipSync(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, v])), { level: compress ? 6 : 0 });
