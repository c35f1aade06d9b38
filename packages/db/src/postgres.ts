import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { DbError } from './errors.js';

export interface PostgresPoolOptions {
  /** Shown in `pg_stat_activity`. */
  readonly applicationName: string;
  /** Connections in the pool; default 10. */
  readonly poolSize?: number;
  /**
   * Told about errors on idle connections. The pool already discards such a
   * connection and the next query opens a fresh one, so they are not fatal;
   * an app may want to log them.
   */
  readonly onIdleError?: ((err: Error) => void) | undefined;
}

const CONNECT_TIMEOUT_MS = 10_000;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A pool for `url` (`postgres://user@host:port/db`) with the services' settings. */
export function createPostgresPool(url: string, opts: PostgresPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    application_name: opts.applicationName,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', opts.onIdleError ?? noIdleErrorHandler);
  return pool;
}

function noIdleErrorHandler(): void {
  // The pool has already removed the broken connection; the next query reconnects.
}

/** Throws DB_SCHEMA_NAME_INVALID unless `schema` is a plain lower-case identifier. */
export function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new DbError('DB_SCHEMA_NAME_INVALID', `schema name must match ${SCHEMA_NAME.source}`, {
      evidence: { schema: schema.slice(0, 80) },
    });
  }
}

/**
 * Refuses (DB_COMMIT_NOT_DURABLE) a server whose sessions run with
 * `synchronous_commit = off`: a commit it acknowledged could still be lost
 * on a crash, and the services acknowledge writes only once durable.
 */
export async function checkDurableCommits(
  pool: pg.Pool,
  /** The caller's own error for the refusal, with the DbError as its cause. */
  refuse: (cause: DbError) => Error = (cause) => cause,
): Promise<void> {
  const res = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
  const setting = res.rows[0]?.synchronous_commit;
  if (setting === undefined || setting === 'off') {
    throw refuse(
      new DbError(
        'DB_COMMIT_NOT_DURABLE',
        'PostgreSQL runs with synchronous_commit = off: a committed write could be lost on a crash',
        { evidence: { synchronous_commit: setting ?? null } },
      ),
    );
  }
}

/** A 64-bit advisory-lock key (decimal) derived from `label`. */
export function advisoryLockKey(label: string): string {
  return createHash('sha256').update(label).digest().readBigInt64BE(0).toString();
}

/**
 * Runs `fn` on one pooled connection inside BEGIN … COMMIT; rolls back on
 * any error and rethrows it. A connection whose rollback fails is broken and
 * is discarded rather than returned to the pool.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (c: PoolClient) => Promise<T>,
): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await c.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    }
    throw err;
  } finally {
    c.release(broken);
  }
}
