/**
 * The gateway's record store: each customer's access counter and every
 * record it wrote, so that counters run 1, 2, 3… in access-log order and
 * survive a kill -9 (issue 17 §6). A record is stored (durably, with the
 * next counter) before it is appended to the access log, and marked with
 * its log index after; on start the gateway appends every unmarked record
 * again with the log's dedup (same bytes → the original index) before it
 * serves anything, so a crash never leaves a counter gap nor a duplicate.
 *
 * One gateway process per store: SQLite's exclusive lock, and for
 * PostgreSQL a session advisory lock held while open (STATE_LOCKED).
 */
import pg from 'pg';
import { advisoryLockKey } from '@glasshouse/db';
import { AccessError } from '../errors.js';
import { isUniqueViolation, openSql, type Sql, type SqlLocation, type SqlQueries } from '../sql.js';

const MIGRATIONS = [
  `CREATE TABLE records (
     customer text NOT NULL,
     counter bigint NOT NULL,
     record bytea NOT NULL,
     log_index bigint,
     PRIMARY KEY (customer, counter)
   );
   CREATE INDEX records_unlogged ON records (log_index) WHERE log_index IS NULL`,
];
const SQLITE_MIGRATIONS = [MIGRATIONS[0]?.replace('bytea', 'BLOB') ?? ''];

const MARK_LOGGED =
  'UPDATE records SET log_index = $3 WHERE customer = $1 AND counter = $2 AND log_index IS NULL';

/** A stored record's log index, once the log answered it. */
export interface LoggedMark {
  readonly customer: string;
  readonly counter: number;
  readonly index: bigint;
}

export interface PendingRecord {
  readonly customer: string;
  readonly counter: number;
  readonly record: Uint8Array;
}

export class RecordStore {
  readonly #sql: Sql;
  readonly #unlock: () => Promise<void>;

  private constructor(sql: Sql, unlock: () => Promise<void>) {
    this.#sql = sql;
    this.#unlock = unlock;
  }

  /** `{dir}` → `<dir>/gateway.sqlite`; `{postgres}` → schema `schema` (default `gateway`). */
  static async open(where: SqlLocation & { schema?: string }): Promise<RecordStore> {
    const schema = where.schema ?? 'gateway';
    const sql = await openSql(where, {
      file: 'gateway.sqlite',
      schema,
      migrations: where.postgres === undefined ? SQLITE_MIGRATIONS : MIGRATIONS,
      name: 'gateway records',
    });
    if (sql.kind === 'sqlite') return new RecordStore(sql, () => Promise.resolve());
    // One gateway per store: the counters are assigned in one process.
    const release = await holdSessionLock(where.postgres ?? '', `glasshouse/gateway\n${schema}`);
    if (release === null) {
      await sql.close();
      throw new AccessError('STATE_LOCKED', 'another gateway uses this record store');
    }
    return new RecordStore(sql, release);
  }

  /** The customer's highest counter so far (0 when none). */
  async lastCounter(customer: string): Promise<number> {
    const rows = await this.#sql.all<{ c: string | number | null }>(
      'SELECT MAX(counter) AS c FROM records WHERE customer = $1',
      [customer],
    );
    return Number(rows[0]?.c ?? 0);
  }

  /**
   * Stores a record with its counter before it is logged; durable on resolve.
   * `logged` are earlier records now known to be in the log: marked in the
   * same transaction, so a mark costs no commit (and fsync) of its own.
   */
  async reserve(
    customer: string,
    counter: number,
    record: Uint8Array,
    logged: readonly LoggedMark[] = [],
  ): Promise<void> {
    const insert = (q: SqlQueries): Promise<number> =>
      q.run('INSERT INTO records (customer, counter, record) VALUES ($1, $2, $3)', [
        customer,
        counter,
        record,
      ]);
    try {
      if (logged.length === 0) await insert(this.#sql);
      else {
        await this.#sql.tx(async (q) => {
          await insert(q);
          for (const m of logged) await q.run(MARK_LOGGED, [m.customer, m.counter, m.index]);
        });
      }
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new AccessError('STORE_FAILED', 'this counter is already taken', {
          cause: err,
          evidence: { customer, counter },
        });
      }
      throw err;
    }
  }

  /** Records the log index of a stored record. */
  async markLogged(customer: string, counter: number, index: bigint): Promise<void> {
    await this.#sql.run(MARK_LOGGED, [customer, counter, index]);
  }

  /** Records stored but not known to be in the log, by customer and counter. */
  async unlogged(): Promise<PendingRecord[]> {
    const rows = await this.#sql.all<{
      customer: string;
      counter: string | number;
      record: Buffer;
    }>(
      'SELECT customer, counter, record FROM records WHERE log_index IS NULL ORDER BY customer, counter',
    );
    return rows.map((r) => ({
      customer: r.customer,
      counter: Number(r.counter),
      record: new Uint8Array(r.record.buffer, r.record.byteOffset, r.record.byteLength),
    }));
  }

  async close(): Promise<void> {
    await this.#sql.close();
    await this.#unlock();
  }
}

/** A PostgreSQL session advisory lock on its own connection; null when another session holds it. */
async function holdSessionLock(url: string, label: string): Promise<(() => Promise<void>) | null> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
      advisoryLockKey(label),
    ]);
    if (r.rows[0]?.ok !== true) {
      await client.end();
      return null;
    }
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw new AccessError('STORE_FAILED', 'cannot take the gateway lock', { cause });
  }
  client.on('error', () => undefined); // a dropped lock connection surfaces on the next query
  return async () => {
    await client.end().catch(() => undefined);
  };
}
