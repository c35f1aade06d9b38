/**
 * The PostgreSQL adapter of the witness state port (`state.ts`).
 *
 * Several witness frontends holding the same key may share one database:
 * the compare-and-swap on a log's latest size is a single conditional
 * statement, so two of them can never both move a log forward from the same
 * size. Registering a log is visible to running frontends at once (they read
 * the log on every request).
 *
 * Tables (in the configured schema, prefixed so that a witness can share a
 * database with a log): `witness_logs`, `witness_log_keys`,
 * `witness_latest`. Sizes are `numeric(20, 0)`: tree sizes are uint64 and
 * `bigint` is signed.
 *
 * Durability: every write resolves only after its transaction committed, and
 * opening refuses a server whose sessions run with `synchronous_commit = off`.
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import {
  advisoryLockKey,
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  inTransaction,
} from '@glasshouse/db';
import { WitnessError } from './errors.js';
import type { KnownLog, WitnessStateStore, WitnessedCheckpoint } from './state.js';

export interface PostgresStateOptions {
  /** Schema holding the witness's tables (created if missing); default `public`. */
  readonly schema?: string;
  /** Connections in the pool; default 10. */
  readonly poolSize?: number;
  /** Told about errors on idle connections (the pool already replaced them). */
  readonly onIdleError?: (err: Error) => void;
}

const HASH_SIZE = 32;
const DECIMAL_UINT64 = /^(?:0|[1-9][0-9]{0,19})$/;

/** Opens (creating on first use) the witness state in the PostgreSQL database at `url`. */
export async function openPostgresState(
  url: string,
  opts: PostgresStateOptions = {},
): Promise<WitnessStateStore> {
  const schema = opts.schema ?? 'public';
  try {
    checkSchemaName(schema);
  } catch (cause) {
    throw new WitnessError('STORAGE_FAILED', (cause as Error).message, {
      cause,
      evidence: { schema },
    });
  }
  const pool = createPostgresPool(url, {
    applicationName: 'glasshouse-witness',
    poolSize: opts.poolSize,
    onIdleError: opts.onIdleError,
  });
  try {
    const state = new PostgresState(pool, schema);
    await state.createSchema();
    await state.checkDurability();
    return state;
  } catch (err) {
    await pool.end();
    throw err instanceof WitnessError
      ? err
      : failed('cannot open the PostgreSQL witness state', err);
  }
}

class PostgresState implements WitnessStateStore {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #t: { logs: string; keys: string; latest: string };
  #closed = false;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
    const q = (name: string): string => `${pg.escapeIdentifier(schema)}.${name}`;
    this.#t = { logs: q('witness_logs'), keys: q('witness_log_keys'), latest: q('witness_latest') };
  }

  async createSchema(): Promise<void> {
    const { logs, keys, latest } = this.#t;
    await this.#transaction(async (c) => {
      // CREATE ... IF NOT EXISTS is not atomic against a concurrent creator.
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [
        advisoryLockKey(`glasshouse/witness schema\n${this.#schema}`),
      ]);
      if (this.#schema !== 'public') {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.#schema)}`);
      }
      await c.query(`
        CREATE TABLE IF NOT EXISTS ${logs} (
          origin text PRIMARY KEY
        );
        CREATE TABLE IF NOT EXISTS ${keys} (
          origin text NOT NULL REFERENCES ${logs} (origin),
          position integer NOT NULL,
          vkey text NOT NULL,
          PRIMARY KEY (origin, vkey)
        );
        CREATE TABLE IF NOT EXISTS ${latest} (
          origin text PRIMARY KEY REFERENCES ${logs} (origin),
          size numeric(20, 0) NOT NULL CHECK (size >= 0),
          root_hash bytea NOT NULL,
          note text NOT NULL
        );`);
    });
  }

  async checkDurability(): Promise<void> {
    await checkDurableCommits(
      this.#pool,
      (cause) =>
        new WitnessError('STORAGE_FAILED', cause.message, {
          cause,
          evidence: cause.evidence ?? {},
        }),
    );
  }

  async addLogKey(origin: string, verifierKey: string): Promise<void> {
    const { logs, keys } = this.#t;
    await this.#transaction(async (c) => {
      await c.query(`INSERT INTO ${logs} (origin) VALUES ($1) ON CONFLICT DO NOTHING`, [origin]);
      // Serialise key additions of one log so positions stay unique.
      await c.query(`SELECT origin FROM ${logs} WHERE origin = $1 FOR UPDATE`, [origin]);
      await c.query(
        `INSERT INTO ${keys} (origin, position, vkey)
         SELECT $1, COALESCE(MAX(position) + 1, 0), $2 FROM ${keys} WHERE origin = $1
         ON CONFLICT DO NOTHING`,
        [origin, verifierKey],
      );
    });
  }

  async getLog(origin: string): Promise<KnownLog | null> {
    const { logs, keys } = this.#t;
    const res = await this.#query<{ vkey: string | null }>(
      `SELECT k.vkey FROM ${logs} l LEFT JOIN ${keys} k ON k.origin = l.origin
       WHERE l.origin = $1 ORDER BY k.position`,
      [origin],
    );
    if (res.rows.length === 0) return null;
    const verifierKeys = res.rows.flatMap((r) => (r.vkey === null ? [] : [r.vkey]));
    return { origin, verifierKeys };
  }

  async listLogs(): Promise<KnownLog[]> {
    const { logs, keys } = this.#t;
    const res = await this.#query<{ origin: string; vkey: string | null }>(
      `SELECT l.origin, k.vkey FROM ${logs} l LEFT JOIN ${keys} k ON k.origin = l.origin
       ORDER BY l.origin COLLATE "C", k.position`,
    );
    const byOrigin = new Map<string, string[]>();
    for (const { origin, vkey } of res.rows) {
      const list = byOrigin.get(origin) ?? [];
      if (vkey !== null) list.push(vkey);
      byOrigin.set(origin, list);
    }
    return [...byOrigin].map(([origin, verifierKeys]) => ({ origin, verifierKeys }));
  }

  async getLatest(origin: string): Promise<WitnessedCheckpoint | null> {
    const res = await this.#query<{ size: string; root_hash: Buffer; note: string }>(
      `SELECT size::text AS size, root_hash, note FROM ${this.#t.latest} WHERE origin = $1`,
      [origin],
    );
    const row = res.rows[0];
    if (row === undefined) return null;
    if (!DECIMAL_UINT64.test(row.size) || row.root_hash.length !== HASH_SIZE) {
      throw new WitnessError('STORAGE_CORRUPT', 'a stored checkpoint has a bad size or root', {
        evidence: { origin, size: row.size, rootLength: row.root_hash.length },
      });
    }
    return { size: BigInt(row.size), rootHash: new Uint8Array(row.root_hash), note: row.note };
  }

  async casLatest(
    origin: string,
    expectedSize: bigint,
    next: WitnessedCheckpoint,
  ): Promise<boolean> {
    const { logs, latest } = this.#t;
    const params = [origin, next.size.toString(), Buffer.from(next.rootHash), next.note];
    // Each branch is one statement: PostgreSQL row locks make it atomic against concurrent callers.
    const res =
      expectedSize === 0n
        ? // A log never cosigned counts as size 0 (c2sp.org/tlog-witness).
          await this.#query(
            `INSERT INTO ${latest} AS t (origin, size, root_hash, note)
             SELECT $1, $2::numeric, $3, $4 WHERE EXISTS (SELECT 1 FROM ${logs} WHERE origin = $1)
             ON CONFLICT (origin) DO UPDATE
               SET size = EXCLUDED.size, root_hash = EXCLUDED.root_hash, note = EXCLUDED.note
               WHERE t.size = 0`,
            params,
          )
        : await this.#query(
            `UPDATE ${latest} SET size = $2::numeric, root_hash = $3, note = $4
             WHERE origin = $1 AND size = $5::numeric`,
            [...params, expectedSize.toString()],
          );
    if (res.rowCount === 1) return true;
    const known = await this.#query(`SELECT 1 FROM ${logs} WHERE origin = $1`, [origin]);
    if (known.rowCount === 0) {
      throw new WitnessError('LOG_UNKNOWN', `no log is registered as ${origin}`, {
        evidence: { origin },
      });
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new WitnessError('STORAGE_FAILED', 'the witness state is closed');
    try {
      return await this.#pool.query<R>(sql, values);
    } catch (cause) {
      throw failed('a witness state query failed', cause);
    }
  }

  async #transaction(fn: (c: PoolClient) => Promise<void>): Promise<void> {
    if (this.#closed) throw new WitnessError('STORAGE_FAILED', 'the witness state is closed');
    try {
      await inTransaction(this.#pool, fn);
    } catch (cause) {
      if (cause instanceof WitnessError) throw cause;
      throw failed('a witness state transaction failed', cause);
    }
  }
}

function failed(message: string, cause: unknown): WitnessError {
  return new WitnessError('STORAGE_FAILED', message, { cause });
}
