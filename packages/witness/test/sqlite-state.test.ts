import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteState, type SqliteState } from '../src/sqlite-state.js';
import { stateContract } from './state.contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'glasshouse-witness-sqlite-'));
}

stateContract('sqlite', async () => {
  const dir = await tempDir();
  const handles: SqliteState[] = [await openSqliteState({ dir })];
  return {
    state: handles[0] as SqliteState,
    reopen: async () => {
      const h = await openSqliteState({ dir });
      handles.push(h);
      return h;
    },
    cleanup: async () => {
      for (const h of handles) await h.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite witness state', () => {
  it('allows one process (and one handle) per data directory', async () => {
    const dir = await tempDir();
    const first = await openSqliteState({ dir });
    try {
      await expect(openSqliteState({ dir })).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' });
      expect(await first.listLogs()).toEqual([]);
    } finally {
      await first.close();
    }
    const again = await openSqliteState({ dir });
    await again.close();
    await expect(again.listLogs()).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await rm(dir, { recursive: true, force: true });
  });
});
