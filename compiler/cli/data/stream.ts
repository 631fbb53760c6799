/**
 * `kiln train --shuffle-buffer`: safetensors data (one file or several shards) streamed in chunks
 * of rows instead of read whole, shuffled inside a buffer of examples (runtime/stream.ts), in
 * memory bounded by `memory` bytes: the buffer, one batch and one chunk, all allocated once.
 * Only each shard's header is read whole; the rows of each tensor are read with positioned reads
 * straight into the chunk's typed arrays (little-endian data on a little-endian host: no copy).
 */
import { open } from "node:fs/promises";
import { KilnError } from "../../frontend/diagnostics.js";
import { readSafetensorsHeader, safetensorsHeaderLength, type StTensorInfo } from "../../../runtime/safetensors.js";
import { shuffledBatches, type StreamSlot } from "../../../runtime/stream.js";
import type { Feeds } from "../../../runtime/feeds.js";

/** A file read piece by piece (Node's file handles; tests wrap it to watch the reads). */
export interface RandomAccessFile {
  size: number;
  /** Reads into `into` from byte `position`; returns the bytes read (fewer only at the end). */
  read(into: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}
export type OpenFile = (path: string) => Promise<RandomAccessFile>;

export const openNodeFile: OpenFile = async (path) => {
  const fh = await open(path, "r").catch((err) => {
    throw new KilnError({ code: "data", path, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
  });
  const { size } = await fh.stat();
  return { size, read: async (into, position) => (await fh.read(into, 0, into.length, position)).bytesRead, close: () => fh.close() };
};

export interface StreamOptions {
  batchSize: number;
  /** Examples held for shuffling; 0 keeps the file order. */
  shuffleBuffer: number;
  /** Most bytes the stream's arrays may take: the buffer, one batch and one chunk. */
  memory: number;
  seed: number;
  openFile?: OpenFile;
}

export interface StreamStats {
  /** Bytes of every array the stream allocated (all at the start of each epoch's pass). */
  allocated: number;
  /** The most bytes allocated in one epoch's pass: what it holds at once. */
  peakPerEpoch: number;
  /** Bytes read from the files, headers included. */
  bytesRead: number;
}

export interface DataStream {
  /** Examples in all shards together. */
  count: number;
  /** Rows read per chunk (what the memory cap leaves after the buffer and a batch). */
  chunkRows: number;
  stats: StreamStats;
  /** One epoch's batches, shuffled by (seed, epoch): what fit takes as a function of the epoch. */
  batches(epoch: number): AsyncGenerator<Feeds>;
}

interface Shard {
  file: string;
  count: number;
  /** Per slot: where its tensor's data begins in the file. */
  begins: number[];
}

const fail = (path: string, message: string): never => {
  throw new KilnError({ code: "data", path, message });
};
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Reads `into` whole from `position` (a short read before the end is retried). */
async function readFully(f: RandomAccessFile, into: Uint8Array, position: number, file: string, stats: StreamStats): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const n = await f.read(into.subarray(got), position + got);
    if (n <= 0) fail(file, `the file ended at byte ${position + got}; its header says it has ${position + into.length}`);
    got += n;
  }
  stats.bytesRead += into.length;
}

/** Opens the shards: reads and checks every header; no data yet. */
export async function openDataStream(files: string[], slots: StreamSlot[], opts: StreamOptions): Promise<DataStream> {
  const openFile = opts.openFile ?? openNodeFile;
  const stats: StreamStats = { allocated: 0, peakPerEpoch: 0, bytesRead: 0 };
  const shards: Shard[] = [];
  for (const file of files) shards.push(await readShard(file, slots, openFile, stats));
  const count = shards.reduce((a, s) => a + s.count, 0);
  const exampleBytes = slots.reduce((a, s) => a + 4 * sizeOf(s.shape), 0);
  const fixed = (opts.shuffleBuffer + opts.batchSize) * exampleBytes;
  const chunkRows = Math.min(count, Math.floor((opts.memory - fixed) / exampleBytes));
  if (chunkRows < 1) {
    fail("--data-memory", `a shuffle buffer of ${opts.shuffleBuffer} and a batch of ${opts.batchSize} examples of ${exampleBytes} bytes need ${(fixed + exampleBytes).toLocaleString("en-US")} bytes with one row to read into, more than the ${opts.memory.toLocaleString("en-US")} allowed; give a smaller --shuffle-buffer or more --data-memory`);
  }
  return {
    count, chunkRows, stats,
    batches(epoch) {
      let allocated = 0;
      const onAllocate = (bytes: number) => {
        allocated += bytes;
        stats.allocated += bytes;
        stats.peakPerEpoch = Math.max(stats.peakPerEpoch, allocated);
      };
      const chunks = readChunks(shards, slots, chunkRows, openFile, stats, onAllocate);
      return shuffledBatches(slots, chunks, { batchSize: opts.batchSize, shuffleBuffer: opts.shuffleBuffer, seed: opts.seed, epoch, onAllocate });
    },
  };
}

async function readShard(file: string, slots: StreamSlot[], openFile: OpenFile, stats: StreamStats): Promise<Shard> {
  const f = await openFile(file);
  try {
    const first = new Uint8Array(8);
    await readFully(f, first.subarray(0, Math.min(8, f.size)), 0, file, stats);
    const head = new Uint8Array(8 + safetensorsHeaderLength(first, f.size));
    await readFully(f, head, 0, file, stats);
    const { tensors } = withFile(file, () => readSafetensorsHeader(head, f.size, { allowedDtypes: ["F32", "I32"] }));
    let count: number | undefined;
    const begins = slots.map((s) => {
      const t = tensors.get(s.name) as StTensorInfo | undefined;
      const want = `[${["N", ...s.shape].join(", ")}] ${s.dtype === "int32" ? "I32" : "F32"}`;
      if (!t) return fail(s.name, `${file} has no tensor "${s.name}": expected ${want}`);
      const ok = t.dtype === (s.dtype === "int32" ? "I32" : "F32") && t.shape.length === s.shape.length + 1 && s.shape.every((d, i) => t.shape[i + 1] === d);
      if (!ok) fail(s.name, `tensor "${s.name}" in ${file}: expected ${want}, got [${t.shape.join(", ")}] ${t.dtype}`);
      if (count !== undefined && t.shape[0] !== count) fail(s.name, `tensor "${s.name}" in ${file} has ${t.shape[0]} examples, the ones before it ${count}`);
      count = t.shape[0]!;
      return t.begin;
    });
    return { file, count: count!, begins };
  } finally {
    await f.close();
  }
}

/** A header error names the file it came from. */
function withFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof KilnError)) throw e;
    throw new KilnError(e.diagnostics.map((d) => ({ ...d, path: `${file}: ${d.path}` })));
  }
}

/** Chunks of up to `chunkRows` rows of every slot, shard after shard, into arrays allocated once and reused. */
async function* readChunks(shards: Shard[], slots: StreamSlot[], chunkRows: number, openFile: OpenFile, stats: StreamStats, onAllocate: (bytes: number) => void): AsyncGenerator<(Float32Array | Int32Array)[]> {
  const pers = slots.map((s) => sizeOf(s.shape));
  const chunk = slots.map((s, k) => {
    onAllocate(chunkRows * pers[k]! * 4);
    return s.dtype === "int32" ? new Int32Array(chunkRows * pers[k]!) : new Float32Array(chunkRows * pers[k]!);
  });
  const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (const shard of shards) {
    const f = await openFile(shard.file);
    try {
      for (let row = 0; row < shard.count; row += chunkRows) {
        const rows = Math.min(chunkRows, shard.count - row);
        for (let k = 0; k < slots.length; k++) await readFully(f, bytesOf(chunk[k]!).subarray(0, rows * pers[k]! * 4), shard.begins[k]! + row * pers[k]! * 4, shard.file, stats);
        yield chunk.map((c, k) => c.subarray(0, rows * pers[k]!));
      }
    } finally {
      await f.close();
    }
  }
}
