import { TlogError } from './errors.js';
import { HASH_SIZE, type NodeId, hashChildren } from './hash.js';
import {
  type HashReader,
  MAX_TREE_SIZE,
  consistencyProofPlan,
  inclusionProofPlan,
  treeRootPlan,
} from './proof.js';

/** c2sp.org/tlog-tiles: every tile spans 8 tree levels… */
export const TILE_HEIGHT = 8;
/** …so a full tile holds 256 hashes (8,192 bytes) or a full bundle 256 entries. */
export const TILE_WIDTH = 256;
/** c2sp.org/tlog-tiles: entries carry a uint16 length prefix. */
export const MAX_ENTRY_SIZE = 65535;
/** c2sp.org/tlog-tiles: `<L>` is between 0 and 63. */
export const MAX_TILE_LEVEL = 63;
/** Exclusive bound on tile indices: a level-0 tile of a uint64 tree starts below 2^64. */
export const MAX_TILE_INDEX = MAX_TREE_SIZE / BigInt(TILE_WIDTH);

/**
 * A tile or entry bundle as named by c2sp.org/tlog-tiles. `width` is the
 * number of hashes (entries) it holds: 256 for a full tile, 1..255 for a
 * partial one.
 */
export type TileRef =
  | {
      readonly kind: 'hash';
      readonly level: number;
      readonly index: bigint;
      readonly width: number;
    }
  | { readonly kind: 'entries'; readonly index: bigint; readonly width: number };

const HEIGHT = BigInt(TILE_HEIGHT);
const WIDTH = BigInt(TILE_WIDTH);

function refInvalid(message: string, evidence: Record<string, unknown>): TlogError {
  return new TlogError('TILE_REF_INVALID', message, { evidence });
}

function checkTileIndex(index: bigint): void {
  if (index < 0n || index >= MAX_TILE_INDEX) {
    throw refInvalid(`tile index ${index} is out of range`, { index: index.toString() });
  }
}

function checkRef(ref: TileRef): void {
  checkTileIndex(ref.index);
  // c2sp.org/tlog-tiles: a tile holds 1 to 256 hashes; empty tiles do not exist.
  if (!Number.isInteger(ref.width) || ref.width < 1 || ref.width > TILE_WIDTH) {
    throw refInvalid(`tile width ${ref.width} is not in 1..${TILE_WIDTH}`, { width: ref.width });
  }
  // c2sp.org/tlog-tiles: `<L>` is between 0 and 63.
  if (
    ref.kind === 'hash' &&
    (!Number.isInteger(ref.level) || ref.level < 0 || ref.level > MAX_TILE_LEVEL)
  ) {
    throw refInvalid(`tile level ${ref.level} is not in 0..${MAX_TILE_LEVEL}`, {
      level: ref.level,
    });
  }
}

// ---------------------------------------------------------------------------
// paths

/**
 * c2sp.org/tlog-tiles: `<N>` as zero-padded 3-digit path elements, all but
 * the last prefixed with `x` (1234067 → `x001/x234/067`).
 */
export function formatTileIndex(n: bigint): string {
  checkTileIndex(n);
  let digits = n.toString();
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3));
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** c2sp.org/tlog-tiles: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath(ref: TileRef): string {
  checkRef(ref);
  const head = ref.kind === 'hash' ? `tile/${ref.level}` : 'tile/entries';
  // c2sp.org/tlog-tiles: `.p/<W>` is only present for partial tiles.
  const partial = ref.width < TILE_WIDTH ? `.p/${ref.width}` : '';
  return `${head}/${formatTileIndex(ref.index)}${partial}`;
}

// Longer than any valid path (`tile/63/` + 6 groups + `.p/255`); checked
// before the regular expression so hostile input costs nothing.
const MAX_PATH_LENGTH = 64;
const PATH_RE =
  /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/** Parses a tile or entry-bundle path, accepting only the canonical c2sp.org/tlog-tiles form. */
export function parseTilePath(path: string): TileRef {
  const invalid = (why: string): TlogError =>
    new TlogError(
      'TILE_PATH_INVALID',
      `tile path ${JSON.stringify(path.slice(0, MAX_PATH_LENGTH))}: ${why}`,
      {
        evidence: { path: path.slice(0, MAX_PATH_LENGTH) },
      },
    );
  if (path.length > MAX_PATH_LENGTH) throw invalid('too long');
  const m = PATH_RE.exec(path);
  if (m === null) throw invalid('not of the form tile/<L>/<N>[.p/<W>]');
  const [, levelText = '', indexText = '', widthText] = m;
  const index = BigInt(indexText.replaceAll('x', '').replaceAll('/', ''));
  // c2sp.org/tlog-tiles: the largest index a uint64 tree can need.
  if (index >= MAX_TILE_INDEX) throw invalid('index out of range');
  // c2sp.org/tlog-tiles: zero-padded 3-digit elements, so `x000/067` is not 67.
  if (formatTileIndex(index) !== indexText) throw invalid('index is not in canonical form');
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  // c2sp.org/tlog-tiles: `<W>` is between 1 and 255 (a full tile has no suffix).
  if (widthText !== undefined && width >= TILE_WIDTH)
    throw invalid('partial width must be below 256');
  if (levelText === 'entries') return { kind: 'entries', index, width };
  const level = Number(levelText);
  // c2sp.org/tlog-tiles: `<L>` is between 0 and 63.
  if (level > MAX_TILE_LEVEL) throw invalid('level must be at most 63');
  return { kind: 'hash', level, index, width };
}

/**
 * True when `path` is a tile or entry-bundle path in its one canonical
 * c2sp.org/tlog-tiles form (it parses and prints back unchanged): storage
 * maps only such paths to files or rows, so no request names anything
 * outside the tile namespace and every tile has one key.
 */
export function isCanonicalTilePath(path: string): boolean {
  let canonical: string;
  try {
    canonical = tilePath(parseTilePath(path));
  } catch (err) {
    if (err instanceof TlogError) return false;
    throw err;
  }
  return canonical === path;
}

// ---------------------------------------------------------------------------
// tile geometry

/**
 * How many hashes tile (`level`, `index`) holds in a tree of `treeSize`
 * leaves: 256 when full, 1..255 when partial, 0 when it does not exist yet.
 * Entry bundles have the geometry of level 0.
 */
export function tileWidthAt(level: number, index: bigint, treeSize: bigint): number {
  checkTileIndex(index);
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) {
    throw refInvalid(`tile level ${level} is not in 0..${MAX_TILE_LEVEL}`, { level });
  }
  // c2sp.org/tlog-tiles: level l holds the hashes of subtrees of 256^l leaves,
  // so the tree has floor(s / 256^l) of them.
  const count = treeSize >> (HEIGHT * BigInt(level));
  const width = count - index * WIDTH;
  if (width <= 0n) return 0;
  return width >= WIDTH ? TILE_WIDTH : Number(width);
}

/** Where a node lives: tile level ⌊l/8⌋; nodes between tile levels are recomputed. */
interface TileSlot {
  readonly level: number;
  readonly index: bigint;
  /** Position of the first tile hash the node covers. */
  readonly offset: number;
  /** Number of tile hashes the node covers: 2^(l mod 8). */
  readonly span: number;
}

function slotOf(node: NodeId): TileSlot {
  const level = Math.floor(node.level / TILE_HEIGHT);
  const sub = node.level - level * TILE_HEIGHT;
  const first = node.index << BigInt(sub); // first covered hash at level 8·⌊l/8⌋
  return {
    level,
    index: first >> HEIGHT,
    offset: Number(first & (WIDTH - 1n)),
    span: 1 << sub,
  };
}

function checkNode(node: NodeId, treeSize: bigint): void {
  // Only subtrees complete at the tree size exist in its tiles.
  const level = BigInt(node.level);
  if (
    !Number.isInteger(node.level) ||
    node.level < 0 ||
    node.level > 64 ||
    node.index < 0n ||
    (node.index + 1n) << level > treeSize
  ) {
    throw new TlogError(
      'TILE_NODE_OUT_OF_RANGE',
      `node (${node.level}, ${node.index}) is not a complete subtree of a tree of ${treeSize} leaves`,
      {
        evidence: {
          level: node.level,
          index: node.index.toString(),
          treeSize: treeSize.toString(),
        },
      },
    );
  }
}

/**
 * The hash tiles, at their width for `treeSize`, holding the given nodes (or
 * the hashes they are recomputed from). Deduplicated, in first-use order.
 */
export function tilesForNodes(nodes: readonly NodeId[], treeSize: bigint): TileRef[] {
  const seen = new Map<string, TileRef>();
  for (const node of nodes) {
    checkNode(node, treeSize);
    const slot = slotOf(node);
    const ref: TileRef = {
      kind: 'hash',
      level: slot.level,
      index: slot.index,
      width: tileWidthAt(slot.level, slot.index, treeSize),
    };
    const path = tilePath(ref);
    if (!seen.has(path)) seen.set(path, ref);
  }
  return [...seen.values()];
}

/** The tiles a client fetches to build the inclusion proof of leaf `index` in a tree of `size`. */
export function tilesForInclusion(index: bigint, size: bigint): TileRef[] {
  return tilesForNodes(inclusionProofPlan(index, size).nodes, size);
}

/** The tiles a client fetches to build the consistency proof from `size1` to `size2`. */
export function tilesForConsistency(size1: bigint, size2: bigint): TileRef[] {
  return tilesForNodes(consistencyProofPlan(size1, size2).nodes, size2);
}

/** The tiles a client fetches to recompute the root of a tree of `size` (e.g. to check a checkpoint). */
export function tilesForTreeRoot(size: bigint): TileRef[] {
  return tilesForNodes(treeRootPlan(size).nodes, size);
}

/**
 * Every tile and entry bundle whose contents differ between trees of
 * `oldSize` and `newSize` leaves, at their width for `newSize`: what a log
 * writes after integrating leaves [oldSize, newSize).
 */
export function tilesToWrite(oldSize: bigint, newSize: bigint): TileRef[] {
  const out: TileRef[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
    const shift = HEIGHT * BigInt(level);
    const oldCount = oldSize >> shift;
    const newCount = newSize >> shift;
    if (newCount === 0n) break;
    if (newCount <= oldCount) continue;
    // c2sp.org/tlog-tiles: a tile changes when hashes are added to it.
    for (let index = oldCount / WIDTH; index * WIDTH < newCount; index++) {
      const width = tileWidthAt(level, index, newSize);
      out.push({ kind: 'hash', level, index, width });
      // c2sp.org/tlog-tiles: entry bundles mirror the level-0 tiles.
      if (level === 0) out.push({ kind: 'entries', index, width });
    }
  }
  return out;
}

/**
 * The nodes whose hashes, concatenated, form a hash tile (level 8·L,
 * consecutive indices); for an entry bundle, the leaf indices it holds.
 */
export function tileNodeIds(ref: TileRef): NodeId[] {
  checkRef(ref);
  const level = ref.kind === 'hash' ? ref.level * TILE_HEIGHT : 0;
  const out: NodeId[] = [];
  for (let i = 0; i < ref.width; i++) out.push({ level, index: ref.index * WIDTH + BigInt(i) });
  return out;
}

// ---------------------------------------------------------------------------
// reading proofs from tiles

/**
 * A HashReader over fetched tiles, keyed by tilePath. Each tile is looked up
 * at its width for `treeSize`, falling back to the full tile (c2sp.org/tlog-tiles:
 * a client MAY use the full tile when the partial one is gone). Hashes read
 * here are unauthenticated: they become trustworthy only once the proof they
 * build verifies against a signed root.
 */
export function tileHashReader(
  treeSize: bigint,
  tiles: ReadonlyMap<string, Uint8Array>,
): HashReader {
  return (ids) =>
    ids.map((node) => {
      checkNode(node, treeSize);
      const slot = slotOf(node);
      const width = tileWidthAt(slot.level, slot.index, treeSize);
      const tile = lookup(tiles, slot.level, slot.index, width);
      // Reduce the covered tile hashes pairwise up to the node's level.
      let layer: Uint8Array[] = [];
      for (let i = 0; i < slot.span; i++) {
        const at = (slot.offset + i) * HASH_SIZE;
        layer.push(tile.slice(at, at + HASH_SIZE));
      }
      while (layer.length > 1) {
        const up: Uint8Array[] = [];
        for (let i = 0; i < layer.length; i += 2) {
          up.push(hashChildren(layer[i] as Uint8Array, layer[i + 1] as Uint8Array));
        }
        layer = up;
      }
      return layer[0] as Uint8Array;
    });
}

function lookup(
  tiles: ReadonlyMap<string, Uint8Array>,
  level: number,
  index: bigint,
  width: number,
): Uint8Array {
  const candidates = width < TILE_WIDTH ? [width, TILE_WIDTH] : [TILE_WIDTH];
  for (const w of candidates) {
    const path = tilePath({ kind: 'hash', level, index, width: w });
    const tile = tiles.get(path);
    if (tile === undefined) continue;
    // c2sp.org/tlog-tiles: a tile is exactly its width in 32-byte hashes.
    if (tile.length !== w * HASH_SIZE) {
      throw new TlogError(
        'TILE_WRONG_SIZE',
        `${path} is ${tile.length} bytes, want ${w * HASH_SIZE}`,
        {
          evidence: { path, length: tile.length },
        },
      );
    }
    return tile;
  }
  const path = tilePath({ kind: 'hash', level, index, width });
  throw new TlogError('TILE_MISSING', `tile ${path} was not provided`, { evidence: { path } });
}

// ---------------------------------------------------------------------------
// entry bundles

/** c2sp.org/tlog-tiles: a bundle is the entries, each with a big-endian uint16 length prefix. */
export function encodeBundle(entries: readonly Uint8Array[]): Uint8Array {
  // c2sp.org/tlog-tiles: a bundle mirrors a level-0 tile, so at most 256 entries.
  if (entries.length > TILE_WIDTH) {
    throw new TlogError('BUNDLE_TOO_MANY_ENTRIES', `${entries.length} entries, max ${TILE_WIDTH}`, {
      evidence: { entries: entries.length },
    });
  }
  let total = 0;
  entries.forEach((e, i) => {
    // c2sp.org/tlog-tiles: the uint16 prefix caps an entry at 65,535 bytes.
    if (e.length > MAX_ENTRY_SIZE) {
      throw new TlogError(
        'BUNDLE_ENTRY_TOO_LARGE',
        `entry ${i} is ${e.length} bytes, max ${MAX_ENTRY_SIZE}`,
        {
          evidence: { entry: i, length: e.length },
        },
      );
    }
    total += 2 + e.length;
  });
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out[at] = e.length >> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/**
 * Splits an entry bundle. Rejects a truncated prefix or body and more than
 * `maxEntries` entries (default 256, a full bundle); checking the count
 * against the expected tile width is the caller's job.
 */
export function decodeBundle(bytes: Uint8Array, opts: { maxEntries?: number } = {}): Uint8Array[] {
  const maxEntries = opts.maxEntries ?? TILE_WIDTH;
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (entries.length >= maxEntries) {
      throw new TlogError('BUNDLE_TOO_MANY_ENTRIES', `bundle has more than ${maxEntries} entries`, {
        evidence: { maxEntries },
      });
    }
    // c2sp.org/tlog-tiles: each entry starts with a big-endian uint16 length.
    if (bytes.length - at < 2) {
      throw new TlogError(
        'BUNDLE_TRUNCATED',
        `bundle ends inside the length of entry ${entries.length}`,
        {
          evidence: { entry: entries.length, offset: at },
        },
      );
    }
    const length = ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
    at += 2;
    if (bytes.length - at < length) {
      throw new TlogError('BUNDLE_TRUNCATED', `bundle ends inside entry ${entries.length}`, {
        evidence: { entry: entries.length, offset: at, length },
      });
    }
    entries.push(bytes.slice(at, at + length));
    at += length;
  }
  return entries;
}
