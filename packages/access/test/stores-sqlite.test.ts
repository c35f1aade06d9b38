import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { storesContract } from './stores.contract.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

storesContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gh-access-stores-'));
  dirs.push(dir);
  return { dir };
});
