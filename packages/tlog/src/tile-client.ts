/**
 * Reading a tree of a known size through a c2sp.org/tlog-tiles read API,
 * with the I/O left to the caller: `get(path)` returns the bytes served at
 * a tile path (`tile/0/000`, `tile/entries/001.p/5`) or throws. Tiles and
 * entry bundles are fetched once each and cached; proofs are computed from
 * them (RFC 9162 §2.1.3.1, §2.1.4.1). Nothing here is trusted: the caller
 * verifies each proof against the root of a checkpoint it verified for
 * this `size` (and each entry through its inclusion proof).
 */
import { consistencyProof, inclusionProof } from './proof.js';
import {
  TILE_WIDTH,
  type TileRef,
  decodeBundle,
  tileHashReader,
  tilePath,
  tilesForConsistency,
  tilesForInclusion,
} from './tiles.js';
import { TlogError } from './errors.js';

/** The bytes served at a path under the log's tlog-tiles prefix; throws when there are none. */
export type TileGet = (path: string) => Promise<Uint8Array>;

export class TileClient {
  readonly size: bigint;
  readonly #get: TileGet;
  readonly #tiles = new Map<string, Uint8Array>();
  readonly #bundles = new Map<bigint, readonly Uint8Array[]>();

  constructor(get: TileGet, size: bigint) {
    this.#get = get;
    this.size = size;
  }

  /** RFC 9162 §2.1.3.1: the inclusion proof of leaf `index` in the tree of `size`. */
  async inclusion(index: bigint): Promise<Uint8Array[]> {
    await this.#load(tilesForInclusion(index, this.size));
    return inclusionProof(index, this.size, tileHashReader(this.size, this.#tiles));
  }

  /** RFC 9162 §2.1.4.1: the consistency proof from the tree of `size1` to the tree of `size`. */
  async consistency(size1: bigint): Promise<Uint8Array[]> {
    await this.#load(tilesForConsistency(size1, this.size));
    return consistencyProof(size1, this.size, tileHashReader(this.size, this.#tiles));
  }

  /** Entry `index` (< size), unverified: prove it with `inclusion` or hash a whole range. */
  async entry(index: bigint): Promise<Uint8Array> {
    if (index < 0n || index >= this.size) {
      throw new TlogError('INDEX_OUT_OF_RANGE', `entry ${index} is not in a tree of ${this.size}`);
    }
    const width = BigInt(TILE_WIDTH);
    const bundle = await this.#bundle(index / width);
    // Copied: a bundle's entries are views into one buffer.
    return Uint8Array.from(bundle[Number(index % width)] as Uint8Array);
  }

  /** Entries [from, to) in index order, unverified (hash them onto a verified compact range). */
  async entries(from: bigint, to: bigint): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (let i = from; i < to; i++) out.push(await this.entry(i));
    return out;
  }

  /** Entry bundle `n` of the tree: partial while the tree ends inside it (c2sp.org/tlog-tiles). */
  async #bundle(n: bigint): Promise<readonly Uint8Array[]> {
    const cached = this.#bundles.get(n);
    if (cached !== undefined) return cached;
    const w = BigInt(TILE_WIDTH);
    const width = Number(this.size - n * w < w ? this.size - n * w : w);
    let bytes: Uint8Array;
    try {
      bytes = await this.#get(tilePath({ kind: 'entries', index: n, width }));
    } catch (err) {
      // c2sp.org/tlog-tiles: once a bundle is full its partial versions may be gone.
      if (width === TILE_WIDTH) throw err;
      bytes = await this.#get(tilePath({ kind: 'entries', index: n, width: TILE_WIDTH }));
    }
    const entries = decodeBundle(bytes, { maxEntries: TILE_WIDTH });
    if (entries.length < width) {
      throw new TlogError(
        'BUNDLE_TRUNCATED',
        `entry bundle ${n} holds ${entries.length} entries, the tree of ${this.size} needs ${width}`,
        { evidence: { bundle: n.toString(), entries: entries.length, width } },
      );
    }
    this.#bundles.set(n, entries);
    return entries;
  }

  async #load(refs: readonly TileRef[]): Promise<void> {
    await Promise.all(
      refs.map(async (ref) => {
        if (ref.kind !== 'hash') return;
        const path = tilePath(ref);
        const full = tilePath({ ...ref, width: TILE_WIDTH });
        if (this.#tiles.has(path) || this.#tiles.has(full)) return;
        try {
          this.#tiles.set(path, await this.#get(path));
        } catch (err) {
          // c2sp.org/tlog-tiles: a client MAY use the full tile when the partial one is gone
          // (tileHashReader reads the full tile's first hashes).
          if (ref.width === TILE_WIDTH) throw err;
          this.#tiles.set(full, await this.#get(full));
        }
      }),
    );
  }
}
