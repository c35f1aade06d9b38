/**
 * An in-memory Merkle prefix tree (KEYTRANS §3.3, hashes §11.9, proofs
 * §12.2) over 256-bit search keys. Its shape depends only on the key set
 * (a leaf sits just below the longest prefix it shares with another key),
 * so anyone who replays the input log gets the same root.
 *
 * Updates are batched: `set` marks the path dirty, `root` rehashes only
 * dirty nodes.
 */
import { ZERO_HASH, type Sha256 } from './bytes.js';
import { HASH_BYTES, keyBit, prefixLeafHash, prefixParentHash } from './index-hash.js';
import type { LookupProof } from './lookup-proof.js';

// Each node keeps one 32-byte hash buffer for its life and a dirty flag:
// recomputed hashes are copied in, so the hash function's outputs die
// young (cheap for the garbage collector).
// Invariant: a dirty node's ancestors are all dirty (a change marks its
// whole path), so marking stops at the first dirty ancestor.
interface LeafNode {
  readonly leaf: true;
  readonly key: Uint8Array;
  commitment: Uint8Array;
  readonly hash: Uint8Array;
  dirty: boolean;
  parent: ParentNode | null;
}

interface ParentNode {
  readonly leaf: false;
  left: TreeNode | null;
  right: TreeNode | null;
  readonly hash: Uint8Array;
  dirty: boolean;
  parent: ParentNode | null;
}

/** A key's leaf, as `set` returned it: `update` changes its commitment without a search. */
export type LeafHandle = LeafNode;

function leafNode(key: Uint8Array, commitment: Uint8Array, parent: ParentNode | null): LeafNode {
  return { leaf: true, key, commitment, hash: new Uint8Array(HASH_BYTES), dirty: true, parent };
}

function parentNode(parent: ParentNode | null): ParentNode {
  return {
    leaf: false,
    left: null,
    right: null,
    hash: new Uint8Array(HASH_BYTES),
    dirty: true,
    parent,
  };
}

type TreeNode = LeafNode | ParentNode;

/** The deepest leaf KEYTRANS' uint8 depth can name. */
export const MAX_DEPTH = 255;

export class PrefixTree {
  private top: TreeNode | null = null;
  private count = 0;

  constructor(private readonly sha256: Sha256) {}

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /**
   * Replaces the commitment of a key already in the tree, given the leaf
   * `set` returned for it: marks its path dirty up to the first dirty node.
   */
  update(leaf: LeafHandle, commitment: Uint8Array): void {
    if (commitment.length !== HASH_BYTES)
      throw new TypeError('prefix tree: commitments are 32 bytes');
    leaf.commitment = commitment;
    leaf.dirty = true;
    for (let p = leaf.parent; p !== null && !p.dirty; p = p.parent) p.dirty = true;
  }

  /**
   * Inserts `key` or replaces its commitment (KEYTRANS §3.3 "New key-value
   * pairs are added…"); returns the key's leaf (for `update`).
   */
  set(key: Uint8Array, commitment: Uint8Array): LeafHandle {
    if (key.length !== HASH_BYTES || commitment.length !== HASH_BYTES) {
      throw new TypeError('prefix tree: keys and commitments are 32 bytes');
    }
    if (this.top === null) {
      const only = leafNode(key, commitment, null);
      this.top = only;
      this.count = 1;
      return only;
    }
    let parent: ParentNode | null = null;
    let node: TreeNode = this.top;
    let depth = 0;
    for (;;) {
      if (node.leaf) break;
      node.dirty = true;
      const bit = keyBit(key, depth);
      const child: TreeNode | null = bit === 0 ? node.left : node.right;
      if (child === null) {
        // The search ended at a parent lacking the child: add the leaf there.
        const fresh = leafNode(key, commitment, node);
        if (bit === 0) node.left = fresh;
        else node.right = fresh;
        this.count += 1;
        return fresh;
      }
      parent = node;
      node = child;
      depth += 1;
    }
    if (sameKey(node.key, key)) {
      node.commitment = commitment;
      node.dirty = true;
      return node;
    }
    // The search ended at another key's leaf: add parents until the first
    // bit where the two keys differ.
    const other = node;
    const head = parentNode(parent);
    let at = head;
    let d = depth;
    while (keyBit(key, d) === keyBit(other.key, d)) {
      if (d + 1 >= MAX_DEPTH) throw new RangeError('prefix tree: keys share 255 bits');
      const next = parentNode(at);
      if (keyBit(key, d) === 0) at.left = next;
      else at.right = next;
      at = next;
      d += 1;
    }
    const fresh = leafNode(key, commitment, at);
    other.parent = at;
    if (keyBit(key, d) === 0) {
      at.left = fresh;
      at.right = other;
    } else {
      at.left = other;
      at.right = fresh;
    }
    if (parent === null) this.top = head;
    else if (parent.left === other) parent.left = head;
    else parent.right = head;
    this.count += 1;
    return fresh;
  }

  /** The root value (a copy); 32 zero bytes for the empty tree (the stand-in of an absent node, §11.9). */
  root(): Uint8Array {
    return this.top === null ? ZERO_HASH.slice() : this.hashOf(this.top).slice();
  }

  /** The node's current hash buffer (the caller copies what it keeps). */
  private hashOf(node: TreeNode): Uint8Array {
    if (!node.dirty) return node.hash;
    if (node.leaf) {
      node.hash.set(prefixLeafHash(node.key, node.commitment, this.sha256));
    } else {
      // Children first: their buffers are read before this node's hash is computed.
      const left = node.left === null ? null : this.hashOf(node.left);
      const right = node.right === null ? null : this.hashOf(node.right);
      node.hash.set(prefixParentHash(left, right, this.sha256));
    }
    node.dirty = false;
    return node.hash;
  }

  /**
   * The search proof for `key` (KEYTRANS §12.2): where the search ended and
   * the copath values in left-to-right order.
   */
  prove(key: Uint8Array): LookupProof {
    const copath: (Uint8Array | null)[] = [];
    let node = this.top;
    let depth = 0;
    if (node === null) return { result: 'nonInclusionParent', depth: 0, elements: [] };
    for (;;) {
      if (node.leaf) {
        const elements = orderCopath(key, copath);
        if (sameKey(node.key, key)) return { result: 'inclusion', depth, elements };
        return {
          result: 'nonInclusionLeaf',
          depth,
          leaf: { searchKey: node.key.slice(), commitment: node.commitment.slice() },
          elements,
        };
      }
      const bit = keyBit(key, depth);
      const next: TreeNode | null = bit === 0 ? node.left : node.right;
      const sibling: TreeNode | null = bit === 0 ? node.right : node.left;
      copath.push(sibling === null ? null : this.hashOf(sibling).slice());
      depth += 1;
      if (next === null) {
        return { result: 'nonInclusionParent', depth, elements: orderCopath(key, copath) };
      }
      node = next;
    }
  }
}

/**
 * KEYTRANS §12.2: "if a node is present in the root's left subtree, its
 * value is listed before any values from nodes that are in the root's right
 * subtree", absent nodes as zeros. On one search path that is: siblings on
 * the left (path bit 1) from the top down, then siblings on the right
 * (path bit 0) from the bottom up.
 */
export function orderCopath(key: Uint8Array, copath: readonly (Uint8Array | null)[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < copath.length; i++) {
    if (keyBit(key, i) === 1) out.push(copath[i] ?? new Uint8Array(HASH_BYTES));
  }
  for (let i = copath.length - 1; i >= 0; i--) {
    if (keyBit(key, i) === 0) out.push(copath[i] ?? new Uint8Array(HASH_BYTES));
  }
  return out;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < HASH_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}
