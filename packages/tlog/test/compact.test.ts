import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type CompletedNode, CompactRange } from '../src/compact.js';
import { codeOf } from './codes.js';

// A plain RFC 6962 §2.1 MTH on its own SHA-256 calls.
function sha(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
const leafHash = (i: number): Uint8Array =>
  sha(Uint8Array.of(0), new TextEncoder().encode(`entry ${i}`));
const LEAVES = Array.from({ length: 70_000 }, (_, i) => leafHash(i));

const memo = new Map<string, Uint8Array>();
function mth(lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return sha();
  if (n === 1) return LEAVES[lo] as Uint8Array;
  const key = `${lo}:${hi}`;
  const cached = memo.get(key);
  if (cached !== undefined) return cached;
  let k = 1;
  while (k * 2 < n) k *= 2;
  const h = sha(Uint8Array.of(1), mth(lo, lo + k), mth(lo + k, hi));
  // Only memoise what the many small-size checks reuse; big trees are one-offs.
  if (n <= 2048) memo.set(key, h);
  return h;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('CompactRange', () => {
  it('starts as the empty tree', () => {
    const tree = new CompactRange();
    expect(tree.size).toBe(0n);
    expect(hex(tree.root())).toBe(hex(sha()));
    expect(tree.state()).toEqual({ size: 0n, hashes: [] });
  });

  it('has the RFC 6962 root at every size up to 1,100', () => {
    const tree = new CompactRange();
    for (let n = 1; n <= 1100; n++) {
      tree.append(LEAVES[n - 1] as Uint8Array);
      expect(tree.size).toBe(BigInt(n));
      expect(hex(tree.root())).toBe(hex(mth(0, n)));
    }
  });

  it('has the RFC 6962 root at a few large sizes', () => {
    const tree = new CompactRange();
    let n = 0;
    for (const target of [65535, 65536, 65537, 70_000]) {
      while (n < target) tree.append(LEAVES[n++] as Uint8Array);
      expect(hex(tree.root())).toBe(hex(mth(0, n)));
    }
  });

  it('reports exactly the perfect subtrees each append completes', () => {
    const tree = new CompactRange();
    const seen = new Set<string>();
    for (let i = 0; i < 1100; i++) {
      const got = tree.append(LEAVES[i] as Uint8Array);
      // Leaf i completes the subtrees of 2^l leaves that end at i: every l with 2^l | i+1.
      const want: CompletedNode[] = [];
      for (let l = 0; (i + 1) % 2 ** l === 0; l++) {
        const j = (i + 1) / 2 ** l - 1;
        want.push({ level: l, index: BigInt(j), hash: mth(j * 2 ** l, (j + 1) * 2 ** l) });
      }
      expect(got.map((c) => [c.level, c.index, hex(c.hash)])).toEqual(
        want.map((c) => [c.level, c.index, hex(c.hash)]),
      );
      for (const c of got) seen.add(`${c.level}/${c.index}`);
    }
    // Together: every perfect subtree of the 1,100-leaf tree, once.
    let perfect = 0;
    for (let l = 0; 2 ** l <= 1100; l++) perfect += Math.floor(1100 / 2 ** l);
    expect(seen.size).toBe(perfect);
  });

  it('appendMany equals appending one by one', () => {
    const a = new CompactRange();
    const b = new CompactRange();
    const one = LEAVES.slice(0, 300).flatMap((l) => a.append(l));
    const many = b.appendMany(LEAVES.slice(0, 300));
    expect(many.map((c) => [c.level, c.index])).toEqual(one.map((c) => [c.level, c.index]));
    expect(hex(b.root())).toBe(hex(a.root()));
  });

  it('resumes from a persisted state at any size', () => {
    const tree = new CompactRange();
    for (let n = 0; n < 600; n++) {
      const state = tree.state();
      expect(state.size).toBe(BigInt(n));
      expect(state.hashes).toHaveLength(n.toString(2).replaceAll('0', '').length);
      const resumed = new CompactRange(state);
      const next = LEAVES[n] as Uint8Array;
      const fromResumed = resumed.append(next);
      const fromTree = tree.append(next);
      expect(fromResumed.map((c) => hex(c.hash))).toEqual(fromTree.map((c) => hex(c.hash)));
      expect(hex(resumed.root())).toBe(hex(mth(0, n + 1)));
    }
  });

  it('does not let a state snapshot alias the live tree', () => {
    const tree = new CompactRange();
    tree.appendMany(LEAVES.slice(0, 5));
    const state = tree.state();
    tree.appendMany(LEAVES.slice(5, 8));
    expect(hex(new CompactRange(state).root())).toBe(hex(mth(0, 5)));
  });

  it('rejects malformed states', () => {
    const h = LEAVES[0] as Uint8Array;
    expect(codeOf(() => new CompactRange({ size: 3n, hashes: [h] }))).toBe('COMPACT_STATE_INVALID');
    expect(codeOf(() => new CompactRange({ size: 0n, hashes: [h] }))).toBe('COMPACT_STATE_INVALID');
    expect(codeOf(() => new CompactRange({ size: -1n, hashes: [] }))).toBe('COMPACT_STATE_INVALID');
    expect(codeOf(() => new CompactRange({ size: 1n << 64n, hashes: [h] }))).toBe(
      'COMPACT_STATE_INVALID',
    );
    expect(codeOf(() => new CompactRange({ size: 2n, hashes: [h.subarray(1)] }))).toBe(
      'COMPACT_STATE_INVALID',
    );
  });

  it('rejects leaf hashes of the wrong length', () => {
    const tree = new CompactRange();
    expect(codeOf(() => tree.append(new Uint8Array(33)))).toBe('HASH_WRONG_LENGTH');
    expect(tree.size).toBe(0n);
  });

  it('works with sizes beyond 2^53 and stops at 2^64 - 1', () => {
    const h = LEAVES[0] as Uint8Array;
    const size = (1n << 64n) - 2n; // 63 set bits
    const tree = new CompactRange({ size, hashes: Array.from({ length: 63 }, () => h) });
    const done = tree.append(h);
    expect(done).toEqual([{ level: 0, index: size, hash: h }]);
    expect(tree.size).toBe((1n << 64n) - 1n);
    expect(codeOf(() => tree.append(h))).toBe('SIZE_OUT_OF_RANGE');
    // Completing 2^53 leaves needs a carry through 53 levels with bigint indices.
    const big = new CompactRange({
      size: (1n << 53n) - 1n,
      hashes: Array.from({ length: 53 }, () => h),
    });
    const carried = big.append(h);
    expect(carried).toHaveLength(54);
    expect(carried[53]).toMatchObject({ level: 53, index: 0n });
    expect(big.state().hashes).toHaveLength(1);
  });
});
