/**
 * The index service's state on PostgreSQL, one schema per index. A commit
 * runs in one transaction that first locks the meta row and checks the
 * stored size, so of two services writing one schema only one revision at a
 * size is kept (`INDEX_STATE_CONFLICT` for the other).
 */
import type pg from 'pg';
import {
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  inTransaction,
} from '@glasshouse/db';
import { AccessError } from '../errors.js';
import {
  type CustomerPeaks,
  type IndexCommit,
  type IndexSnapshot,
  type IndexStore,
  assembleCustomers,
  conflict,
  decodePeaks,
  decodeTail,
  encodePeaks,
  encodeTail,
} from './store.js';

export interface PostgresIndexStoreOptions {
  /** Schema holding the tables (created if missing); default `access_index`. */
  readonly schema?: string;
  readonly poolSize?: number;
  readonly onIdleError?: (err: Error) => void;
}

/** Rows per INSERT when saving many keys at once. */
const INSERT_CHUNK = 5_000;

export async function openPostgresIndexStore(
  url: string,
  opts: PostgresIndexStoreOptions = {},
): Promise<IndexStore> {
  const schema = opts.schema ?? 'access_index';
  try {
    checkSchemaName(schema);
  } catch (cause) {
    throw new AccessError('CONFIG_INVALID', (cause as Error).message, { cause });
  }
  const pool = createPostgresPool(url, {
    applicationName: 'glasshouse-access-index',
    poolSize: opts.poolSize ?? 4,
    onIdleError: opts.onIdleError,
  });
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.meta (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL,
         tail TEXT NOT NULL, published_size BIGINT NOT NULL, output_index BIGINT NOT NULL, entry BYTEA NOT NULL);
       CREATE TABLE IF NOT EXISTS ${schema}.customers (customer TEXT PRIMARY KEY, count BIGINT NOT NULL, peaks BYTEA NOT NULL);
       CREATE TABLE IF NOT EXISTS ${schema}.keys (idx BIGINT PRIMARY KEY, customer TEXT NOT NULL);`,
    );
    await checkDurableCommits(
      pool,
      (cause) => new AccessError('INDEX_STORAGE_FAILED', cause.message, { cause }),
    );
  } catch (err) {
    await pool.end();
    if (err instanceof AccessError) throw err;
    throw new AccessError('INDEX_STORAGE_FAILED', 'cannot open the PostgreSQL index state', {
      cause: err,
      evidence: { schema },
    });
  }
  return new PostgresIndexStore(pool, schema);
}

class PostgresIndexStore implements IndexStore {
  readonly #pool: pg.Pool;
  readonly #s: string;
  #closed = false;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#s = schema;
  }

  async load(): Promise<IndexSnapshot> {
    this.#open();
    const s = this.#s;
    try {
      return await inTransaction(this.#pool, async (c) => {
        // One snapshot of all three tables.
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const meta = await c.query<{
          size: string;
          tail: string;
          published_size: string;
          output_index: string;
          entry: Buffer;
        }>(`SELECT size, tail, published_size, output_index, entry FROM ${s}.meta WHERE id = 1`);
        const row = meta.rows[0];
        if (row === undefined) return { tail: null, customers: [], published: null };
        const peaks = await c.query<{ customer: string; count: string; peaks: Buffer }>(
          `SELECT customer, count, peaks FROM ${s}.customers`,
        );
        const keys = await c.query<[string, string]>({
          text: `SELECT idx, customer FROM ${s}.keys ORDER BY idx`,
          rowMode: 'array',
        });
        const customers = assembleCustomers(
          peaks.rows.map((r): CustomerPeaks => ({
            customer: r.customer,
            count: Number(r.count),
            peaks: decodePeaks(new Uint8Array(r.peaks)),
          })),
          keys.rows.map(([idx, customer]) => ({ index: Number(idx), customer })),
        );
        return {
          tail: decodeTail(row.tail),
          customers,
          published: {
            size: BigInt(row.published_size),
            outputIndex: BigInt(row.output_index),
            entry: new Uint8Array(row.entry),
          },
        };
      });
    } catch (err) {
      throw wrap(err, 'cannot read the index state');
    }
  }

  async commit(ci: IndexCommit): Promise<void> {
    this.#open();
    const s = this.#s;
    try {
      await inTransaction(this.#pool, async (c) => {
        const cur = await c.query<{ size: string }>(
          `SELECT size FROM ${s}.meta WHERE id = 1 FOR UPDATE`,
        );
        if (cur.rows[0] === undefined) {
          // First commit: the insert below conflicts on the key if another writer raced us.
          if (ci.fromSize !== 0n) throw conflict(0n, ci.fromSize);
        } else if (BigInt(cur.rows[0].size) !== ci.fromSize) {
          throw conflict(BigInt(cur.rows[0].size), ci.fromSize);
        }
        for (let i = 0; i < ci.keys.length; i += INSERT_CHUNK) {
          const chunk = ci.keys.slice(i, i + INSERT_CHUNK);
          await c.query(
            `INSERT INTO ${s}.keys (idx, customer) SELECT * FROM unnest($1::bigint[], $2::text[])`,
            [chunk.map((k) => k.index.toString()), chunk.map((k) => k.customer)],
          );
        }
        for (let i = 0; i < ci.customers.length; i += INSERT_CHUNK) {
          const chunk = ci.customers.slice(i, i + INSERT_CHUNK);
          await c.query(
            `INSERT INTO ${s}.customers (customer, count, peaks)
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
             ON CONFLICT (customer) DO UPDATE SET count = excluded.count, peaks = excluded.peaks`,
            [
              chunk.map((p) => p.customer),
              chunk.map((p) => String(p.count)),
              chunk.map((p) => Buffer.from(encodePeaks(p.peaks))),
            ],
          );
        }
        await c.query(
          `INSERT INTO ${s}.meta (id, size, tail, published_size, output_index, entry)
             VALUES (1, $1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET size = excluded.size, tail = excluded.tail,
             published_size = excluded.published_size, output_index = excluded.output_index,
             entry = excluded.entry`,
          [
            ci.tail.size.toString(),
            encodeTail(ci.tail),
            ci.published.size.toString(),
            ci.published.outputIndex.toString(),
            Buffer.from(ci.published.entry),
          ],
        );
      });
    } catch (err) {
      if ((err as { code?: unknown }).code === '23505') {
        throw new AccessError('INDEX_STATE_CONFLICT', 'another writer saved the same entries', {
          cause: err,
        });
      }
      throw wrap(err, 'cannot save the index state');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  #open(): void {
    if (this.#closed) throw new AccessError('CLOSED', 'the index store is closed');
  }
}

function wrap(err: unknown, message: string): AccessError {
  if (err instanceof AccessError) return err;
  return new AccessError('INDEX_STORAGE_FAILED', message, { cause: err });
}
