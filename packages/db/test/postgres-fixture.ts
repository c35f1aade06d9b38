/**
 * Test fixture: a throw-away PostgreSQL database per suite on the server at
 * `GLASSHOUSE_POSTGRES_URL` (default 127.0.0.1:5432, trust auth).
 *
 * An unreachable server fails the suite with a message saying so, unless
 * `GLASSHOUSE_SKIP_POSTGRES=1` asks to skip it; nothing is skipped silently.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

export const ADMIN_URL =
  process.env.GLASSHOUSE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function probe(): Promise<string | null> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  try {
    await client.query('SELECT 1');
    return null;
  } finally {
    await client.end();
  }
}

/** Why PostgreSQL cannot be used, or null when it can. */
const unavailable = await probe();

/** `describe`, or a failing placeholder (or an announced skip) when PostgreSQL is unreachable. */
export function describePostgres(name: string, body: () => void): void {
  if (unavailable === null) {
    describe(name, body);
    return;
  }
  const reason = `PostgreSQL at ${ADMIN_URL} is unreachable (${unavailable})`;
  if (process.env.GLASSHOUSE_SKIP_POSTGRES === '1') {
    console.warn(`SKIPPED "${name}": ${reason}; GLASSHOUSE_SKIP_POSTGRES=1 is set`);
    describe.skip(`${name} [skipped: ${reason}]`, body);
    return;
  }
  describe(name, () => {
    it('needs PostgreSQL', () => {
      throw new Error(
        `${reason}. Start PostgreSQL (or set GLASSHOUSE_POSTGRES_URL), ` +
          'or set GLASSHOUSE_SKIP_POSTGRES=1 to skip these tests deliberately.',
      );
    });
  });
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates a database with a unique name; `drop()` removes it, closing its connections. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `gh_${label}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on the admin connection. */
export async function admin(sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** Runs one statement in the database at `url`. */
export async function queryDb(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}
