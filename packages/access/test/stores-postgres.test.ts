import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import {
  type TestDatabase,
  createTestDatabase,
  describePostgres,
} from '../../db/test/postgres-fixture.js';
import { storesContract } from './stores.contract.js';

describePostgres('part A stores on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('access_a');
  });
  afterAll(async () => {
    await db.drop();
  });
  storesContract('PostgreSQL', () =>
    Promise.resolve({ postgres: db.url, schema: `s_${randomBytes(4).toString('hex')}` }),
  );
});
