import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openSqliteIndexStore, type IndexStore } from '../src/index.js';
import { indexStoreContract } from './index-store.contract.js';

indexStoreContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gh-access-index-store-'));
  let store: IndexStore = openSqliteIndexStore({ dir });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = openSqliteIndexStore({ dir });
      return store;
    },
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

it('a second process on the same directory is refused (INDEX_STATE_LOCKED)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gh-access-index-store-'));
  const store = openSqliteIndexStore({ dir });
  try {
    await store.load();
    expect(() => openSqliteIndexStore({ dir })).toThrow(
      expect.objectContaining({ code: 'INDEX_STATE_LOCKED' }),
    );
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
