import { sha256 as engineSha256 } from '@glasshouse/crypto';

/** Size in bytes of every Merkle tree hash (SHA-256). */
export const HASH_SIZE = 32;

/**
 * A perfect subtree: the node at `level` covering leaves
 * [index·2^level, (index+1)·2^level). Level 0 is a leaf hash.
 */
export interface NodeId {
  readonly level: number;
  readonly index: bigint;
}

/** SHA-256 of `data` (node:crypto on Node, @noble in a browser: @glasshouse/crypto). */
export function sha256(data: Uint8Array): Uint8Array {
  return engineSha256(data);
}

/** RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 ‖ d(0)). */
export function hashLeaf(entry: Uint8Array): Uint8Array {
  const buf = new Uint8Array(entry.length + 1);
  buf[0] = 0x00;
  buf.set(entry, 1);
  return sha256(buf);
}

// The tree's hot path: one scratch buffer instead of an allocation per node.
// Safe because hashing is synchronous and the buffer never escapes.
const scratch = new Uint8Array(1 + 2 * HASH_SIZE);
scratch[0] = 0x01;

/**
 * RFC 9162 §2.1.1: SHA-256(0x01 ‖ left ‖ right). Both inputs must be
 * HASH_SIZE bytes; the proof verifiers check lengths before calling this.
 */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_SIZE);
  return sha256(scratch);
}

/** RFC 9162 §2.1.1: the hash of the empty tree is SHA-256 of the empty string. */
export function emptyRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}
