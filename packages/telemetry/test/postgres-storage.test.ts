import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openPostgresSiteStorage } from '@glasshouse/telemetry';
import { storageContract } from './storage.contract.js';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = `glasshouse_site_test_${randomBytes(6).toString('hex')}`;
const URL = `postgres://postgres@127.0.0.1:5432/${DB}`;

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

storageContract('PostgreSQL', async () => {
  const schema = `site_${randomBytes(4).toString('hex')}`;
  const storage = await openPostgresSiteStorage(URL, { schema, poolSize: 3 });
  const second = await openPostgresSiteStorage(URL, { schema, poolSize: 3 });
  return {
    storage,
    second,
    close: async () => {
      await storage.close();
      await second.close();
    },
  };
});
