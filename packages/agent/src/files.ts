/**
 * Durable, atomic file operations for the agent's own directory: after a
 * crash a file is either wholly the old version or wholly the new one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir, writeFileDurably } from '@glasshouse/durable';

/** `writeFileDurably`, creating the parent directory first. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileDurably(path, bytes, mode);
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

/** The `code` of a Node.js system error, if `err` has one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Points the symlink `link` at `target`: a new symlink under a temporary
 * name, renamed over `link` (rename(2) replaces it atomically), then the
 * directory is synced so the switch survives a crash.
 */
export async function replaceSymlink(link: string, target: string): Promise<void> {
  const tmp = `${link}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await symlink(target, tmp);
    await rename(tmp, link);
    await syncDir(dirname(link));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
