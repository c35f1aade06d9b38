import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBuilt, runCli, runCrashRounds } from './log-crash-harness.js';
import {
  createTestDatabase,
  describePostgres,
  type TestDatabase,
} from '../../../packages/db/test/postgres-fixture.js';

describePostgres('kill -9 under concurrent writes (PostgreSQL)', () => {
  let dir: string | undefined;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'glasshouse-crash-pg-'));
    db = await createTestDatabase('crash');
  }, 120_000);

  afterAll(async () => {
    await db?.drop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged entry and never forks', async () => {
    if (dir === undefined || db === undefined) throw new Error('fixture missing');
    const origin = 'example.org/crash-test-pg';
    const vkey = runCli(['log', 'init', '--origin', origin, '--dir', dir, '--postgres', db.url]);
    expect(vkey.trim().startsWith(`${origin}+`)).toBe(true);
    const stats = await runCrashRounds(dir, {
      serveArgs: ['--postgres', db.url],
      rounds: 4,
      writers: 8,
      killAfterMs: [300, 1500],
    });
    expect(stats.acknowledged).toBeGreaterThan(100);
    expect(stats.finalSize).toBeGreaterThanOrEqual(BigInt(stats.acknowledged));
  }, 90_000);
});
