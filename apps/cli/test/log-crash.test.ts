import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, runCrashRounds } from './log-crash-harness.js';

let dir: string;

beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-crash-'));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kill -9 under concurrent writes (SQLite)', () => {
  it('loses no acknowledged entry and never forks', async () => {
    const vkey = runCli(['log', 'init', '--origin', 'example.org/crash-test', '--dir', dir]).trim();
    expect(vkey.startsWith('example.org/crash-test+')).toBe(true);
    const stats = await runCrashRounds(dir, {
      serveArgs: [],
      rounds: 5,
      writers: 8,
      killAfterMs: [300, 1500],
    });
    expect(stats.acknowledged).toBeGreaterThan(100);
    expect(stats.finalSize).toBeGreaterThanOrEqual(BigInt(stats.acknowledged));
  }, 90_000);
});
