import { parseTilePath, tilePath } from '@glasshouse/tlog';

/**
 * The canonical tlog-tiles path of `path`, or throws (TILE_PATH_INVALID):
 * storage adapters map only paths that round-trip to files or rows, so no
 * request can name anything outside the tile namespace.
 */
export function canonicalTilePath(path: string): string {
  return tilePath(parseTilePath(path));
}
