/**
 * Files the command line writes: checked before any work (so `kiln train --out /missing/dir/w`
 * fails in milliseconds instead of after every epoch), and written whole or not at all (a
 * temporary file in the same directory, renamed over the target). Every failure is a UsageError:
 * exit 2 with one line naming the file and the reason, never a stack trace.
 */
import { constants } from "node:fs";
import { access, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** A problem with the command line or the files it names: exit 2. */
export class UsageError extends Error {}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory", ENOTDIR: "a part of its path is not a directory", EISDIR: "it is a directory",
  EACCES: "permission denied", EPERM: "permission denied", EROFS: "the file system is read-only", ENOSPC: "no space left on the device",
  ENAMETOOLONG: "the name is too long",
};

/** "permission denied (EACCES)": what a person reads, and the code to search for. */
function reason(err: unknown): string {
  const c = (err as NodeJS.ErrnoException).code;
  return c ? (REASONS[c] ? `${REASONS[c]} (${c})` : c) : String(err);
}

/** Throws a UsageError unless `path` can be created or overwritten as a file. Writes nothing. */
export async function checkWritable(path: string): Promise<void> {
  const target = await stat(path).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`cannot write ${path}: ${reason(err)}`);
  });
  if (target?.isDirectory()) throw new UsageError(`cannot write ${path}: it is a directory`);
  if (target) {
    await access(path, constants.W_OK).catch((err) => {
      throw new UsageError(`cannot write ${path}: ${reason(err)}`);
    });
    return;
  }
  const dir = dirname(resolve(path));
  const parent = await stat(dir).catch((err) => {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new UsageError(`cannot write ${path}: ${missing ? `the directory ${dir} does not exist` : reason(err)}`);
  });
  if (!parent.isDirectory()) throw new UsageError(`cannot write ${path}: ${dir} is not a directory`);
  await access(dir, constants.W_OK | constants.X_OK).catch((err) => {
    throw new UsageError(`cannot write ${path}: the directory ${dir}: ${reason(err)}`);
  });
}

/**
 * Writes `data` to `path` through a temporary file renamed over it, so a failure (a full disk)
 * leaves any earlier file as it was and no half-written one.
 */
export async function writeOutput(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new UsageError(`cannot write ${path}: ${reason(err)}`);
  }
}
