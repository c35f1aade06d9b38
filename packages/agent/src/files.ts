/**
 * Durable, atomic file operations for the agent's own directory: after a
 * crash a file is either wholly the old version or wholly the new one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync a directory so that a rename or creation in it is durable. */
export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a temporary file, fsyncs it, renames it over `path`, fsyncs the directory. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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

/** Reads a file of at most `maxBytes`, or undefined when it does not exist. */
export async function readFileIfPresent(
  path: string,
  maxBytes: number,
): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cause;
  }
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new RangeError(`${path} is larger than ${maxBytes} bytes`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
