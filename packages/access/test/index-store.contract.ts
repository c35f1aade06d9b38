/**
 * One contract for every IndexStore (SQLite and PostgreSQL): what the
 * index service relies on when it reopens after a restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AccessIndex, OUTPUT_ENTRY_SCHEMA, encodeOutputEntry } from '@glasshouse/access-format';
import type { TailState } from '@glasshouse/telemetry';
import type { IndexCommit, IndexStore } from '../src/index.js';
import { newCustomer } from './fixture.js';

export interface StoreHandle {
  readonly store: IndexStore;
  /** The same state reopened (a restart), or a second writer on it. */
  reopen(): Promise<IndexStore>;
  close(): Promise<void>;
}

function tail(size: bigint): TailState {
  return {
    origin: 'example.com/access-log',
    checkpoint: `example.com/access-log\n${size}\n…\n`,
    size,
    compact: size === 0n ? [] : [new Uint8Array(32).fill(Number(size % 256n))],
  };
}

/** A revision over `keys` (customer or null per entry) appended to `index`. */
function revision(
  index: AccessIndex,
  keys: readonly (string | null)[],
  outputIndex: bigint,
): IndexCommit {
  const fromSize = index.size;
  const added: { index: bigint; customer: string }[] = [];
  const touched = new Set<string>();
  for (const k of keys) {
    if (k !== null) {
      added.push({ index: index.size, customer: k });
      touched.add(k);
    }
    index.appendKey(k);
  }
  const size = index.size;
  return {
    fromSize,
    tail: tail(size),
    keys: added,
    customers: [...touched].map((c) => {
      const s = index.customerState(c)!;
      return { customer: c, count: s.indices.length, peaks: s.peaks };
    }),
    published: {
      size,
      outputIndex,
      entry: encodeOutputEntry({
        schema: OUTPUT_ENTRY_SCHEMA,
        log: 'example.com/access-log',
        size,
        logRoot: new Uint8Array(32),
        indexRoot: index.root(),
      }),
    },
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

export function indexStoreContract(name: string, open: () => Promise<StoreHandle>): void {
  describe(`index store contract (${name})`, () => {
    let h: StoreHandle | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it('starts empty, and a saved revision reopens to the same index and root', async () => {
      h = await open();
      expect(await h.store.load()).toEqual({ tail: null, customers: [], published: null });
      const [a, b] = [newCustomer().pseudonym, newCustomer().pseudonym];
      const index = new AccessIndex();
      await h.store.commit(revision(index, [a, null, b, a], 0n));
      await h.store.commit(revision(index, [b, b, null], 1n));
      const again = await h.reopen();
      const snap = await again.load();
      expect(snap.tail?.size).toBe(7n);
      expect(snap.tail).toEqual(tail(7n));
      expect(snap.published?.outputIndex).toBe(1n);
      const restored = AccessIndex.restore(snap.tail!.size, snap.customers);
      expect(restored.root()).toEqual(index.root());
      expect(restored.lookup(a).indices).toEqual([0n, 3n]);
      expect(restored.lookup(b).indices).toEqual([2n, 4n, 5n]);
      if (again !== h.store) await again.close();
    });

    it('refuses a commit that does not continue the stored size (a second writer), keeping the first', async () => {
      h = await open();
      const c = newCustomer().pseudonym;
      const one = new AccessIndex();
      const two = new AccessIndex();
      await h.store.commit(revision(one, [c], 0n));
      // The other writer built from the same start: its commit is now stale.
      expect(await code(h.store.commit(revision(two, [c, c], 1n)))).toBe('INDEX_STATE_CONFLICT');
      const snap = await h.store.load();
      expect(snap.tail?.size).toBe(1n);
      expect(snap.customers).toHaveLength(1);
      expect(snap.customers[0]?.indices).toEqual([0]);
    });

    it('a failed commit leaves nothing of itself behind', async () => {
      h = await open();
      const c = newCustomer().pseudonym;
      const index = new AccessIndex();
      await h.store.commit(revision(index, [c], 0n));
      const bad = revision(index, [c, c], 1n);
      // The second key repeats an index already saved: the whole commit must roll back.
      const broken: IndexCommit = { ...bad, keys: [{ index: 0n, customer: c }, ...bad.keys] };
      expect(await code(h.store.commit(broken))).toMatch(/^INDEX_(STORAGE_FAILED|STATE_CONFLICT)$/);
      const snap = await h.store.load();
      expect(snap.tail?.size).toBe(1n);
      expect(snap.customers[0]?.indices).toEqual([0]);
      await h.store.commit({ ...bad, fromSize: 1n });
      expect((await h.store.load()).tail?.size).toBe(3n);
    });

    it('saves 20,000 keys in one revision and reloads them in order', async () => {
      h = await open();
      const customers = Array.from({ length: 50 }, () => newCustomer().pseudonym);
      const index = new AccessIndex();
      const keys = Array.from({ length: 20_000 }, (_, i) =>
        i % 7 === 0 ? null : customers[i % 50]!,
      );
      await h.store.commit(revision(index, keys, 0n));
      const snap = await h.store.load();
      const restored = AccessIndex.restore(snap.tail!.size, snap.customers);
      expect(restored.root()).toEqual(index.root());
      expect(restored.lookup(customers[3]!)).toEqual(index.lookup(customers[3]!));
    });

    it('is unusable after close (CLOSED)', async () => {
      const mine = await open();
      await mine.store.close();
      expect(await code(mine.store.load())).toBe('CLOSED');
      await mine.close();
    });
  });
}
