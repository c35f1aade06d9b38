/**
 * Proofs from a log's c2sp.org/tlog-tiles read API, for a reader who has a
 * verified checkpoint and wants entries, inclusion and consistency proofs
 * under it without downloading the log: tiles are fetched once each and
 * cached, proofs computed from them (RFC 9162 §2.1.3, §2.1.4) and verified
 * against the checkpoint's root by the caller.
 */
import {
  TILE_WIDTH,
  type TileRef,
  consistencyProof,
  inclusionProof,
  tileHashReader,
  tilePath,
  tilesForConsistency,
  tilesForInclusion,
} from '@glasshouse/tlog';
import type { TilesFetcher } from '@glasshouse/witness';

export class TileReader {
  readonly #fetcher: TilesFetcher;
  readonly #size: bigint;
  readonly #tiles = new Map<string, Uint8Array>();
  readonly #bundles = new Map<bigint, readonly Uint8Array[]>();

  /** Reads the tree of `size` leaves (the verified checkpoint's size). */
  constructor(fetcher: TilesFetcher, size: bigint) {
    this.#fetcher = fetcher;
    this.#size = size;
  }

  /** RFC 9162 §2.1.3.1: the inclusion proof of `index` in the tree of `size`. */
  async inclusion(index: bigint, signal?: AbortSignal): Promise<Uint8Array[]> {
    await this.#load(tilesForInclusion(index, this.#size), signal);
    return inclusionProof(index, this.#size, tileHashReader(this.#size, this.#tiles));
  }

  /** RFC 9162 §2.1.4.1: the consistency proof from `size1` to the tree of `size`. */
  async consistency(size1: bigint, signal?: AbortSignal): Promise<Uint8Array[]> {
    await this.#load(tilesForConsistency(size1, this.#size), signal);
    return consistencyProof(size1, this.#size, tileHashReader(this.#size, this.#tiles));
  }

  /** Entry `index` (unverified bytes: the caller checks its inclusion). */
  async entry(index: bigint, signal?: AbortSignal): Promise<Uint8Array> {
    const width = BigInt(TILE_WIDTH);
    const n = index / width;
    let bundle = this.#bundles.get(n);
    if (bundle === undefined) {
      const end = (n + 1n) * width < this.#size ? (n + 1n) * width : this.#size;
      bundle = (await this.#fetcher.entryBundle(n, Number(end - n * width), signal)).entries;
      this.#bundles.set(n, bundle);
    }
    return Uint8Array.from(bundle[Number(index - n * width)] as Uint8Array);
  }

  async #load(refs: readonly TileRef[], signal?: AbortSignal): Promise<void> {
    await Promise.all(
      refs.map(async (ref) => {
        if (ref.kind !== 'hash') return;
        const path = tilePath(ref);
        if (this.#tiles.has(path)) return;
        const t = await this.#fetcher.hashTile(ref.level, ref.index, ref.width, signal);
        this.#tiles.set(path, t.data);
      }),
    );
  }
}
