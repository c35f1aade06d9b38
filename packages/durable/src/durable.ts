/**
 * Durable, atomic file operations: after a crash a file is either wholly the
 * old version or wholly the new one, and a change that returned is on disk.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync a directory so that a rename, creation or removal in it is durable. */
export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` and its missing ancestors, and makes every created entry
 * durable (each new directory is synced into its parent).
 */
export async function ensureDirDurably(path: string, mode = 0o755): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode });
  if (first === undefined) return;
  // Sync from the deepest new directory up to the parent of the first one.
  let dir = path;
  for (;;) {
    const parent = dirname(dir);
    await syncDir(parent);
    if (dir === first || parent === dir) break;
    dir = parent;
  }
}

/** Writes a temporary file, fsyncs it, renames it over `path`, fsyncs the directory. */
export async function writeFileDurably(
  path: string,
  bytes: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  // A random suffix keeps two writers of one name from sharing a temporary file.
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp);
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/**
 * Creates `path`, failing with EEXIST when it is there (keys are never
 * overwritten), and makes it durable.
 */
export async function writeNewFileDurably(
  path: string,
  bytes: Uint8Array | string,
  mode: number,
): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncDir(dirname(path));
}

/** Removes `path` if it exists and makes the removal durable. */
export async function removeFileDurably(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  await syncDir(dirname(path));
}

/** True when `err` is a Node.js system error with that `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/**
 * Reads at most `maxBytes + 1` bytes of `path` (so the caller can tell a
 * file over its limit by the length), or null when the file does not exist.
 */
export async function readFileUpTo(path: string, maxBytes: number): Promise<Buffer | null> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buf.length) {
      const { bytesRead } = await file.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buf.subarray(0, length);
  } finally {
    await file.close();
  }
}
