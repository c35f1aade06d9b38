// The one contract suite of the site storage port (src/site/storage.ts),
// run against every adapter by its own test file.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchToStore, SiteStorage, StoredEvent } from '@glasshouse/telemetry';

export interface StorageHarness {
  readonly storage: SiteStorage;
  /** A second handle on the same storage (another frontend), where the adapter allows it. */
  readonly second?: SiteStorage;
  close(): Promise<void>;
}

const hex = (n: number): string => n.toString(16).padStart(64, '0');

function event(
  i: number,
  verdict: StoredEvent['verdict'],
  bucket = '2026-12-04T16:00:00Z',
): StoredEvent {
  return {
    sha256: hex(i),
    rule: verdict === 'malicious' ? 'demo:evil' : null,
    verdict,
    timeBucket: bucket,
    personal: randomBytes(64),
  };
}

let seq = 0;
export function batchToStore(
  opts: {
    events?: StoredEvent[];
    storedAtMs?: number;
    region?: string;
    entry?: string;
    customer?: string;
    createdAt?: string;
  } = {},
): BatchToStore {
  seq += 1;
  const digest = `sha256:${randomBytes(32).toString('hex')}`;
  return {
    digest,
    batchId: randomBytes(16).toString('hex'),
    customer: opts.customer ?? `c-${'1'.repeat(32)}`,
    region: opts.region ?? 'EU',
    policy: `sha256:${'2'.repeat(64)}`,
    productVersion: '1.4.0',
    createdAt: opts.createdAt ?? '2026-12-04T16:30:00Z',
    sealedKey: randomBytes(80),
    keyRelease: '0123456789abcdef',
    storedAtMs: opts.storedAtMs ?? 1_000_000 + seq,
    events: opts.events ?? [event(1, 'malicious'), event(2, 'clean')],
    entry: new TextEncoder().encode(opts.entry ?? `{"stored":"${digest}"}`),
  };
}

export function storageContract(name: string, open: () => Promise<StorageHarness>): void {
  describe(`site storage contract: ${name}`, () => {
    let h: StorageHarness;
    let s: SiteStorage;
    beforeEach(async () => {
      h = await open();
      s = h.storage;
    });
    afterEach(async () => {
      await h.close();
    });

    it('stores a batch once: a second store of the digest writes nothing and answers the first entry', async () => {
      const b = batchToStore();
      const first = await s.storeBatch(b);
      expect(first.created).toBe(true);
      expect(first.logIndex).toBeNull();
      expect(first.events).toBe(2);
      const again = await s.storeBatch({ ...b, entry: new TextEncoder().encode('other bytes') });
      expect(again.created).toBe(false);
      expect(again.entryId).toBe(first.entryId);
      expect(Buffer.from(again.entry).toString()).toBe(Buffer.from(b.entry).toString());
      expect((await s.summary()).batches).toBe(1);
      expect((await s.summary()).events).toBe(2);
      const [facts] = await s.reputation([hex(1)]);
      expect(facts!.reports).toBe(1);
    });

    it('stores concurrently sent copies of a batch exactly once', async () => {
      const b = batchToStore();
      const other = h.second ?? s;
      const results = await Promise.all([s.storeBatch(b), other.storeBatch(b), s.storeBatch(b)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.entryId)).size).toBe(1);
      expect((await s.summary()).batches).toBe(1);
    });

    it('lists stored entries as unlogged until their index is recorded, in order', async () => {
      const a = await s.storeBatch(batchToStore());
      const b = await s.storeBatch(batchToStore());
      const pending = await s.unlogged(10);
      expect(pending.map((p) => p.id)).toEqual([a.entryId, b.entryId]);
      expect(await s.unlogged(1)).toHaveLength(1);
      await s.markLogged([{ id: a.entryId, index: 7n }]);
      expect((await s.unlogged(10)).map((p) => p.id)).toEqual([b.entryId]);
      // The same index again is fine; another one is a contradiction.
      await s.markLogged([{ id: a.entryId, index: 7n }]);
      await expect(s.markLogged([{ id: a.entryId, index: 8n }])).rejects.toMatchObject({
        code: 'STORAGE_CORRUPT',
      });
      await expect(s.markLogged([{ id: 999_999n, index: 1n }])).rejects.toMatchObject({
        code: 'STORAGE_CORRUPT',
      });
    });

    it('answers a stored batch by digest with its log index', async () => {
      const b = batchToStore();
      const r = await s.storeBatch(b);
      await s.markLogged([{ id: r.entryId, index: 3n }]);
      const got = await s.batch(b.digest);
      expect(got).toMatchObject({ created: false, entryId: r.entryId, logIndex: 3n, events: 2 });
      expect(await s.batch(`sha256:${'f'.repeat(64)}`)).toBeNull();
    });

    it('aggregates reputation facts over batches and keeps them through retention', async () => {
      await s.storeBatch(
        batchToStore({
          events: [
            event(5, 'malicious', '2026-12-04T15:00:00Z'),
            event(5, 'suspicious'),
            event(6, 'clean'),
          ],
        }),
      );
      await s.storeBatch(batchToStore({ events: [event(5, 'malicious', '2026-12-04T12:00:00Z')] }));
      const [five, six, none] = await s.reputation([hex(5), hex(6), hex(7)]);
      expect(five).toEqual({
        sha256: hex(5),
        firstSeen: '2026-12-04T12:00:00Z',
        malicious: 2,
        suspicious: 1,
        reports: 3,
        listVerdict: null,
      });
      expect(six).toMatchObject({ reports: 1, malicious: 0, suspicious: 0 });
      expect(none).toEqual({
        sha256: hex(7),
        firstSeen: null,
        malicious: 0,
        suspicious: 0,
        reports: 0,
        listVerdict: null,
      });
      await s.deleteOlderThan(Number.MAX_SAFE_INTEGER, 100, () => new Uint8Array([1]));
      expect((await s.reputation([hex(5)]))[0]!.reports).toBe(3);
    });

    it('imports verdicts: the latest verdict for a hash wins, telemetry facts stay', async () => {
      await s.storeBatch(batchToStore({ events: [event(9, 'malicious')] }));
      await s.importVerdicts([
        { sha256: hex(9), verdict: 'known-good' },
        { sha256: hex(10), verdict: 'known-bad' },
      ]);
      await s.importVerdicts([{ sha256: hex(9), verdict: 'known-bad' }]);
      const [nine, ten] = await s.reputation([hex(9), hex(10)]);
      expect(nine).toMatchObject({ listVerdict: 'known-bad', malicious: 1, reports: 1 });
      expect(ten).toMatchObject({ listVerdict: 'known-bad', reports: 0, firstSeen: null });
    });

    it('answers many lookups in the order asked, duplicates and unknown hashes included', async () => {
      await s.storeBatch(batchToStore({ events: [event(11, 'suspicious'), event(12, 'clean')] }));
      await s.importVerdicts([{ sha256: hex(13), verdict: 'known-good' }]);
      const asked = [hex(13), hex(14), hex(11), hex(13), hex(12)];
      const many = await s.reputation(asked);
      expect(many.map((f) => [f.sha256, f.listVerdict, f.suspicious, f.reports])).toEqual([
        [hex(13), 'known-good', 0, 0],
        [hex(14), null, 0, 0],
        [hex(11), null, 1, 1],
        [hex(13), 'known-good', 0, 0],
        [hex(12), null, 0, 1],
      ]);
      // The same facts as one lookup at a time.
      const one = await Promise.all(asked.map(async (h) => (await s.reputation([h]))[0]));
      expect(one).toEqual(many);
      expect(await s.reputation([])).toEqual([]);
    });

    it('deletes old batches in chunks with their entry, atomically, and never twice', async () => {
      const old = [
        batchToStore({ storedAtMs: 100 }),
        batchToStore({ storedAtMs: 200 }),
        batchToStore({ storedAtMs: 300 }),
      ];
      const fresh = batchToStore({ storedAtMs: 10_000 });
      for (const b of [...old, fresh]) await s.storeBatch(b);
      const seen: string[][] = [];
      const entryFor = (d: readonly string[]): Uint8Array => {
        seen.push([...d]);
        return new TextEncoder().encode(JSON.stringify(d));
      };
      const first = await s.deleteOlderThan(1_000, 2, entryFor);
      expect(first.digests).toEqual([old[0]!.digest, old[1]!.digest]);
      expect(first.entry).not.toBeNull();
      expect(Buffer.from(first.entry!.entry).toString()).toBe(JSON.stringify(first.digests));
      const second = await s.deleteOlderThan(1_000, 2, entryFor);
      expect(second.digests).toEqual([old[2]!.digest]);
      const third = await s.deleteOlderThan(1_000, 2, entryFor);
      expect(third).toEqual({ digests: [], entry: null });
      expect(seen).toHaveLength(2);
      // The deletion entries wait for the log like stored ones.
      const pending = (await s.unlogged(100)).map((p) => p.id);
      expect(pending).toContain(first.entry!.id);
      expect(pending).toContain(second.entry!.id);
      const summary = await s.summary();
      expect(summary).toMatchObject({ batches: 1, events: 2, deletedBatches: 3 });
      // A deleted batch stays known: re-sending it stores nothing.
      const again = await s.storeBatch(old[0]!);
      expect(again).toMatchObject({ created: false, events: 0 });
      expect((await s.summary()).batches).toBe(1);
    });

    it('rolls the deletion back when its entry cannot be built', async () => {
      await s.storeBatch(batchToStore({ storedAtMs: 5 }));
      await expect(
        s.deleteOlderThan(1_000, 10, () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow();
      expect(await s.summary()).toMatchObject({ batches: 1, deletedBatches: 0 });
    });

    it('summarises regions, batches and events', async () => {
      expect(await s.summary()).toEqual({ regions: [], batches: 0, events: 0, deletedBatches: 0 });
      await s.storeBatch(batchToStore({ region: 'JP' }));
      await s.storeBatch(batchToStore({ region: 'EU', events: [event(1, 'clean')] }));
      expect(await s.summary()).toEqual({
        regions: ['EU', 'JP'],
        batches: 2,
        events: 3,
        deletedBatches: 0,
      });
    });

    it("reads a customer's batches by digest or time range, never another customer's nor deleted ones", async () => {
      const mine = `c-${'a'.repeat(32)}`;
      const other = `c-${'b'.repeat(32)}`;
      const a = batchToStore({ customer: mine, createdAt: '2026-12-04T10:00:00Z', storedAtMs: 1 });
      const b = batchToStore({ customer: mine, createdAt: '2026-12-04T11:00:00.5Z' });
      const c = batchToStore({ customer: other, createdAt: '2026-12-04T10:30:00Z' });
      for (const x of [a, b, c]) await s.storeBatch(x);
      const byDigest = await s.readBatches(
        mine,
        { kind: 'batches', batches: [a.digest, b.digest, c.digest] },
        10,
      );
      expect(byDigest.map((r) => r.digest)).toEqual([a.digest, b.digest]);
      const [first] = byDigest;
      expect(first).toMatchObject({
        batchId: a.batchId,
        customer: mine,
        region: a.region,
        productVersion: a.productVersion,
        createdAt: a.createdAt,
        keyRelease: a.keyRelease,
      });
      expect(Buffer.from(first?.sealedKey ?? []).equals(Buffer.from(a.sealedKey))).toBe(true);
      expect(first?.events.map((e) => [e.sha256, e.rule, e.verdict, e.timeBucket])).toEqual(
        a.events.map((e) => [e.sha256, e.rule, e.verdict, e.timeBucket]),
      );
      expect(Buffer.from(first?.events[0]?.personal ?? []).toString('hex')).toBe(
        Buffer.from(a.events[0]?.personal ?? []).toString('hex'),
      );
      // Another customer's digest is never answered, even named explicitly.
      expect(await s.readBatches(other, { kind: 'batches', batches: [a.digest] }, 10)).toEqual([]);
      const range = await s.readBatches(
        mine,
        { kind: 'time-range', from: '2026-12-04T10:00:00Z', to: '2026-12-04T11:00:01Z' },
        10,
      );
      expect(range.map((r) => r.digest)).toEqual([a.digest, b.digest]);
      expect(
        await s.readBatches(
          mine,
          { kind: 'time-range', from: '2026-12-04T10:00:01Z', to: '2026-12-04T10:59:59Z' },
          10,
        ),
      ).toEqual([]);
      expect(
        await s.readBatches(mine, { kind: 'batches', batches: [a.digest, b.digest] }, 1),
      ).toHaveLength(1);
      // Retention deleted a's events: it is no longer readable.
      await s.deleteOlderThan(2, 10, () => new TextEncoder().encode('{"deleted":1}'));
      expect(
        (await s.readBatches(mine, { kind: 'batches', batches: [a.digest, b.digest] }, 10)).map(
          (r) => r.digest,
        ),
      ).toEqual([b.digest]);
    });

    it('refuses calls after close', async () => {
      const other = await open();
      await other.close();
      await expect(other.storage.summary()).rejects.toMatchObject({ code: 'CLOSED' });
    });
  });
}
