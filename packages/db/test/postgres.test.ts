import { afterAll, beforeAll, expect, it } from 'vitest';
import { codeOf, rejectionCode } from '../../errors/test/codes.js';
import {
  advisoryLockKey,
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  inTransaction,
} from '../src/postgres.js';
import { type TestDatabase, createTestDatabase, describePostgres } from './postgres-fixture.js';

describePostgres('PostgreSQL pool set-up', () => {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase('db');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('commits a transaction, rolls back a failed one, and checks durable commits', async () => {
    const pool = createPostgresPool(db?.url ?? '', { applicationName: 'glasshouse-test' });
    try {
      await checkDurableCommits(pool);
      await pool.query('CREATE TABLE t (x integer PRIMARY KEY)');
      await inTransaction(pool, (c) => c.query('INSERT INTO t VALUES (1)'));
      const failing = inTransaction(pool, async (c) => {
        await c.query('INSERT INTO t VALUES (2)');
        await c.query('INSERT INTO t VALUES (1)'); // duplicate key
      });
      await expect(failing).rejects.toMatchObject({ code: '23505' });
      const rows = await pool.query<{ x: number }>('SELECT x FROM t ORDER BY x');
      expect(rows.rows.map((r) => r.x)).toEqual([1]);

      await pool.query('ALTER DATABASE ' + (db?.name ?? '') + ' SET synchronous_commit = off');
      const lax = createPostgresPool(db?.url ?? '', { applicationName: 'glasshouse-test' });
      try {
        expect(await rejectionCode(checkDurableCommits(lax))).toBe('DB_COMMIT_NOT_DURABLE');
      } finally {
        await lax.end();
      }
    } finally {
      await pool.end();
    }
  });
});

it('accepts plain lower-case schema names only', () => {
  expect(
    codeOf(() => {
      checkSchemaName('log_1');
    }),
  ).toBe('accepted');
  expect(
    codeOf(() => {
      checkSchemaName('Log');
    }),
  ).toBe('DB_SCHEMA_NAME_INVALID');
  expect(
    codeOf(() => {
      checkSchemaName('a; DROP TABLE x');
    }),
  ).toBe('DB_SCHEMA_NAME_INVALID');
});

it('derives a stable signed 64-bit advisory-lock key', () => {
  const key = advisoryLockKey('glasshouse/log schema\npublic');
  expect(key).toBe(advisoryLockKey('glasshouse/log schema\npublic'));
  expect(BigInt(key) >= -(2n ** 63n) && BigInt(key) < 2n ** 63n).toBe(true);
  expect(key).not.toBe(advisoryLockKey('glasshouse/witness schema\npublic'));
});
