import { describe, expect, it } from 'vitest';
import { LookupCoalescer } from '../src/site/lookup-coalescer.js';
import type { HashFacts } from '../src/site/storage.js';

const h = (n: number): string => n.toString(16).padStart(64, '0');
const factsOf = (sha256: string): HashFacts => ({
  sha256,
  firstSeen: null,
  malicious: sha256.endsWith('1') ? 1 : 0,
  suspicious: 0,
  reports: 0,
  listVerdict: null,
});

/** A storage lookup that records each batch it is asked. */
function recording(answer = (hashes: readonly string[]) => hashes.map(factsOf)) {
  const calls: string[][] = [];
  const lookup = (hashes: readonly string[]): Promise<HashFacts[]> => {
    calls.push([...hashes]);
    return Promise.resolve(answer(hashes));
  };
  return { calls, lookup };
}

describe('LookupCoalescer', () => {
  it('answers the lookups of one event-loop round with one storage call, each its own facts', async () => {
    const { calls, lookup } = recording();
    const c = new LookupCoalescer(lookup, 100);
    const asked = [h(1), h(2), h(1), h(3)];
    const answers = await Promise.all(asked.map((x) => c.facts(x)));
    expect(calls).toEqual([asked]);
    expect(answers).toEqual(asked.map(factsOf));
    // A later round is a new batch.
    await expect(c.facts(h(4))).resolves.toEqual(factsOf(h(4)));
    expect(calls).toEqual([asked, [h(4)]]);
  });

  it('sends a full batch at once', async () => {
    const { calls, lookup } = recording();
    const c = new LookupCoalescer(lookup, 2);
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => c.facts(h(n))));
    expect(calls).toEqual([[h(1), h(2)], [h(3), h(4)], [h(5)]]);
    expect(answers.map((f) => f.sha256)).toEqual([1, 2, 3, 4, 5].map(h));
  });

  it('fails every lookup of a batch the storage fails, and only that batch', async () => {
    let fail = true;
    const c = new LookupCoalescer((hashes) => {
      if (fail) return Promise.reject(new Error('disk on fire'));
      return Promise.resolve(hashes.map(factsOf));
    }, 100);
    const failed = await Promise.allSettled([c.facts(h(1)), c.facts(h(2))]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(c.facts(h(3))).resolves.toEqual(factsOf(h(3)));
    const throwing = new LookupCoalescer(() => {
      throw new Error('sync failure');
    }, 100);
    await expect(throwing.facts(h(1))).rejects.toThrow('sync failure');
  });

  it('refuses an answer that is missing or names another hash', async () => {
    const { lookup } = recording((hashes) => hashes.slice(1).map(factsOf).concat([]));
    const c = new LookupCoalescer(lookup, 100);
    const results = await Promise.allSettled([c.facts(h(1)), c.facts(h(2))]);
    expect(
      results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok')),
    ).toEqual(['STORAGE_FAILED', 'STORAGE_FAILED']);
  });
});
