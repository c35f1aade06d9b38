import { hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AccessIndex,
  customerSearchKey,
  indexListCommitment,
  rootFromLookup,
  verifyLookup,
  type LookupProof,
} from '../src/index.js';
import { customer } from './fixtures.js';

const nodeSha256 = (d: Uint8Array): Uint8Array => new Uint8Array(hash('sha256', d, 'buffer'));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

/** An independent reference: the root of a key set by recursive splitting (KEYTRANS §3.3 shape). */
function referenceRoot(
  entries: { key: Uint8Array; commitment: Uint8Array }[],
  depth = 0,
): Uint8Array | null {
  if (entries.length === 0) return null;
  if (entries.length === 1) {
    const e = entries[0]!;
    return nodeSha256(Buffer.concat([Buffer.from([2]), e.key, e.commitment]));
  }
  const bit = (k: Uint8Array): number => (k[depth >> 3]! >> (7 - (depth & 7))) & 1;
  const left = referenceRoot(
    entries.filter((e) => bit(e.key) === 0),
    depth + 1,
  );
  const right = referenceRoot(
    entries.filter((e) => bit(e.key) === 1),
    depth + 1,
  );
  return nodeSha256(
    Buffer.concat([Buffer.from([3]), left ?? new Uint8Array(32), right ?? new Uint8Array(32)]),
  );
}

/** A log: for each entry, the number of the customer it concerns. */
const logArb = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 0, maxLength: 120 });

function build(log: readonly number[]): { index: AccessIndex; lists: Map<string, bigint[]> } {
  const index = new AccessIndex();
  const lists = new Map<string, bigint[]>();
  log.forEach((n, i) => {
    const c = customer(n);
    index.appendKey(c);
    lists.set(c, [...(lists.get(c) ?? []), BigInt(i)]);
  });
  return { index, lists };
}

describe('verifiable index (prefix tree)', () => {
  it('the empty index has the all-zero root and proves every key absent', () => {
    const index = new AccessIndex();
    expect(index.root()).toEqual(new Uint8Array(32));
    const { indices, proof } = index.lookup(customer(1));
    expect(indices).toEqual([]);
    expect(proof).toEqual({ result: 'nonInclusionParent', depth: 0, elements: [] });
    verifyLookup(index.root(), customer(1), [], proof);
  });

  it('matches an independent recursive construction, and node:crypto gives the same root', () => {
    fc.assert(
      fc.property(logArb, (log) => {
        const { index, lists } = build(log);
        const entries = [...lists].map(([c, l]) => ({
          key: customerSearchKey(c),
          commitment: indexListCommitment(l),
        }));
        expect(index.root()).toEqual(referenceRoot(entries) ?? new Uint8Array(32));
        const fast = new AccessIndex({ sha256: nodeSha256 });
        for (const n of log) fast.appendKey(customer(n));
        expect(fast.root()).toEqual(index.root());
      }),
      { numRuns: 60 },
    );
  });

  it('every present key proves inclusion of exactly its list, every absent key non-inclusion', () => {
    fc.assert(
      fc.property(
        logArb,
        fc.array(fc.integer({ min: 41, max: 200 }), { maxLength: 5 }),
        (log, absent) => {
          const { index, lists } = build(log);
          const root = index.root();
          for (const [c, list] of lists) {
            const { indices, proof } = index.lookup(c);
            expect(indices).toEqual(list);
            expect(proof.result).toBe('inclusion');
            verifyLookup(root, c, indices, proof);
          }
          for (const n of absent) {
            const { indices, proof } = index.lookup(customer(n));
            expect(indices).toEqual([]);
            expect(proof.result).not.toBe('inclusion');
            verifyLookup(root, customer(n), [], proof);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('incremental revisions give the same roots as building each prefix from scratch', () => {
    fc.assert(
      fc.property(logArb, fc.integer({ min: 1, max: 30 }), (log, step) => {
        const incremental = new AccessIndex();
        for (let i = 0; i < log.length; i++) {
          incremental.appendKey(customer(log[i]!));
          if ((i + 1) % step === 0 || i === log.length - 1) {
            expect(incremental.root()).toEqual(build(log.slice(0, i + 1)).index.root());
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  it('any tampered proof or list fails with a code', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 2, maxLength: 120 }),
        fc.nat(),
        fc.nat(),
        (log, pick, bitPos) => {
          const { index, lists } = build(log);
          const root = index.root();
          const customers = [...lists.keys()];
          const c = customers[pick % customers.length]!;
          const { indices, proof } = index.lookup(c);
          const codes = new Set<string | undefined>();
          const tamper = (p: LookupProof, list = indices): void => {
            codes.add(
              code(() => {
                verifyLookup(root, c, list, p);
              }),
            );
          };
          // A flipped bit in any element.
          proof.elements.forEach((_, i) => {
            const elements = proof.elements.map((e) => e.slice());
            elements[i]![bitPos % 32]! ^= 1 << (bitPos % 8);
            tamper({ ...proof, elements });
          });
          // A dropped or added element, another depth, another result.
          if (proof.depth > 0)
            tamper({ ...proof, depth: proof.depth - 1, elements: proof.elements.slice(1) });
          tamper({
            ...proof,
            depth: proof.depth + 1,
            elements: [...proof.elements, new Uint8Array(32).fill(7)],
          });
          tamper({ ...proof, result: 'nonInclusionParent' });
          // A record hidden from the list, one added, one moved.
          tamper(proof, indices.slice(0, -1));
          tamper(proof, [...indices, BigInt(log.length + 5)]);
          if (indices.length > 0 && indices[0]! > 0n)
            tamper(proof, [indices[0]! - 1n, ...indices.slice(1)]);
          codes.forEach((got) => {
            expect(['LOOKUP_PROOF_INVALID', 'LOOKUP_PROOF_MISMATCH']).toContain(got);
          });
          // The untouched proof still verifies against the root it came from.
          expect(rootFromLookup(c, indices, proof)).toEqual(root);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses entries out of order and keys that are not customer pseudonyms', () => {
    const index = new AccessIndex();
    expect(
      code(() => {
        index.appendEntries(3n, []);
      }),
    ).toBe('INDEX_ENTRY_OUT_OF_ORDER');
    expect(
      code(() => {
        index.appendKey('alice');
      }),
    ).toBe('INDEX_INPUT_INVALID');
    index.appendKey(null);
    expect(index.size).toBe(1n);
    expect(
      code(() => {
        verifyLookup(index.root(), customer(1), [2n, 1n], index.lookup(customer(1)).proof);
      }),
    ).toBe('INDICES_INVALID');
  });
});

describe('saved index state', () => {
  it('an index restored from customerState continues with the same roots as one never saved', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 30 }),
        (before, after) => {
          const keys = (ns: number[]): (string | null)[] =>
            ns.map((n) => (n === 7 ? null : customer(n)));
          const whole = new AccessIndex();
          for (const k of keys(before)) whole.appendKey(k);
          const saved = [...new Set(keys(before))]
            .filter((c): c is string => c !== null)
            .map((c) => whole.customerState(c)!);
          const restored = AccessIndex.restore(whole.size, saved);
          expect(restored.root()).toEqual(whole.root());
          for (const k of keys(after)) {
            whole.appendKey(k);
            restored.appendKey(k);
          }
          expect(restored.root()).toEqual(whole.root());
          expect(restored.lookup(customer(0))).toEqual(whole.lookup(customer(0)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses saved state that does not fit: peaks of another size, an index beyond the size', () => {
    const index = new AccessIndex();
    for (let i = 0; i < 3; i++) index.appendKey(customer(1));
    const state = index.customerState(customer(1))!;
    expect(code(() => AccessIndex.restore(3n, [{ ...state, peaks: state.peaks.slice(1) }]))).toBe(
      'INDEX_INPUT_INVALID',
    );
    expect(code(() => AccessIndex.restore(2n, [state]))).toBe('INDEX_INPUT_INVALID');
    expect(code(() => AccessIndex.restore(3n, [state, state]))).toBe('INDEX_INPUT_INVALID');
  });
});
