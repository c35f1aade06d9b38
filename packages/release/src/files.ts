/**
 * Small durable-file helpers shared by the assembly line and the supervisor:
 * a file is either wholly there or not there after a crash.
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes to a temporary name, fsyncs, renames over `path`, fsyncs the directory. */
export async function writeFileDurably(
  path: string,
  bytes: Uint8Array,
  mode: number,
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  const dirHandle = await open(dirname(path), 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * Creates `path` (failing with the errno when it exists: keys are never
 * overwritten) and makes it durable.
 */
export async function writeNewFileDurably(
  path: string,
  content: string,
  mode: number,
): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const dirHandle = await open(dirname(path), 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
