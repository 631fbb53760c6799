/**
 * Test helpers for safetensors: build files byte by byte (so tests control every header byte,
 * including ones no writer would produce). The KilnError a read must throw is caught by
 * test/util/errors.ts's kilnError.
 */

/** Little-endian u64 header length, then the header text (UTF-8) or bytes, then the data. */
export function rawFile(header: string | Uint8Array, data: Uint8Array | number = 0, declaredLength?: bigint): Uint8Array {
  const head = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + head.length + body.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(head.length), true);
  out.set(head, 8);
  out.set(body, 8 + head.length);
  return out;
}

/** Bytes of a Float32Array, as a file stores them (the test host is little-endian). */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
