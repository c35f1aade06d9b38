import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TlogError } from '../src/errors.js';
import type { NodeId } from '../src/hash.js';
import {
  type HashReader,
  consistencyProof,
  consistencyProofPlan,
  inclusionProof,
  inclusionProofPlan,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '../src/proof.js';
import { codeOf } from './codes.js';

// ---------------------------------------------------------------------------
// A literal RFC 6962 §2.1 reference, on its own SHA-256 calls, over the
// leaves D[lo:hi] of one fixed list of entries.

const MAX_LEAVES = 2048;

function sha(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);
const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => sha(NODE, l, r);

const entries = Array.from({ length: MAX_LEAVES }, (_, i) =>
  new TextEncoder().encode(`entry ${i}`),
);

/** RFC 6962 §2.1: k is the largest power of two smaller than n. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const mthMemo = new Map<number, Uint8Array>();
/** RFC 6962 §2.1: MTH(D[lo:hi]). */
function mth(lo: number, hi: number): Uint8Array {
  const key = lo * (MAX_LEAVES + 1) + hi;
  let h = mthMemo.get(key);
  if (h !== undefined) return h;
  const n = hi - lo;
  if (n === 0) h = sha();
  else if (n === 1) h = sha(LEAF, entries[lo] as Uint8Array);
  else {
    const k = split(n);
    h = nodeHash(mth(lo, lo + k), mth(lo + k, hi));
  }
  mthMemo.set(key, h);
  return h;
}

/** RFC 6962 §2.1.1: PATH(m, D[lo:hi]), m relative to lo. */
function path(m: number, lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = split(n);
  if (m < k) return [...path(m, lo, lo + k), mth(lo + k, hi)];
  return [...path(m - k, lo + k, hi), mth(lo, lo + k)];
}

/** RFC 6962 §2.1.2: PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
function proof(m: number, n: number): Uint8Array[] {
  return subproof(m, 0, n, true);
}
function subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [mth(lo, hi)];
  const k = split(n);
  if (m <= k) return [...subproof(m, lo, lo + k, b), mth(lo + k, hi)];
  return [...subproof(m - k, lo + k, hi, false), mth(lo, lo + k)];
}

// Reference verifiers that undo PATH and SUBPROOF recursively (no bit
// tricks), for claims with sizes beyond the leaves we have: bigint sizes.

function splitBig(n: bigint): bigint {
  let k = 1n;
  while (k * 2n < n) k *= 2n;
  return k;
}
const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

function refPathLength(m: bigint, n: bigint): number {
  if (n === 1n) return 0;
  const k = splitBig(n);
  return 1 + (m < k ? refPathLength(m, k) : refPathLength(m - k, n - k));
}

function refVerifyInclusion(
  leaf: Uint8Array,
  m: bigint,
  n: bigint,
  els: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const undo = (m: bigint, n: bigint, els: readonly Uint8Array[]): Uint8Array | undefined => {
    if (n === 1n) return els.length === 0 ? leaf : undefined;
    const last = els[els.length - 1];
    if (last === undefined) return undefined;
    const k = splitBig(n);
    const rest = els.slice(0, -1);
    if (m < k) {
      const sub = undo(m, k, rest);
      return sub && nodeHash(sub, last);
    }
    const sub = undo(m - k, n - k, rest);
    return sub && nodeHash(last, sub);
  };
  if (m < 0n || m >= n) return false;
  const r = undo(m, n, els);
  return r !== undefined && eq(r, root);
}

function refProofLength(m: bigint, n: bigint, b = true): number {
  if (m === n) return b ? 0 : 1;
  const k = splitBig(n);
  return 1 + (m <= k ? refProofLength(m, k, b) : refProofLength(m - k, n - k, false));
}

function refVerifyConsistency(
  m: bigint,
  n: bigint,
  els: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  // As in the shared vectors: nothing is proven from the empty tree.
  if (m <= 0n || m > n) return false;
  if (m === n) return els.length === 0 && eq(root1, root2);
  type Pair = { old: Uint8Array; new: Uint8Array } | undefined;
  const undo = (m: bigint, n: bigint, b: boolean, els: readonly Uint8Array[]): Pair => {
    if (m === n) {
      if (b) return els.length === 0 ? { old: root1, new: root1 } : undefined;
      const only = els[0];
      return els.length === 1 && only !== undefined ? { old: only, new: only } : undefined;
    }
    const last = els[els.length - 1];
    if (last === undefined) return undefined;
    const k = splitBig(n);
    const rest = els.slice(0, -1);
    if (m <= k) {
      const sub = undo(m, k, b, rest);
      return sub && { old: sub.old, new: nodeHash(sub.new, last) };
    }
    const sub = undo(m - k, n - k, false, rest);
    return sub && { old: nodeHash(last, sub.old), new: nodeHash(last, sub.new) };
  };
  const r = undo(m, n, true, els);
  return r !== undefined && eq(r.old, root1) && eq(r.new, root2);
}

// ---------------------------------------------------------------------------
// helpers

/** A HashReader over the in-memory leaves that records requests for incomplete nodes. */
function memoryReader(size: number): {
  read: (ids: readonly NodeId[]) => Uint8Array[];
  bad: NodeId[];
} {
  const bad: NodeId[] = [];
  const read = (ids: readonly NodeId[]): Uint8Array[] =>
    ids.map((id) => {
      const lo = Number(id.index) * 2 ** id.level;
      const hi = lo + 2 ** id.level;
      if (hi > size) bad.push(id);
      return mth(lo, Math.min(hi, size));
    });
  return { read, bad };
}

const hex = (bs: readonly Uint8Array[]): string[] => bs.map((b) => Buffer.from(b).toString('hex'));

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(b);
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

const sizeAndIndex = fc
  .integer({ min: 1, max: 2000 })
  .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 })));
const twoSizes = fc
  .integer({ min: 1, max: 2000 })
  .chain((n) => fc.tuple(fc.integer({ min: 1, max: n }), fc.constant(n)));

// ---------------------------------------------------------------------------

describe('tree heads', () => {
  it('treeRoot equals MTH for every size up to 2,048', async () => {
    for (let n = 0; n <= MAX_LEAVES; n++) {
      const { read, bad } = memoryReader(n);
      expect(hex([await treeRoot(BigInt(n), read)])).toEqual(hex([mth(0, n)]));
      expect(bad).toEqual([]);
    }
  });
});

describe('inclusion proofs', () => {
  it('match PATH and verify for every (index, size) with size ≤ 64', async () => {
    for (let n = 1; n <= 64; n++) {
      for (let m = 0; m < n; m++) {
        const { read, bad } = memoryReader(n);
        const got = await inclusionProof(BigInt(m), BigInt(n), read);
        expect(hex(got)).toEqual(hex(path(m, 0, n)));
        expect(bad).toEqual([]);
        verifyInclusion(mth(m, m + 1), BigInt(m), BigInt(n), got, mth(0, n));
      }
    }
  });

  it('match PATH and verify for random (index, size) up to 2,000', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, async ([n, m]) => {
        const { read, bad } = memoryReader(n);
        const got = await inclusionProof(BigInt(m), BigInt(n), read);
        expect(hex(got)).toEqual(hex(path(m, 0, n)));
        expect(bad).toEqual([]);
        expect(inclusionProofPlan(BigInt(m), BigInt(n)).elements).toHaveLength(got.length);
        const root = rootFromInclusionProof(mth(m, m + 1), BigInt(m), BigInt(n), got);
        expect(hex([root])).toEqual(hex([mth(0, n)]));
      }),
      { numRuns: 300 },
    );
  });

  it('reject any single-bit change of the leaf, a proof element or the root', () => {
    fc.assert(
      fc.property(sizeAndIndex, fc.nat(), fc.nat(255), ([n, m], which, bit) => {
        const els = path(m, 0, n);
        const leaf = mth(m, m + 1);
        const root = mth(0, n);
        const target = which % (els.length + 2);
        const run = (): void => {
          if (target === els.length)
            verifyInclusion(flipBit(leaf, bit), BigInt(m), BigInt(n), els, root);
          else if (target === els.length + 1)
            verifyInclusion(leaf, BigInt(m), BigInt(n), els, flipBit(root, bit));
          else {
            const bent = els.map((e, i) => (i === target ? flipBit(e, bit) : e));
            verifyInclusion(leaf, BigInt(m), BigInt(n), bent, root);
          }
        };
        expect(codeOf(run)).toBe('INCLUSION_PROOF_INVALID');
      }),
      { numRuns: 400 },
    );
  });

  it('reject any single-bit change of the index', () => {
    // Another position below the size has another left/right pattern (or
    // proof length), so the same proof cannot fold to the same root.
    fc.assert(
      fc.property(sizeAndIndex, fc.nat(63), ([n, m], bit) => {
        const els = path(m, 0, n);
        const m2 = BigInt(m) ^ (1n << BigInt(bit));
        const code = codeOf(() => {
          verifyInclusion(mth(m, m + 1), m2, BigInt(n), els, mth(0, n));
        });
        if (m2 >= BigInt(n)) expect(code).toBe('INDEX_OUT_OF_RANGE');
        else if (refPathLength(m2, BigInt(n)) !== els.length)
          expect(code).toBe('PROOF_WRONG_LENGTH');
        else expect(code).toBe('INCLUSION_PROOF_INVALID');
      }),
      { numRuns: 400 },
    );
  });

  it('treat a single-bit change of the size exactly as the recursive PATH verifier does', () => {
    // The root does not commit to the size: a size with the same proof shape
    // for this index is accepted (see the explicit example below).
    fc.assert(
      fc.property(sizeAndIndex, fc.nat(63), ([n, m], bit) => {
        const els = path(m, 0, n);
        const leaf = mth(m, m + 1);
        const root = mth(0, n);
        const n2 = BigInt(n) ^ (1n << BigInt(bit));
        const code = codeOf(() => {
          verifyInclusion(leaf, BigInt(m), n2, els, root);
        });
        if (refVerifyInclusion(leaf, BigInt(m), n2, els, root)) expect(code).toBe('accepted');
        else if (BigInt(m) >= n2) expect(code).toBe('INDEX_OUT_OF_RANGE');
        else if (refPathLength(BigInt(m), n2) !== els.length)
          expect(code).toBe('PROOF_WRONG_LENGTH');
        else expect(code).toBe('INCLUSION_PROOF_INVALID');
      }),
      { numRuns: 400 },
    );
  });

  it('do not bind the tree size: leaf 0 of a 6-leaf tree also verifies as a 7-leaf claim', () => {
    // Callers must take the size from the signed checkpoint, never from the proof's sender.
    const els = path(0, 0, 6);
    verifyInclusion(mth(0, 1), 0n, 7n, els, mth(0, 6));
    expect(refVerifyInclusion(mth(0, 1), 0n, 7n, els, mth(0, 6))).toBe(true);
  });

  it('reject a proof with an element of the wrong length', () => {
    const els = path(3, 0, 10);
    const bent = els.map((e, i) => (i === 1 ? e.subarray(0, 31) : e));
    expect(
      codeOf(() => {
        verifyInclusion(mth(3, 4), 3n, 10n, bent, mth(0, 10));
      }),
    ).toBe('HASH_WRONG_LENGTH');
  });

  it('reject sizes and indices outside uint64', () => {
    expect(codeOf(() => rootFromInclusionProof(mth(0, 1), 0n, 1n << 64n, []))).toBe(
      'SIZE_OUT_OF_RANGE',
    );
    expect(codeOf(() => rootFromInclusionProof(mth(0, 1), -1n, 4n, []))).toBe('INDEX_OUT_OF_RANGE');
  });

  it('carry the claim as evidence', () => {
    let caught: unknown;
    try {
      verifyInclusion(mth(1, 2), 1n, 3n, path(1, 0, 3), mth(0, 2));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TlogError);
    const err = caught as TlogError;
    expect(err.code).toBe('INCLUSION_PROOF_INVALID');
    expect(err.evidence).toMatchObject({ index: '1', size: '3' });
    expect(err.evidence?.computedRoot).toBe(Buffer.from(mth(0, 3)).toString('base64'));
  });
});

describe('consistency proofs', () => {
  it('match PROOF and verify for every 0 < size1 ≤ size2 ≤ 64', async () => {
    for (let n = 1; n <= 64; n++) {
      for (let m = 1; m <= n; m++) {
        const { read, bad } = memoryReader(n);
        const got = await consistencyProof(BigInt(m), BigInt(n), read);
        expect(hex(got)).toEqual(hex(proof(m, n)));
        expect(bad).toEqual([]);
        verifyConsistency(BigInt(m), BigInt(n), got, mth(0, m), mth(0, n));
      }
    }
  });

  it('match PROOF and verify for random sizes up to 2,000', async () => {
    await fc.assert(
      fc.asyncProperty(twoSizes, async ([m, n]) => {
        const { read, bad } = memoryReader(n);
        const got = await consistencyProof(BigInt(m), BigInt(n), read);
        expect(hex(got)).toEqual(hex(proof(m, n)));
        expect(bad).toEqual([]);
        expect(consistencyProofPlan(BigInt(m), BigInt(n)).elements).toHaveLength(got.length);
        const root2 = rootFromConsistencyProof(BigInt(m), BigInt(n), mth(0, m), got);
        expect(hex([root2])).toEqual(hex([mth(0, n)]));
      }),
      { numRuns: 300 },
    );
  });

  it('reject any single-bit change of a proof element or either root', () => {
    fc.assert(
      fc.property(twoSizes, fc.nat(), fc.nat(255), ([m, n], which, bit) => {
        const els = proof(m, n);
        const root1 = mth(0, m);
        const root2 = mth(0, n);
        const target = which % (els.length + 2);
        const run = (): void => {
          if (target === els.length)
            verifyConsistency(BigInt(m), BigInt(n), els, flipBit(root1, bit), root2);
          else if (target === els.length + 1)
            verifyConsistency(BigInt(m), BigInt(n), els, root1, flipBit(root2, bit));
          else {
            const bent = els.map((e, i) => (i === target ? flipBit(e, bit) : e));
            verifyConsistency(BigInt(m), BigInt(n), bent, root1, root2);
          }
        };
        expect(codeOf(run)).toBe('CONSISTENCY_PROOF_INVALID');
      }),
      { numRuns: 400 },
    );
  });

  it('treat a single-bit change of either size exactly as the recursive SUBPROOF verifier does', () => {
    fc.assert(
      fc.property(twoSizes, fc.boolean(), fc.nat(63), ([m, n], first, bit) => {
        const els = proof(m, n);
        const root1 = mth(0, m);
        const root2 = mth(0, n);
        const flip = 1n << BigInt(bit);
        const m2 = first ? BigInt(m) ^ flip : BigInt(m);
        const n2 = first ? BigInt(n) : BigInt(n) ^ flip;
        const code = codeOf(() => {
          verifyConsistency(m2, n2, els, root1, root2);
        });
        if (refVerifyConsistency(m2, n2, els, root1, root2)) expect(code).toBe('accepted');
        else if (m2 === 0n || m2 > n2) expect(code).toBe('SIZE_OUT_OF_RANGE');
        else if (refProofLength(m2, n2) !== els.length) expect(code).toBe('PROOF_WRONG_LENGTH');
        else expect(code).toBe('CONSISTENCY_PROOF_INVALID');
      }),
      { numRuns: 400 },
    );
  });

  it('refuse size1 = 0 and size1 > size2, and need an empty proof for equal sizes', () => {
    expect(
      codeOf(() => {
        verifyConsistency(0n, 5n, [], mth(0, 0), mth(0, 5));
      }),
    ).toBe('SIZE_OUT_OF_RANGE');
    expect(
      codeOf(() => {
        verifyConsistency(6n, 5n, [], mth(0, 6), mth(0, 5));
      }),
    ).toBe('SIZE_OUT_OF_RANGE');
    expect(
      codeOf(() => {
        verifyConsistency(5n, 5n, [mth(0, 1)], mth(0, 5), mth(0, 5));
      }),
    ).toBe('PROOF_WRONG_LENGTH');
    expect(
      codeOf(() => {
        verifyConsistency(5n, 5n, [], mth(0, 5), mth(0, 4));
      }),
    ).toBe('CONSISTENCY_PROOF_INVALID');
    verifyConsistency(5n, 5n, [], mth(0, 5), mth(0, 5));
  });
});

describe('generation through a HashReader', () => {
  it('accepts an asynchronous reader and asks it once per proof', async () => {
    const calls: number[] = [];
    const { read } = memoryReader(1000);
    const slow: HashReader = async (ids) => {
      calls.push(ids.length);
      await Promise.resolve();
      return read(ids);
    };
    const got = await consistencyProof(300n, 1000n, slow);
    expect(hex(got)).toEqual(hex(proof(300, 1000)));
    expect(calls).toHaveLength(1);
  });

  it('rejects a reader that returns the wrong number of hashes or a short hash', async () => {
    const { read } = memoryReader(100);
    const short: HashReader = (ids) => read(ids).slice(1);
    await expect(inclusionProof(5n, 100n, short)).rejects.toMatchObject({
      code: 'HASH_READER_MISMATCH',
    });
    const truncated: HashReader = (ids) => read(ids).map((h) => h.subarray(1));
    await expect(inclusionProof(5n, 100n, truncated)).rejects.toMatchObject({
      code: 'HASH_WRONG_LENGTH',
    });
  });

  it('plans right-edge elements as perfect subtrees folded right to left', () => {
    // Leaf 0 of 7: siblings are leaf 1, node [2,4) and the edge range [4,7) = [4,6) + [6,7).
    const plan = inclusionProofPlan(0n, 7n);
    expect(plan.elements).toEqual([
      [{ level: 0, index: 1n }],
      [{ level: 1, index: 1n }],
      [
        { level: 1, index: 2n },
        { level: 0, index: 6n },
      ],
    ]);
    expect(plan.nodes).toHaveLength(4);
  });

  it('plans proofs for sizes near 2^64 with bigint arithmetic', () => {
    const size = (1n << 64n) - 1n;
    const plan = inclusionProofPlan(size - 1n, size);
    // 63 left siblings, one per set bit of the index below the top.
    expect(plan.elements).toHaveLength(63);
    for (const node of plan.nodes)
      expect((node.index + 1n) << BigInt(node.level)).toBeLessThanOrEqual(size);
    expect(consistencyProofPlan(1n << 63n, size).elements.length).toBeGreaterThan(0);
  });
});
