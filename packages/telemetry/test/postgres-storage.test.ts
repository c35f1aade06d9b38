import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../db/test/postgres-fixture.js';
import { openPostgresSiteStorage } from '@glasshouse/telemetry';
import { storageContract } from './storage.contract.js';

let db: TestDatabase | undefined;
const dbUrl = (): string => {
  if (db === undefined) throw new Error('the test database is created in beforeAll');
  return db.url;
};

beforeAll(async () => {
  db = await createTestDatabase('site');
});

afterAll(async () => {
  await db?.drop();
});

storageContract('PostgreSQL', async () => {
  const schema = `site_${randomBytes(4).toString('hex')}`;
  const storage = await openPostgresSiteStorage(dbUrl(), { schema, poolSize: 3 });
  const second = await openPostgresSiteStorage(dbUrl(), { schema, poolSize: 3 });
  return {
    storage,
    second,
    close: async () => {
      await storage.close();
      await second.close();
    },
  };
});
