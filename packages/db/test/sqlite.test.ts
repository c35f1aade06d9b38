import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { openSqlite } from '../src/sqlite.js';

const V1 = 'CREATE TABLE a (x INTEGER PRIMARY KEY)';
const V2 = 'CREATE TABLE b (x INTEGER PRIMARY KEY REFERENCES a (x))';

describe('openSqlite', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glasshouse-db-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens durable and exclusive, and migrates step by step', () => {
    const file = join(dir, 'x.sqlite');
    const first = openSqlite(file, { migrations: [V1] });
    expect(first.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(first.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(first.pragma('user_version', { simple: true })).toBe(1);
    first.close();

    const second = openSqlite(file, { migrations: [V1, V2], foreignKeys: true });
    expect(second.pragma('user_version', { simple: true })).toBe(2);
    // foreign_keys = ON: a dangling reference is refused.
    expect(() => second.exec('INSERT INTO b (x) VALUES (7)')).toThrow(/FOREIGN KEY/);
    second.close();
  });

  it('creates a database with the page size asked for; an existing one keeps its own', () => {
    const file = join(dir, 'x.sqlite');
    const created = openSqlite(file, { migrations: [V1], pageSize: 16384 });
    expect(created.pragma('page_size', { simple: true })).toBe(16384);
    expect(created.pragma('journal_mode', { simple: true })).toBe('wal');
    created.close();
    const reopened = openSqlite(file, { migrations: [V1], pageSize: 4096 });
    expect(reopened.pragma('page_size', { simple: true })).toBe(16384);
    reopened.close();
    expect(() => openSqlite(join(dir, 'y.sqlite'), { migrations: [V1], pageSize: 3000 })).toThrow(
      RangeError,
    );
  });

  it('keeps a second opener out while the first holds the database', () => {
    const file = join(dir, 'x.sqlite');
    const held = openSqlite(file, { migrations: [V1] });
    try {
      expect(() => openSqlite(file, { migrations: [V1] })).toThrow(
        expect.objectContaining({ code: 'SQLITE_BUSY' }),
      );
    } finally {
      held.close();
    }
  });

  it('refuses a schema written by a newer program (DB_SCHEMA_NEWER)', () => {
    const file = join(dir, 'x.sqlite');
    openSqlite(file, { migrations: [V1, V2] }).close();
    expect(codeOf(() => openSqlite(file, { migrations: [V1] }))).toBe('DB_SCHEMA_NEWER');
  });
});
