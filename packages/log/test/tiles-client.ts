/**
 * A log client written only from the specs (c2sp.org/tlog-tiles,
 * tlog-checkpoint, signed-note, RFC 6962) on top of `@glasshouse/tlog`: it
 * fetches the checkpoint and tiles over HTTP and trusts nothing but the
 * log's verifier key. Shared by the spec-client and crash tests.
 */
import { expect } from 'vitest';
import {
  type Checkpoint,
  type NoteVerifierKey,
  TILE_WIDTH,
  type TileRef,
  consistencyProof,
  decodeBundle,
  hashLeaf,
  inclusionProof,
  openCheckpoint,
  parseVerifierKey,
  tileHashReader,
  tilePath,
  tileWidthAt,
  tilesForConsistency,
  tilesForInclusion,
  tilesForTreeRoot,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '@glasshouse/tlog';

/** The spec client: fetches and verifies, with nothing but the log's verifier key. */
export class SpecClient {
  readonly #verifier: NoteVerifierKey;
  readonly #origin: string;
  readonly #tiles = new Map<string, Uint8Array>();

  constructor(
    readonly prefix: string,
    vkey: string,
  ) {
    this.#verifier = parseVerifierKey(vkey);
    // c2sp.org/tlog-policy: a log's key name is its origin.
    this.#origin = this.#verifier.name;
  }

  async get(path: string): Promise<Response> {
    // c2sp.org/tlog-tiles: clients SHOULD include gzip and identity.
    const res = await fetch(new URL(path, this.prefix), {
      headers: { 'accept-encoding': 'gzip, identity' },
    });
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return res;
  }

  /** c2sp.org/tlog-checkpoint: verify the log's signature before reading the body. */
  async checkpoint(): Promise<Checkpoint> {
    const res = await this.get('checkpoint');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    return openCheckpoint(await res.text(), [this.#verifier], { origin: this.#origin }).checkpoint;
  }

  async tile(ref: TileRef): Promise<Uint8Array> {
    const path = tilePath(ref);
    const cached = this.#tiles.get(path);
    if (cached !== undefined) return cached;
    const res = await this.get(path);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const data = new Uint8Array(await res.arrayBuffer());
    this.#tiles.set(path, data);
    return data;
  }

  async tilesMap(refs: readonly TileRef[]): Promise<Map<string, Uint8Array>> {
    const m = new Map<string, Uint8Array>();
    for (const ref of refs) m.set(tilePath(ref), await this.tile(ref));
    return m;
  }

  /** Every entry of the tree of `size`, from its entry bundles. */
  async entries(size: bigint): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (let n = 0n; n * BigInt(TILE_WIDTH) < size; n++) {
      const width = tileWidthAt(0, n, size);
      const bundle = decodeBundle(await this.tile({ kind: 'entries', index: n, width }));
      // c2sp.org/tlog-tiles: a bundle holds exactly the entries of its level-0 tile.
      expect(bundle.length).toBe(width);
      out.push(...bundle);
    }
    return out;
  }

  /** RFC 6962 §2.1.1 inclusion of `entry` at `index`, from hash tiles. */
  async verifyIncluded(entry: Uint8Array, index: bigint, cp: Checkpoint): Promise<void> {
    const reader = tileHashReader(cp.size, await this.tilesMap(tilesForInclusion(index, cp.size)));
    const proof = await inclusionProof(index, cp.size, reader);
    verifyInclusion(hashLeaf(entry), index, cp.size, proof, cp.rootHash);
  }

  /** RFC 6962 §2.1.2 consistency between two checkpoints, from hash tiles of the newer. */
  async verifyConsistent(a: Checkpoint, b: Checkpoint): Promise<void> {
    if (a.size === 0n) return;
    const reader = tileHashReader(b.size, await this.tilesMap(tilesForConsistency(a.size, b.size)));
    const proof = await consistencyProof(a.size, b.size, reader);
    verifyConsistency(a.size, b.size, proof, a.rootHash, b.rootHash);
  }

  async verifyRoot(cp: Checkpoint): Promise<void> {
    if (cp.size === 0n) return;
    const reader = tileHashReader(cp.size, await this.tilesMap(tilesForTreeRoot(cp.size)));
    expect(Buffer.from(await treeRoot(cp.size, reader))).toEqual(Buffer.from(cp.rootHash));
  }
}
