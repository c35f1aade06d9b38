/**
 * One small SQL port for the package's stores (approvals, the key
 * release's audit, the gateway's record counters), with a SQLite adapter
 * (@glasshouse/db: exclusive lock, WAL, synchronous FULL) and a PostgreSQL
 * adapter (a schema per store). Each store is written once in the SQL both
 * understand (`$1`-style parameters, `bigint`, `bytea`/BLOB as bytes) and
 * one contract suite runs against both adapters.
 *
 * Contract (RFC 2119 words): `run`/`all` and `tx` MUST be durable when they
 * resolve; `tx` MUST be atomic and MUST serialise with every other call on
 * the same handle (SQLite: one connection, calls queued); a unique-key
 * violation MUST be reported so that `isUniqueViolation` recognises it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import pg from 'pg';
import {
  advisoryLockKey,
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  openSqlite,
} from '@glasshouse/db';
import { AccessError } from './errors.js';

export type SqlValue = string | number | bigint | Uint8Array | null;
export type SqlRow = Record<string, unknown>;

export interface SqlQueries {
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  all<R extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
}

export interface Sql extends SqlQueries {
  readonly kind: 'sqlite' | 'postgres';
  tx<T>(fn: (q: SqlQueries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface SqlLocation {
  /** A directory: SQLite file `<dir>/<file>`. */
  readonly dir?: string | undefined;
  /** A PostgreSQL URL: tables in schema `schema`. */
  readonly postgres?: string | undefined;
}

/** True when `err` is a unique-key violation of either adapter. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return [code, cause].some(
    (c) =>
      c === '23505' || c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  );
}

/**
 * Opens a store's database: SQLite `<dir>/<file>` with `migrations`, or the
 * PostgreSQL schema `schema` with the same migrations (each run once, in
 * order, recorded in `<schema>.migrations`).
 */
export async function openSql(
  where: SqlLocation,
  opts: { file: string; schema: string; migrations: readonly string[]; name: string },
): Promise<Sql> {
  if (where.postgres !== undefined) return openPostgresSql(where.postgres, opts);
  if (where.dir === undefined) {
    throw new AccessError('CONFIG_INVALID', `${opts.name}: a directory or a PostgreSQL URL`);
  }
  return openSqliteSql(join(where.dir, opts.file), opts.migrations, where.dir);
}

function sqliteParams(params: readonly SqlValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  params.forEach((v, i) => {
    out[`p${i + 1}`] = v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v;
  });
  return out;
}

function toSqlite(sql: string): string {
  return sql.replace(/\$(\d+)/g, '@p$1');
}

function openSqliteSql(file: string, migrations: readonly string[], dir: string): Sql {
  let db: Database.Database;
  try {
    mkdirSync(dir, { recursive: true });
    db = openSqlite(file, { migrations: migrations.map(toSqlite), safeIntegers: false });
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY') {
      throw new AccessError('STATE_LOCKED', `${file} is in use by another process`, { cause });
    }
    throw new AccessError('STORE_FAILED', `cannot open ${file}`, { cause });
  }
  const cache = new Map<string, Database.Statement>();
  const stmt = (sql: string): Database.Statement => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(toSqlite(sql));
      cache.set(sql, s);
    }
    return s;
  };
  const q: SqlQueries = {
    run: (sql, params = []) => {
      const s = stmt(sql);
      return Promise.resolve(s.run(sqliteParams(params)).changes);
    },
    all: <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(stmt(sql).all(sqliteParams(params)) as R[]),
  };
  // One connection: transactions (async bodies) and statements are queued.
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const enqueue = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(() => {
      if (closed) throw new AccessError('CLOSED', 'the store is closed');
      return fn();
    });
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    kind: 'sqlite',
    run: (sql, params) => enqueue(() => q.run(sql, params)),
    all: <R extends SqlRow>(sql: string, params?: readonly SqlValue[]) =>
      enqueue(() => q.all<R>(sql, params)),
    tx: <T>(fn: (q: SqlQueries) => Promise<T>) =>
      enqueue(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const out = await fn(q);
          db.exec('COMMIT');
          return out;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      }),
    close: async () => {
      await queue;
      if (!closed) {
        closed = true;
        db.close();
      }
    },
  };
}

async function openPostgresSql(
  url: string,
  opts: { schema: string; migrations: readonly string[]; name: string },
): Promise<Sql> {
  try {
    checkSchemaName(opts.schema);
  } catch (cause) {
    throw new AccessError('CONFIG_INVALID', (cause as Error).message, { cause });
  }
  // Every connection works in the store's schema (libpq `options`, PostgreSQL §20.1.4).
  const withPath = new URL(url);
  withPath.searchParams.set('options', `-c search_path=${opts.schema}`);
  const pool = createPostgresPool(withPath.toString(), {
    applicationName: `glasshouse-${opts.name}`,
    poolSize: 5,
  });
  const schema = pg.escapeIdentifier(opts.schema);
  let closed = false;
  const wrap = (err: unknown): never => {
    if (err instanceof AccessError || isUniqueViolation(err)) throw err;
    throw new AccessError('STORE_FAILED', `${opts.name}: PostgreSQL failed`, { cause: err });
  };
  const on = (client: pg.Pool | pg.PoolClient): SqlQueries => ({
    run: async (sql, params = []) => {
      try {
        const r = await client.query(sql, params as unknown[]);
        return r.rowCount ?? 0;
      } catch (err) {
        return wrap(err);
      }
    },
    all: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) => {
      try {
        const r = await client.query(sql, params as unknown[]);
        return r.rows as R[];
      } catch (err) {
        return wrap(err);
      }
    },
  });
  const tx = async <T>(fn: (q: SqlQueries) => Promise<T>): Promise<T> => {
    if (closed) throw new AccessError('CLOSED', 'the store is closed');
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return wrap(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(on(client));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  };
  try {
    await checkDurableCommits(
      pool,
      (cause) => new AccessError('STORE_FAILED', cause.message, { cause }),
    );
    await tx(async (q) => {
      // Frontends starting at once would race on CREATE … IF NOT EXISTS.
      await q.run('SELECT pg_advisory_xact_lock($1::bigint)', [
        advisoryLockKey(`glasshouse/${opts.name} schema\n${opts.schema}`),
      ]);
      await q.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await q.run('CREATE TABLE IF NOT EXISTS migrations (version integer PRIMARY KEY)');
      const done = await q.all<{ version: number | string }>('SELECT version FROM migrations');
      const have = new Set(done.map((r) => Number(r.version)));
      for (const [i, m] of opts.migrations.entries()) {
        if (have.has(i)) continue;
        for (const statement of m.split(';').filter((s) => s.trim() !== '')) {
          await q.run(statement);
        }
        await q.run('INSERT INTO migrations (version) VALUES ($1)', [i]);
      }
    });
  } catch (err) {
    await pool.end();
    throw err instanceof AccessError ? err : wrap(err);
  }
  const base = on(pool);
  return {
    kind: 'postgres',
    run: (sql, params) => {
      if (closed) return Promise.reject(new AccessError('CLOSED', 'the store is closed'));
      return base.run(sql, params);
    },
    all: <R extends SqlRow>(sql: string, params?: readonly SqlValue[]) => {
      if (closed) return Promise.reject(new AccessError('CLOSED', 'the store is closed'));
      return base.all<R>(sql, params);
    },
    tx,
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
