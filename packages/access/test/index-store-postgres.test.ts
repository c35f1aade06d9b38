import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../db/test/postgres-fixture.js';
import { openPostgresIndexStore, type IndexStore } from '../src/index.js';
import { indexStoreContract } from './index-store.contract.js';

let db: TestDatabase | undefined;
const dbUrl = (): string => {
  if (db === undefined) throw new Error('the test database is created in beforeAll');
  return db.url;
};

beforeAll(async () => {
  db = await createTestDatabase('access_index');
});

afterAll(async () => {
  await db?.drop();
});

indexStoreContract('PostgreSQL', async () => {
  const schema = `idx_${randomBytes(4).toString('hex')}`;
  const opened: IndexStore[] = [];
  const open = async (): Promise<IndexStore> => {
    const s = await openPostgresIndexStore(dbUrl(), { schema, poolSize: 2 });
    opened.push(s);
    return s;
  };
  const store = await open();
  return {
    store,
    // PostgreSQL: a second store on the same schema, as a restarted (or second) service.
    reopen: open,
    close: async () => {
      for (const s of opened) await s.close();
    },
  };
});
