/**
 * The hashes of the verifiable index ("map sandwich": transparency-dev
 * incubator vindex/README.md; KEYTRANS = draft-ietf-keytrans-protocol-05).
 *
 * - Search key: SHA-256 of the customer pseudonym's UTF-8 bytes. KEYTRANS
 *   §11.7 uses a VRF output here; the pseudonym is already public in the
 *   access log, so a VRF would hide nothing (vindex "Constructing" 2.2:
 *   "the raw domains are not output, but are hashed").
 * - Value: the customer's list of access-log indices, committed as a
 *   per-customer log head: the RFC 6962 §2.1 Merkle tree hash of leaves
 *   `uint64(index)` (big-endian), with its size — the "Merkle tree of these
 *   values" that vindex "Turning Log into Efficient Map" names as the
 *   alternative to one hash over the block, chosen because it updates in
 *   O(log n) per appended index instead of rehashing the whole list.
 *   commitment = SHA-256(uint64(size) ‖ MTH(list)).
 * - Prefix-tree leaf (KEYTRANS §11.9): SHA-256(0x02 ‖ searchKey ‖ commitment).
 * - Prefix-tree parent (KEYTRANS §11.9): SHA-256(0x03 ‖ left ‖ right), an
 *   absent child counting as 32 zero bytes.
 */
import { nobleSha256, utf8, writeUint64, type HashOptions, type Sha256 } from './bytes.js';
import { checkIndices } from './indices.js';

export const HASH_BYTES = 32;

// Hash inputs are built in reused buffers: every hash here is one
// synchronous one-shot call that does not keep its input, and the index
// hashes millions of them (fewer allocations, less GC).
const SCRATCH_9 = new Uint8Array(9);
const SCRATCH_40 = new Uint8Array(40);
const SCRATCH_65 = new Uint8Array(65);

/** Search key of a customer: SHA-256(UTF-8 pseudonym). */
export function searchKey(customer: string, sha256: Sha256): Uint8Array {
  return sha256(utf8(customer));
}

/** RFC 6962 §2.1: leaf hash of one list entry, MTH({d}) = SHA-256(0x00 ‖ d), d = uint64(index). */
export function listLeafHash(index: number, sha256: Sha256): Uint8Array {
  const buf = SCRATCH_9;
  writeUint64(buf, 1, index);
  return sha256(buf);
}

/** RFC 6962 §2.1: interior node SHA-256(0x01 ‖ left ‖ right). */
export function listNodeHash(left: Uint8Array, right: Uint8Array, sha256: Sha256): Uint8Array {
  const buf = SCRATCH_65;
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha256(buf);
}

/** The commitment a prefix-tree leaf carries: SHA-256(uint64(size) ‖ root). */
export function listCommitment(size: number, root: Uint8Array, sha256: Sha256): Uint8Array {
  const buf = SCRATCH_40;
  writeUint64(buf, 0, size);
  buf.set(root, 8);
  return sha256(buf);
}

/** KEYTRANS §11.9: leaf.value = Hash(0x02 ‖ search key ‖ commitment). */
export function prefixLeafHash(
  key: Uint8Array,
  commitment: Uint8Array,
  sha256: Sha256,
): Uint8Array {
  const buf = SCRATCH_65;
  buf[0] = 0x02;
  buf.set(key, 1);
  buf.set(commitment, 33);
  return sha256(buf);
}

/** KEYTRANS §11.9: parent.value = Hash(0x03 ‖ left.value ‖ right.value), absent = zeros. */
export function prefixParentHash(
  left: Uint8Array | null,
  right: Uint8Array | null,
  sha256: Sha256,
): Uint8Array {
  const buf = SCRATCH_65;
  buf[0] = 0x03;
  if (left === null) buf.fill(0, 1, 33);
  else buf.set(left, 1);
  if (right === null) buf.fill(0, 33, 65);
  else buf.set(right, 33);
  return sha256(buf);
}

/** Bit `i` of a search key, most significant bit of byte 0 first (KEYTRANS §3.3). */
export function keyBit(key: Uint8Array, i: number): number {
  return ((key[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
}

/**
 * A growing RFC 6962 tree kept as its "compact range" peaks (the perfect
 * subtrees of the binary decomposition of size): append is amortised O(1)
 * hashes, the root O(log size).
 */
export class CompactList {
  private readonly peaks: Uint8Array[] = [];
  private count = 0;

  constructor(private readonly sha256: Sha256) {}

  /**
   * A list restored from its saved state (`size` and `peaks`, largest
   * first): one peak per 1 bit of `size` (RFC 9162 §2.1 decomposition).
   */
  static restore(sha256: Sha256, size: number, peaks: readonly Uint8Array[]): CompactList {
    if (!Number.isSafeInteger(size) || size < 0 || popcount(size) !== peaks.length) {
      throw new TypeError('compact list: the peaks do not match the size');
    }
    if (peaks.some((p) => p.length !== HASH_BYTES)) {
      throw new TypeError('compact list: peaks are 32-byte hashes');
    }
    const list = new CompactList(sha256);
    for (const p of peaks) list.peaks.push(p.slice());
    list.count = size;
    return list;
  }

  /** The peaks, largest first (copies): with `size`, everything `restore` needs. */
  state(): Uint8Array[] {
    return this.peaks.map((p) => p.slice());
  }

  get size(): number {
    return this.count;
  }

  append(index: number): void {
    let hash = listLeafHash(index, this.sha256);
    // Each trailing 1 bit of the old size is a peak that merges with the new one.
    for (let n = this.count; (n & 1) === 1; n = Math.floor(n / 2)) {
      hash = listNodeHash(this.peaks.pop() as Uint8Array, hash, this.sha256);
    }
    this.peaks.push(hash);
    this.count += 1;
  }

  /** RFC 6962 §2.1 MTH of the list; SHA-256 of the empty string for size 0. */
  root(): Uint8Array {
    let i = this.peaks.length - 1;
    if (i < 0) return this.sha256(new Uint8Array(0));
    let hash = this.peaks[i] as Uint8Array;
    for (i -= 1; i >= 0; i--) hash = listNodeHash(this.peaks[i] as Uint8Array, hash, this.sha256);
    return hash;
  }

  commitment(): Uint8Array {
    return listCommitment(this.count, this.root(), this.sha256);
  }
}

function popcount(n: number): number {
  let bits = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) bits += v % 2;
  return bits;
}

/** The commitment of a whole list (what a customer recomputes from its indices). */
export function commitmentOf(indices: readonly number[], sha256: Sha256): Uint8Array {
  const list = new CompactList(sha256);
  for (const index of indices) list.append(index);
  return list.commitment();
}

/** The search key of a customer in the index (SHA-256 of the pseudonym). */
export function customerSearchKey(customer: string, options: HashOptions = {}): Uint8Array {
  return searchKey(customer, options.sha256 ?? nobleSha256);
}

/** The commitment the index holds for a list of access-log indices (ascending). */
export function indexListCommitment(
  indices: readonly bigint[],
  options: HashOptions = {},
): Uint8Array {
  return commitmentOf(checkIndices(indices, undefined), options.sha256 ?? nobleSha256);
}
