/** The files `start` writes: durable, and rewritten only when their content changes. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileDurably } from '@glasshouse/durable';

/** Writes `content` unless the file already holds exactly it (a second start changes nothing). */
export async function writeIfChanged(path: string, content: string | Uint8Array): Promise<void> {
  const bytes = Buffer.from(content);
  if (existsSync(path) && (await readFile(path)).equals(bytes)) return;
  await writeFileDurably(path, bytes);
}
