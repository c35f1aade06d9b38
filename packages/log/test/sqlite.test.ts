import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStorage, type SqliteStorage } from '../src/sqlite.js';
import { storageContract } from './storage.contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'glasshouse-log-sqlite-'));
}

storageContract('sqlite', async () => {
  const dir = await tempDir();
  const handles: SqliteStorage[] = [await openSqliteStorage({ dir })];
  return {
    storage: handles[0] as SqliteStorage,
    reopen: async () => {
      const h = await openSqliteStorage({ dir });
      handles.push(h);
      return h;
    },
    cleanup: async () => {
      for (const h of handles) await h.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite storage', () => {
  it('allows one process (and one handle) per data directory', async () => {
    const dir = await tempDir();
    const first = await openSqliteStorage({ dir });
    try {
      await expect(openSqliteStorage({ dir })).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' });
      // The first handle is unaffected.
      expect(await first.sequencedSize()).toBe(0n);
    } finally {
      await first.close();
    }
    const again = await openSqliteStorage({ dir });
    await again.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses tile paths that are not canonical tlog-tiles paths', async () => {
    const dir = await tempDir();
    const s = await openSqliteStorage({ dir });
    try {
      const data = new Uint8Array(32);
      for (const path of [
        '../escape',
        'tile/0/1',
        'tile/0/000/../../x',
        '/etc/passwd',
        'tile/0/000.p/256',
      ]) {
        await expect(s.writeTiles([{ path, data }])).rejects.toMatchObject({
          code: 'TILE_PATH_UNSAFE',
        });
        await expect(s.readTile(path)).rejects.toMatchObject({ code: 'TILE_PATH_UNSAFE' });
      }
      // Nothing was left behind in the scratch directory.
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects every call once closed', async () => {
    const dir = await tempDir();
    const s = await openSqliteStorage({ dir });
    await s.close();
    await expect(s.sequencedSize()).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(s.readTile('tile/0/000')).rejects.toMatchObject({ code: 'CLOSED' });
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates a schema-1 database: what it stored becomes the published checkpoint', async () => {
    const dir = await tempDir();
    const db = new Database(join(dir, 'log.sqlite'));
    db.exec(`CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL,
               leaf_hash BLOB NOT NULL, leaf_prefix INTEGER NOT NULL);
             CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL,
               checkpoint TEXT NOT NULL, compact BLOB NOT NULL);
             INSERT INTO state VALUES (1, 3, 'a checkpoint of size 3', zeroblob(64));
             PRAGMA user_version = 1;`);
    db.close();
    const s = await openSqliteStorage({ dir });
    try {
      expect(await s.readPublished()).toEqual({ size: 3n, checkpoint: 'a checkpoint of size 3' });
      expect((await s.readState())?.size).toBe(3n);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
