import { parseTilePath, tilePath } from '@glasshouse/tlog';
import { LogError } from './errors.js';

/**
 * The canonical tlog-tiles path of `path`, or throws (TILE_PATH_INVALID):
 * storage adapters map only paths that round-trip to files or rows, so no
 * request can name anything outside the tile namespace.
 */
export function canonicalTilePath(path: string): string {
  return tilePath(parseTilePath(path));
}

/**
 * Throws TILE_PATH_UNSAFE unless `path` is already a canonical tlog-tiles
 * path: both storage adapters call it before touching a file or a row, so a
 * tile has one key and bad input fails alike everywhere.
 */
export function checkTilePath(path: string): void {
  let canonical: string;
  try {
    canonical = canonicalTilePath(path);
  } catch (cause) {
    throw new LogError('TILE_PATH_UNSAFE', 'not a tlog-tiles path', {
      cause,
      evidence: { path: path.slice(0, 80) },
    });
  }
  if (canonical !== path) {
    throw new LogError('TILE_PATH_UNSAFE', 'not a canonical tlog-tiles path', {
      evidence: { path: path.slice(0, 80) },
    });
  }
}
