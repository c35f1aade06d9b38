import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import { ReleaseError } from '../errors.js';

/** Bounds on the source tree hashed into the link's materials. */
export const MAX_SOURCE_FILES = 100_000;
export const MAX_SOURCE_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * SHA-256 of every regular file under `dir`, by relative `/`-separated
 * path, sorted. Symbolic links and special files are not materials (a
 * build cannot read through them into the host: rules builds refuse them
 * and the sandbox copies only regular files). SOURCE_TOO_LARGE past the bounds.
 * `known` holds bytes already read, by absolute path (`join(dir, rel)`),
 * so a rules build does not read its inputs twice.
 */
export async function hashSourceTree(
  dir: string,
  known: ReadonlyMap<string, Uint8Array> = new Map(),
): Promise<Record<string, string>> {
  const out: [string, string][] = [];
  let total = 0;
  const walk = async (abs: string, rel: string): Promise<void> => {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    for (const e of entries) {
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      const childAbs = join(abs, e.name);
      if (e.isDirectory()) {
        await walk(childAbs, childRel);
      } else if (e.isFile()) {
        if (out.length >= MAX_SOURCE_FILES) {
          throw new ReleaseError(
            'SOURCE_TOO_LARGE',
            `the source has more than ${MAX_SOURCE_FILES} files`,
          );
        }
        const bytes = known.get(childAbs) ?? (await readFile(childAbs));
        total += bytes.length;
        if (total > MAX_SOURCE_BYTES) {
          throw new ReleaseError(
            'SOURCE_TOO_LARGE',
            `the source is larger than ${MAX_SOURCE_BYTES} bytes`,
          );
        }
        out.push([childRel, sha256Hex(bytes)]);
      }
    }
  };
  await walk(dir, '');
  out.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  return Object.fromEntries(out);
}
