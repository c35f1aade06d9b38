import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { type SiteStorage, type StoredEvent, openSqliteSiteStorage } from '@glasshouse/telemetry';
import { batchToStore, storageContract } from './storage.contract.js';

storageContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-site-sqlite-'));
  const storage = await openSqliteSiteStorage({ dir });
  return {
    storage,
    close: async () => {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite site storage', () => {
  it('holds the data directory exclusively and keeps personal fields as the ciphertext given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glasshouse-site-sqlite-'));
    try {
      const storage = await openSqliteSiteStorage({ dir });
      await expect(openSqliteSiteStorage({ dir })).rejects.toMatchObject({
        code: 'STORAGE_FAILED',
      });
      const b = batchToStore();
      await storage.storeBatch(b);
      await storage.close();
      const db = new Database(join(dir, 'site.sqlite'), { readonly: true });
      try {
        const rows = db.prepare('SELECT personal FROM events ORDER BY id').all() as {
          personal: Buffer;
        }[];
        expect(rows.map((r) => r.personal.toString('hex'))).toEqual(
          b.events.map((e) => Buffer.from(e.personal).toString('hex')),
        );
      } finally {
        db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never answers a malformed hash in a batch with the facts of the hash before it', async () => {
    // The batch lookup decodes each hash into one reused buffer.
    const dir = await mkdtemp(join(tmpdir(), 'glasshouse-site-sqlite-'));
    try {
      const storage = await openSqliteSiteStorage({ dir });
      const listed = 'ab'.repeat(32);
      await storage.importVerdicts([{ sha256: listed, verdict: 'known-bad' }]);
      const odd = ['zz'.repeat(32), `${listed}00`, listed.slice(0, 62), `${listed.slice(0, 62)}x!`];
      const facts = await storage.reputation([listed, ...odd]);
      expect(facts.map((f) => f.listVerdict)).toEqual(['known-bad', null, null, null, null]);
      expect(facts.map((f) => f.sha256)).toEqual([listed, ...odd]);
      await storage.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite site storage: reputation counts folded in bulk', () => {
  const hash = (n: number): string => n.toString(16).padStart(64, '0');
  const events = (bucket: string): StoredEvent[] => [
    {
      sha256: hash(1),
      rule: 'demo:evil',
      verdict: 'malicious',
      timeBucket: bucket,
      personal: randomBytes(16),
    },
    {
      sha256: hash(2),
      rule: null,
      verdict: 'suspicious',
      timeBucket: bucket,
      personal: randomBytes(16),
    },
  ];
  const folded = (dir: string): { through: bigint; reports: bigint[] } => {
    const db = new Database(join(dir, 'site.sqlite'), { readonly: true });
    db.defaultSafeIntegers(true);
    try {
      const through = (
        db.prepare('SELECT through_batch FROM facts_folded').get() as { through_batch: bigint }
      ).through_batch;
      const rows = db.prepare('SELECT reports FROM facts ORDER BY sha256').all() as {
        reports: bigint;
      }[];
      return { through, reports: rows.map((r) => r.reports) };
    } finally {
      db.close();
    }
  };

  it('counts every event once: in memory before a fold, in the facts table after, across restarts and retention', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glasshouse-site-sqlite-'));
    try {
      let storage = await openSqliteSiteStorage({ dir, foldEvents: 4 });
      await storage.storeBatch(
        batchToStore({ events: events('2026-12-04T16:00:00Z'), storedAtMs: 1 }),
      );
      await storage.storeBatch(
        batchToStore({ events: events('2026-12-04T14:00:00Z'), storedAtMs: 2 }),
      );
      // Four events pending: the next store folds them in its transaction, then adds its own.
      const third = batchToStore({ events: events('2026-12-04T18:00:00Z'), storedAtMs: 3 });
      await Promise.all([storage.storeBatch(third), storage.storeBatch(third)]);
      const expectCounts = async (s: SiteStorage, reports: number): Promise<void> => {
        const [one, two, none] = await s.reputation([hash(1), hash(2), hash(3)]);
        expect(one).toMatchObject({
          reports,
          malicious: reports,
          suspicious: 0,
          firstSeen: '2026-12-04T14:00:00Z',
        });
        expect(two).toMatchObject({ reports, malicious: 0, suspicious: reports });
        expect(none).toMatchObject({ reports: 0, firstSeen: null });
      };
      await expectCounts(storage, 3);
      await storage.close();
      expect(folded(dir)).toEqual({ through: 2n, reports: [2n, 2n] });

      // A restart counts the third batch again from its stored events, once.
      storage = await openSqliteSiteStorage({ dir, foldEvents: 4 });
      await expectCounts(storage, 3);
      await storage.storeBatch(
        batchToStore({ events: events('2026-12-04T19:00:00Z'), storedAtMs: 4 }),
      );
      await expectCounts(storage, 4);
      // Retention folds what is pending before the events go; the counts stay.
      const gone = await storage.deleteOlderThan(3, 10, () => new Uint8Array([1]));
      expect(gone.digests).toHaveLength(2);
      await expectCounts(storage, 4);
      await storage.close();
      expect(folded(dir)).toEqual({ through: 4n, reports: [4n, 4n] });
      storage = await openSqliteSiteStorage({ dir, foldEvents: 4 });
      await expectCounts(storage, 4);
      await storage.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
