import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openPostgresIndexStore, type IndexStore } from '../src/index.js';
import { indexStoreContract } from './index-store.contract.js';

const ADMIN_URL = 'postgres://root@127.0.0.1:5432/postgres';
const DB = `glasshouse_access_index_${randomBytes(6).toString('hex')}`;
const URL = `postgres://root@127.0.0.1:5432/${DB}`;

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
});

afterAll(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.end();
});

indexStoreContract('PostgreSQL', async () => {
  const schema = `idx_${randomBytes(4).toString('hex')}`;
  const opened: IndexStore[] = [];
  const open = async (): Promise<IndexStore> => {
    const s = await openPostgresIndexStore(URL, { schema, poolSize: 2 });
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
