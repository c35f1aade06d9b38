import { TlogError } from './errors.js';
import { HASH_SIZE, emptyRoot, hashChildren } from './hash.js';
import { MAX_TREE_SIZE } from './proof.js';

/** A perfect subtree that an append completed; level 0 is the appended leaf. */
export interface CompletedNode {
  readonly level: number;
  readonly index: bigint;
  readonly hash: Uint8Array;
}

/** What a log persists to resume appending: see CompactRange. */
export interface CompactRangeState {
  readonly size: bigint;
  /** Roots of the perfect subtrees covering [0, size), largest (leftmost) first. */
  readonly hashes: readonly Uint8Array[];
}

function popCount(x: bigint): number {
  let n = 0;
  for (const c of x.toString(2)) if (c === '1') n++;
  return n;
}

/**
 * The right edge of a Merkle tree: the O(log n) perfect subtrees that cover
 * leaves [0, size), which is all a log needs to append leaves and compute the
 * RFC 9162 §2.1.1 tree head. Each append reports the perfect subtrees it
 * completed so the caller can store them (e.g. as tiles).
 *
 * Hashes passed in are kept by reference and must not be mutated afterwards.
 */
export class CompactRange {
  #size: bigint;
  // One hash per set bit of #size, highest bit first.
  readonly #hashes: Uint8Array[];

  constructor(state?: CompactRangeState) {
    if (state === undefined) {
      this.#size = 0n;
      this.#hashes = [];
      return;
    }
    const { size, hashes } = state;
    if (size < 0n || size >= MAX_TREE_SIZE || hashes.length !== popCount(size)) {
      throw new TlogError(
        'COMPACT_STATE_INVALID',
        `a tree of ${size} leaves has one subtree per set bit, got ${hashes.length} hashes`,
        { evidence: { size: size.toString(), hashes: hashes.length } },
      );
    }
    hashes.forEach((h, i) => {
      // RFC 9162 §2.1.1: node hashes are SHA-256 outputs.
      if (h.length !== HASH_SIZE) {
        throw new TlogError('COMPACT_STATE_INVALID', `hashes[${i}] is ${h.length} bytes`, {
          evidence: { size: size.toString(), index: i, length: h.length },
        });
      }
    });
    this.#size = size;
    this.#hashes = [...hashes];
  }

  /** Number of leaves appended so far. */
  get size(): bigint {
    return this.#size;
  }

  /**
   * Appends one leaf hash (already RFC 9162 §2.1.1 leaf-hashed) and returns
   * the leaf plus every perfect subtree it completed, lowest level first.
   */
  append(leafHash: Uint8Array): CompletedNode[] {
    const completed: CompletedNode[] = [];
    this.#push(leafHash, completed);
    return completed;
  }

  /** Appends leaf hashes in order; returns the completed nodes of all of them. */
  appendMany(leafHashes: Iterable<Uint8Array>): CompletedNode[] {
    const completed: CompletedNode[] = [];
    for (const leafHash of leafHashes) this.#push(leafHash, completed);
    return completed;
  }

  #push(leafHash: Uint8Array, completed: CompletedNode[]): void {
    if (leafHash.length !== HASH_SIZE) {
      throw new TlogError('HASH_WRONG_LENGTH', `leaf hash is ${leafHash.length} bytes`, {
        evidence: { length: leafHash.length },
      });
    }
    const index = this.#size;
    if (index === MAX_TREE_SIZE - 1n) {
      throw new TlogError('SIZE_OUT_OF_RANGE', 'the tree is full (uint64 sizes)');
    }
    completed.push({ level: 0, index, hash: leafHash });
    // Each trailing one bit of the old size is a left sibling waiting for this
    // leaf's subtree: merge upwards, exactly like carrying in binary addition.
    let node = leafHash;
    let level = 0;
    let rest = index;
    while ((rest & 1n) === 1n) {
      node = hashChildren(this.#hashes.pop() as Uint8Array, node);
      level++;
      rest >>= 1n;
      completed.push({ level, index: rest, hash: node });
    }
    this.#hashes.push(node);
    this.#size = index + 1n;
  }

  /** RFC 9162 §2.1.1: the Merkle Tree Hash of all leaves appended so far. */
  root(): Uint8Array {
    const hashes = this.#hashes;
    let acc = hashes[hashes.length - 1];
    if (acc === undefined) return emptyRoot();
    // The right edge folds from the smallest subtree upwards.
    for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i] as Uint8Array, acc);
    return acc;
  }

  /** A snapshot to persist and later pass to the constructor. */
  state(): CompactRangeState {
    return { size: this.#size, hashes: [...this.#hashes] };
  }
}
