import { isCanonicalTilePath } from '@glasshouse/tlog';
import { LogError } from './errors.js';

/**
 * Throws TILE_PATH_UNSAFE unless `path` is already a canonical tlog-tiles
 * path: both storage adapters call it before touching a file or a row, so a
 * tile has one key and bad input fails alike everywhere.
 */
export function checkTilePath(path: string): void {
  if (!isCanonicalTilePath(path)) {
    throw new LogError('TILE_PATH_UNSAFE', 'not a canonical tlog-tiles path', {
      evidence: { path: path.slice(0, 80) },
    });
  }
}
