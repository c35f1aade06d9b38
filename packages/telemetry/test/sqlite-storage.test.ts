import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteSiteStorage } from '@glasshouse/telemetry';
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
});
