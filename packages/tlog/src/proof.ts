import { toBase64 } from '@glasshouse/crypto';
import { bytesEqual } from './bytes.js';
import { TlogError } from './errors.js';
import { HASH_SIZE, type NodeId, emptyRoot, hashChildren } from './hash.js';

/** Exclusive upper bound of indices and sizes: RFC 9162 §2.1 trees are indexed by uint64. */
export const MAX_TREE_SIZE = 1n << 64n;

/**
 * Returns the hashes of the given perfect subtrees, in the order asked. Storage
 * lives outside this package; proof generation only ever asks for nodes that
 * are complete at the tree size being proven.
 */
export type HashReader = (
  ids: readonly NodeId[],
) => readonly Uint8Array[] | Promise<readonly Uint8Array[]>;

/**
 * Which perfect subtrees a proof (or root) is made of. Each proof element is
 * the Merkle Tree Hash of a range of leaves; a range on the right edge of the
 * tree is not a perfect subtree, so it is listed as several perfect subtrees,
 * largest (leftmost) first, that fold right to left:
 * MTH = H(n0, H(n1, … H(nk-1, nk))).
 */
export interface ProofPlan {
  /** One entry per proof element, in proof order. */
  readonly elements: readonly (readonly NodeId[])[];
  /** `elements` flattened: exactly what a HashReader is asked for. */
  readonly nodes: readonly NodeId[];
}

// ---------------------------------------------------------------------------
// bigint helpers (JavaScript's `>>` on numbers is 32-bit, so sizes stay bigint)

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function popCount(x: bigint): number {
  let n = 0;
  for (const c of x.toString(2)) if (c === '1') n++;
  return n;
}

function isPowerOfTwo(x: bigint): boolean {
  return x > 0n && (x & (x - 1n)) === 0n;
}

/** RFC 9162 §2.1.1: k is the largest power of two smaller than n (n > 1). */
function splitPoint(n: bigint): bigint {
  return 1n << BigInt(bitLength(n - 1n) - 1);
}

// ---------------------------------------------------------------------------
// argument checks

function checkSize(name: string, size: bigint): void {
  // RFC 9162 §2.1: indices and sizes are unsigned 64-bit.
  if (size < 0n || size >= MAX_TREE_SIZE) {
    throw new TlogError('SIZE_OUT_OF_RANGE', `${name} ${size} is not a uint64`, {
      evidence: { [name]: size.toString() },
    });
  }
}

function checkHash(name: string, hash: Uint8Array): void {
  // RFC 9162 §2.1.1: every node hash is a SHA-256 output.
  if (hash.length !== HASH_SIZE) {
    throw new TlogError('HASH_WRONG_LENGTH', `${name} is ${hash.length} bytes, want ${HASH_SIZE}`, {
      evidence: { [name]: b64(hash) },
    });
  }
}

function checkProofHashes(proof: readonly Uint8Array[]): void {
  proof.forEach((p, i) => {
    checkHash(`proof[${i}]`, p);
  });
}

function b64(bytes: Uint8Array): string {
  return toBase64(bytes);
}

// ---------------------------------------------------------------------------
// planning: which perfect subtrees make up a proof

/**
 * The perfect subtrees covering leaves [start, end), largest first. The
 * recursions of RFC 9162 §2.1 only produce ranges whose start is aligned to
 * the largest of them, so taking the bits of the length high to low is exact.
 */
function rangeNodes(start: bigint, end: bigint): NodeId[] {
  const out: NodeId[] = [];
  let at = start;
  const len = end - start;
  for (let level = bitLength(len) - 1; level >= 0; level--) {
    const width = 1n << BigInt(level);
    if ((len & width) !== 0n) {
      out.push({ level, index: at >> BigInt(level) });
      at += width;
    }
  }
  return out;
}

function planOf(elements: NodeId[][]): ProofPlan {
  return { elements, nodes: elements.flat() };
}

/**
 * The subtrees of the inclusion proof of leaf `index` in a tree of `size`
 * leaves: RFC 9162 §2.1.3.1 PATH(m, D[n]), elements from the leaf upwards.
 */
export function inclusionProofPlan(index: bigint, size: bigint): ProofPlan {
  checkSize('size', size);
  checkIndex(index, size);
  const topDown: NodeId[][] = [];
  let start = 0n;
  let end = size;
  while (end - start > 1n) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      // RFC 9162 §2.1.3.1: PATH(m, D[0:k]) : MTH(D[k:n])
      topDown.push(rangeNodes(start + k, end));
      end = start + k;
    } else {
      // RFC 9162 §2.1.3.1: PATH(m - k, D[k:n]) : MTH(D[0:k])
      topDown.push(rangeNodes(start, start + k));
      start += k;
    }
  }
  return planOf(topDown.reverse());
}

/**
 * The subtrees of the consistency proof between trees of `size1` and `size2`
 * leaves: RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
 * size1 == size2 is the empty proof; size1 == 0 proves nothing and is refused.
 */
export function consistencyProofPlan(size1: bigint, size2: bigint): ProofPlan {
  checkSizes(size1, size2);
  const topDown: NodeId[][] = [];
  let start = 0n;
  let end = size2;
  let m = size1;
  let complete = true; // the `b` flag of SUBPROOF: is D[start:start+m] the old tree itself?
  for (;;) {
    const n = end - start;
    if (m === n) {
      // RFC 9162 §2.1.4.1: SUBPROOF(m, D[m], true) = {}; with false it is {MTH(D[m])}.
      if (!complete) topDown.push(rangeNodes(start, end));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      // RFC 9162 §2.1.4.1: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      topDown.push(rangeNodes(start + k, end));
      end = start + k;
    } else {
      // RFC 9162 §2.1.4.1: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      topDown.push(rangeNodes(start, start + k));
      start += k;
      m -= k;
      complete = false;
    }
  }
  return planOf(topDown.reverse());
}

/** The perfect subtrees whose right-to-left fold is the tree head (none for size 0). */
export function treeRootPlan(size: bigint): ProofPlan {
  checkSize('size', size);
  return planOf(size === 0n ? [] : [rangeNodes(0n, size)]);
}

// ---------------------------------------------------------------------------
// generation through a HashReader

async function foldPlan(plan: ProofPlan, read: HashReader): Promise<Uint8Array[]> {
  if (plan.nodes.length === 0) return [];
  const hashes = await read(plan.nodes);
  if (hashes.length !== plan.nodes.length) {
    throw new TlogError(
      'HASH_READER_MISMATCH',
      `hash reader returned ${hashes.length} hashes for ${plan.nodes.length} nodes`,
    );
  }
  let next = 0;
  return plan.elements.map((element) => {
    const group = hashes.slice(next, next + element.length);
    next += element.length;
    group.forEach((h, i) => {
      checkHash(`node[${next - element.length + i}]`, h);
    });
    // RFC 9162 §2.1.1: MTH(D[n]) = H(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])), so
    // an edge range folds from its smallest (rightmost) subtree upwards.
    let acc = group[group.length - 1];
    for (let i = group.length - 2; i >= 0; i--)
      acc = hashChildren(group[i] as Uint8Array, acc as Uint8Array);
    return acc as Uint8Array;
  });
}

/** RFC 9162 §2.1.3.1: the inclusion proof for leaf `index` in the tree of `size` leaves. */
export async function inclusionProof(
  index: bigint,
  size: bigint,
  read: HashReader,
): Promise<Uint8Array[]> {
  return foldPlan(inclusionProofPlan(index, size), read);
}

/** RFC 9162 §2.1.4.1: the consistency proof between trees of `size1` and `size2` leaves. */
export async function consistencyProof(
  size1: bigint,
  size2: bigint,
  read: HashReader,
): Promise<Uint8Array[]> {
  return foldPlan(consistencyProofPlan(size1, size2), read);
}

/** RFC 9162 §2.1.1: the Merkle Tree Hash of the first `size` leaves. */
export async function treeRoot(size: bigint, read: HashReader): Promise<Uint8Array> {
  const [root] = await foldPlan(treeRootPlan(size), read);
  return root ?? emptyRoot();
}

// ---------------------------------------------------------------------------
// verification

function checkIndex(index: bigint, size: bigint): void {
  // RFC 9162 §2.1.3.2 step 1: leaf_index must be below tree_size.
  if (index < 0n || index >= size) {
    throw new TlogError(
      'INDEX_OUT_OF_RANGE',
      `leaf index ${index} is not below tree size ${size}`,
      {
        evidence: { index: index.toString(), size: size.toString() },
      },
    );
  }
}

function checkSizes(size1: bigint, size2: bigint): void {
  checkSize('size1', size1);
  checkSize('size2', size2);
  // RFC 9162 §2.1.4: consistency runs from an older (smaller) tree to a newer one.
  if (size1 > size2) {
    throw new TlogError('SIZE_OUT_OF_RANGE', `size1 ${size1} is larger than size2 ${size2}`, {
      evidence: { size1: size1.toString(), size2: size2.toString() },
    });
  }
  // RFC 9162 §2.1.4.1 defines PROOF only for 0 < m; every tree extends the
  // empty one, so callers (e.g. a witness seeing `old 0`) decide that case.
  if (size1 === 0n) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'no consistency proof exists from the empty tree', {
      evidence: { size1: '0', size2: size2.toString() },
    });
  }
}

function wrongLength(what: string, got: number, want: number, evidence: Record<string, unknown>) {
  return new TlogError('PROOF_WRONG_LENGTH', `${what} has ${got} elements, want ${want}`, {
    evidence,
  });
}

/** Number of elements in the inclusion proof of `index` in a tree of `size` (index < size). */
function inclusionProofLength(index: bigint, size: bigint): number {
  // Below the level where index and the last leaf diverge every sibling is a
  // proof element; above it, one element per left sibling of the path.
  const inner = bitLength(index ^ (size - 1n));
  return inner + popCount(index >> BigInt(inner));
}

/**
 * RFC 9162 §2.1.3.2: recompute the root from a leaf hash and its inclusion
 * proof. Throws on malformed input; the caller compares the result.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: bigint,
  size: bigint,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkSize('size', size);
  checkIndex(index, size);
  checkHash('leafHash', leafHash);
  const want = inclusionProofLength(index, size);
  if (proof.length !== want) {
    throw wrongLength('inclusion proof', proof.length, want, {
      index: index.toString(),
      size: size.toString(),
      proof: proof.map(b64),
    });
  }
  checkProofHashes(proof);

  // RFC 9162 §2.1.3.2 steps 2–5.
  let fn = index;
  let sn = size - 1n;
  let r = leafHash;
  for (const p of proof) {
    if ((fn & 1n) === 1n || fn === sn) {
      r = hashChildren(p, r);
      // A right-edge node with no sibling at these levels is promoted unchanged.
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = hashChildren(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // The length check above guarantees RFC 9162 §2.1.3.2 step 6's sn == 0.
  return r;
}

/** RFC 9162 §2.1.3.2: throws unless `proof` shows leaf `index` is in the tree with `root`. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: bigint,
  size: bigint,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash('root', root);
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  // RFC 9162 §2.1.3.2 step 6: compare r against the root hash.
  if (!bytesEqual(computed, root)) {
    throw new TlogError('INCLUSION_PROOF_INVALID', 'inclusion proof does not lead to the root', {
      evidence: {
        index: index.toString(),
        size: size.toString(),
        leafHash: b64(leafHash),
        proof: proof.map(b64),
        root: b64(root),
        computedRoot: b64(computed),
      },
    });
  }
}

/** Number of elements in the consistency proof for 0 < size1 < size2 (RFC 9162 §2.1.4.2). */
function consistencyProofLength(size1: bigint, size2: bigint): number {
  // Dry run of the verification loop: its shape depends on the sizes only.
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let steps = 0;
  while (sn !== 0n) {
    steps++;
    if ((fn & 1n) === 1n || fn === sn) {
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // The first path element is the old root itself when size1 is a power of two.
  return isPowerOfTwo(size1) ? steps : steps + 1;
}

/**
 * RFC 9162 §2.1.4.2: check `proof` against the old root and return the new
 * root it implies. For size1 == size2 the proof must be empty and root1 is
 * returned as is.
 */
export function rootFromConsistencyProof(
  size1: bigint,
  size2: bigint,
  root1: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkSizes(size1, size2);
  const evidence = (): Record<string, unknown> => ({
    size1: size1.toString(),
    size2: size2.toString(),
    root1: b64(root1),
    proof: proof.map(b64),
  });
  if (size1 === size2) {
    // RFC 9162 §2.1.4.1: PROOF(n, D[n]) is empty; the trees are equal iff the roots are.
    // Root lengths are deliberately not checked here: the RFC 6962 vectors
    // accept equal sizes with equal roots of any length.
    if (proof.length !== 0) throw wrongLength('consistency proof', proof.length, 0, evidence());
    return root1;
  }
  checkHash('root1', root1);
  const want = consistencyProofLength(size1, size2);
  if (proof.length !== want) {
    throw wrongLength('consistency proof', proof.length, want, evidence());
  }
  checkProofHashes(proof);

  // RFC 9162 §2.1.4.2 step 2: a power-of-two old tree is itself a node of the new one.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // RFC 9162 §2.1.4.2 steps 3–4.
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // RFC 9162 §2.1.4.2 step 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // RFC 9162 §2.1.4.2 step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // RFC 9162 §2.1.4.2 step 7 (sn == 0 holds by the length check above).
  if (!bytesEqual(fr, root1)) {
    throw new TlogError('CONSISTENCY_PROOF_INVALID', 'consistency proof does not lead to root1', {
      evidence: { ...evidence(), computedRoot1: b64(fr) },
    });
  }
  return sr;
}

/** RFC 9162 §2.1.4.2: throws unless `proof` shows the tree (size2, root2) extends (size1, root1). */
export function verifyConsistency(
  size1: bigint,
  size2: bigint,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const computed = rootFromConsistencyProof(size1, size2, root1, proof);
  // RFC 9162 §2.1.4.2 step 7: sr must equal second_hash.
  if (!bytesEqual(computed, root2)) {
    throw new TlogError('CONSISTENCY_PROOF_INVALID', 'consistency proof does not lead to root2', {
      evidence: {
        size1: size1.toString(),
        size2: size2.toString(),
        root1: b64(root1),
        root2: b64(root2),
        proof: proof.map(b64),
        computedRoot2: b64(computed),
      },
    });
  }
}
