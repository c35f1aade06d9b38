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

interface LeafNode {
  readonly leaf: true;
  readonly key: Uint8Array;
  commitment: Uint8Array;
  hash: Uint8Array | null;
}

interface ParentNode {
  readonly leaf: false;
  left: TreeNode | null;
  right: TreeNode | null;
  hash: Uint8Array | null;
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

  /** Inserts `key` or replaces its commitment (KEYTRANS §3.3 "New key-value pairs are added…"). */
  set(key: Uint8Array, commitment: Uint8Array): void {
    if (key.length !== HASH_BYTES || commitment.length !== HASH_BYTES) {
      throw new TypeError('prefix tree: keys and commitments are 32 bytes');
    }
    if (this.top === null) {
      this.top = { leaf: true, key, commitment, hash: null };
      this.count = 1;
      return;
    }
    let parent: ParentNode | null = null;
    let node: TreeNode = this.top;
    let depth = 0;
    for (;;) {
      if (node.leaf) break;
      node.hash = null;
      const bit = keyBit(key, depth);
      const child: TreeNode | null = bit === 0 ? node.left : node.right;
      if (child === null) {
        // The search ended at a parent lacking the child: add the leaf there.
        const fresh: LeafNode = { leaf: true, key, commitment, hash: null };
        if (bit === 0) node.left = fresh;
        else node.right = fresh;
        this.count += 1;
        return;
      }
      parent = node;
      node = child;
      depth += 1;
    }
    if (sameKey(node.key, key)) {
      node.commitment = commitment;
      node.hash = null;
      return;
    }
    // The search ended at another key's leaf: add parents until the first
    // bit where the two keys differ.
    const other = node;
    const fresh: LeafNode = { leaf: true, key, commitment, hash: null };
    const head: ParentNode = { leaf: false, left: null, right: null, hash: null };
    let at = head;
    let d = depth;
    while (keyBit(key, d) === keyBit(other.key, d)) {
      if (d + 1 >= MAX_DEPTH) throw new RangeError('prefix tree: keys share 255 bits');
      const next: ParentNode = { leaf: false, left: null, right: null, hash: null };
      if (keyBit(key, d) === 0) at.left = next;
      else at.right = next;
      at = next;
      d += 1;
    }
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
  }

  /** The root value; 32 zero bytes for the empty tree (the stand-in of an absent node, §11.9). */
  root(): Uint8Array {
    return this.top === null ? ZERO_HASH : this.hashOf(this.top);
  }

  private hashOf(node: TreeNode): Uint8Array {
    if (node.hash !== null) return node.hash;
    node.hash = node.leaf
      ? prefixLeafHash(node.key, node.commitment, this.sha256)
      : prefixParentHash(
          node.left === null ? null : this.hashOf(node.left),
          node.right === null ? null : this.hashOf(node.right),
          this.sha256,
        );
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
          leaf: { searchKey: node.key, commitment: node.commitment },
          elements,
        };
      }
      const bit = keyBit(key, depth);
      const next: TreeNode | null = bit === 0 ? node.left : node.right;
      const sibling: TreeNode | null = bit === 0 ? node.right : node.left;
      copath.push(sibling === null ? null : this.hashOf(sibling));
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
    if (keyBit(key, i) === 1) out.push(copath[i] ?? ZERO_HASH);
  }
  for (let i = copath.length - 1; i >= 0; i--) {
    if (keyBit(key, i) === 0) out.push(copath[i] ?? ZERO_HASH);
  }
  return out;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < HASH_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}
