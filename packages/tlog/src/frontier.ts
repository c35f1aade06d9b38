/**
 * Recomputing a tree from its entry bundles, a whole bundle at a time: what
 * a monitor does to check every checkpoint a log signs (RFC 9162 §2.1.1).
 */
import { CompactRange, type CompletedNode } from './compact.js';
import { HASH_SIZE, hashChildren, sha256 } from './hash.js';
import { TILE_HEIGHT, TILE_WIDTH } from './tiles.js';

/** Where each entry of an encoded entry bundle lies (its length prefix excluded). */
export interface BundleBounds {
  /** The encoded bundle (c2sp.org/tlog-tiles: entries, each after a big-endian uint16 length). */
  readonly data: Uint8Array;
  /** Entry `i` is `data[starts[i], ends[i])`; every start is ≥ 2. */
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/**
 * The compact range of the tree being recomputed (RFC 9162 §2.1.1: the
 * roots of the perfect subtrees covering leaves [0, size), largest first),
 * grown by whole perfect subtrees. A full bundle goes in as the root of its
 * 256 leaves, which completes exactly the nodes that 256 leaf appends
 * would; `CompactRange` validates the result and computes the root.
 */
export class Frontier {
  #size: bigint;
  /** Per subtree, its level (log2 of its leaves) and hash; levels strictly decrease. */
  readonly #levels: number[] = [];
  readonly #hashes: Uint8Array[] = [];

  constructor(start: CompactRange) {
    const { size, hashes } = start.state();
    this.#size = size;
    this.#hashes.push(...hashes);
    // One subtree per set bit of the size, highest first.
    for (let level = size.toString(2).length - 1; level >= 0; level--) {
      if (((size >> BigInt(level)) & 1n) === 1n) this.#levels.push(level);
    }
  }

  get size(): bigint {
    return this.#size;
  }

  /**
   * Appends the perfect subtree of 2^level leaves whose root is `hash`, at
   * leaf `size` (a multiple of 2^level). Nodes it completes at tile levels
   * above 0 (tree levels 8, 16, …) are added to `completed`, lowest first.
   */
  push(level: number, hash: Uint8Array, completed: CompletedNode[]): void {
    const leaves = 1n << BigInt(level);
    if (this.#size % leaves !== 0n) throw new Error(`a subtree of level ${level} at ${this.#size}`);
    let index = this.#size / leaves;
    let node = hash;
    let at = level;
    for (;;) {
      if (at > 0 && at % TILE_HEIGHT === 0) completed.push({ level: at, index, hash: node });
      // Merge with the left sibling while it is the last subtree (binary carry).
      if (this.#levels[this.#levels.length - 1] !== at) break;
      this.#levels.pop();
      node = hashChildren(this.#hashes.pop() as Uint8Array, node);
      at++;
      index >>= 1n;
    }
    this.#levels.push(at);
    this.#hashes.push(node);
    this.#size += leaves;
  }

  compactRange(): CompactRange {
    return new CompactRange({ size: this.#size, hashes: this.#hashes });
  }
}

/**
 * RFC 9162 §2.1.1: SHA-256(0x00 ‖ entry) of each entry of a bundle, one
 * after the other. In a copy of the bundle, the byte just before each entry
 * (the low byte of its length prefix, already parsed) is set to 0x00, so
 * each leaf hash reads its input in place: no per-entry copy.
 */
export function hashEntries(bundle: BundleBounds): Uint8Array {
  const { starts, ends } = bundle;
  // A copy, made with `set`: `slice` on a Node byte buffer would share the bytes.
  const work = new Uint8Array(bundle.data.length);
  work.set(bundle.data);
  const out = new Uint8Array(starts.length * HASH_SIZE);
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i] as number; // ≥ 2: every entry follows its 2-byte length
    work[start - 1] = 0x00;
    out.set(sha256(work.subarray(start - 1, ends[i])), i * HASH_SIZE);
  }
  return out;
}

// 1 spare byte, then 256 hashes: a level of the subtree being folded.
const fold = new Uint8Array(1 + TILE_WIDTH * HASH_SIZE);

/**
 * RFC 9162 §2.1.1: the root of the perfect subtree over 256 leaf hashes laid
 * out one after the other. Folded in place, level by level: the byte just
 * before pair j (spare byte, or the last byte of pair j-1, already read) is
 * set to 0x01, so SHA-256(0x01 ‖ left ‖ right) reads its input in place, and
 * parent j is written over pair j/2's bytes, which were read before.
 */
export function subtreeRoot(leaves: Uint8Array): Uint8Array {
  fold.set(leaves, 1);
  for (let count = TILE_WIDTH; count > 1; count >>= 1) {
    for (let j = 0; j < count >> 1; j++) {
      const at = 2 * j * HASH_SIZE; // the byte before pair j, which starts at at + 1
      fold[at] = 0x01;
      fold.set(sha256(fold.subarray(at, at + 1 + 2 * HASH_SIZE)), 1 + j * HASH_SIZE);
    }
  }
  return fold.slice(1, 1 + HASH_SIZE);
}
