import {
  HASH_SIZE,
  TILE_WIDTH,
  type TileRef,
  consistencyProof,
  tileHashReader,
  tilePath,
  tileWidthAt,
  tilesForConsistency,
} from '@glasshouse/tlog';
import { LogError } from './errors.js';
import type { LogStorage } from './storage.js';

/**
 * Reads the hash tiles a proof needs at some tree size. Partial tiles are
 * stored only for checkpoint sizes, and a tile only ever grows (its first
 * hashes never change), so a wider version (full, or at `storedSize`, a size
 * whose tiles are all stored) is cut down when the exact one is missing.
 */
export async function readProofTiles(
  storage: Pick<LogStorage, 'readTile'>,
  refs: readonly TileRef[],
  storedSize: bigint,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  await Promise.all(
    refs.map(async (ref) => {
      if (ref.kind !== 'hash') return;
      const path = tilePath(ref);
      const widths = [ref.width, TILE_WIDTH, tileWidthAt(ref.level, ref.index, storedSize)];
      for (const w of widths) {
        if (w < ref.width) continue;
        const data = await storage.readTile(tilePath({ ...ref, width: w }));
        if (data !== null && data.length >= ref.width * HASH_SIZE) {
          out.set(path, data.subarray(0, ref.width * HASH_SIZE));
          return;
        }
      }
      throw new LogError('TILE_NOT_FOUND', `tile ${path} is not stored`, { evidence: { path } });
    }),
  );
  return out;
}

/**
 * RFC 9162 §2.1.4.1 consistency proof from `oldSize` to `newSize`, built from
 * stored tiles; `newSize` must be a size whose tiles are all stored (a
 * signed checkpoint's). Any earlier size works, checkpoint or not.
 */
export async function storedConsistencyProof(
  storage: Pick<LogStorage, 'readTile'>,
  oldSize: bigint,
  newSize: bigint,
): Promise<Uint8Array[]> {
  const tiles = await readProofTiles(storage, tilesForConsistency(oldSize, newSize), newSize);
  return consistencyProof(oldSize, newSize, tileHashReader(newSize, tiles));
}
