/**
 * The index service's state on SQLite: one database file in the service's
 * data directory, held exclusively (a second process is refused with
 * `INDEX_STATE_LOCKED`), WAL with synchronous FULL (see @glasshouse/db).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '@glasshouse/db';
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

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, tail TEXT NOT NULL,
     published_size INTEGER NOT NULL, output_index INTEGER NOT NULL, entry BLOB NOT NULL);
   CREATE TABLE customers (customer TEXT PRIMARY KEY, count INTEGER NOT NULL, peaks BLOB NOT NULL);
   CREATE TABLE keys (idx INTEGER PRIMARY KEY, customer TEXT NOT NULL);`,
];

export const INDEX_STATE_FILE = 'access-index.db';

export interface SqliteIndexStoreOptions {
  /** The data directory (created 0700 if missing). */
  readonly dir: string;
  /** File name inside `dir`; default `access-index.db`. */
  readonly file?: string;
}

export function openSqliteIndexStore(opts: SqliteIndexStoreOptions): IndexStore {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  try {
    return new SqliteIndexStore(
      openSqlite(join(opts.dir, opts.file ?? INDEX_STATE_FILE), { migrations: MIGRATIONS }),
    );
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new AccessError('INDEX_STATE_LOCKED', `${opts.dir} is in use by another process`, {
        cause,
        evidence: { dir: opts.dir },
      });
    }
    throw new AccessError('INDEX_STORAGE_FAILED', 'cannot open the index state', {
      cause,
      evidence: { dir: opts.dir },
    });
  }
}

interface MetaRow {
  size: number;
  tail: string;
  published_size: number;
  output_index: number;
  entry: Buffer;
}

class SqliteIndexStore implements IndexStore {
  readonly #db: Database.Database;
  #closed = false;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- sync driver, async contract
  async load(): Promise<IndexSnapshot> {
    this.#open();
    const meta = this.#db.prepare('SELECT * FROM meta WHERE id = 1').get() as MetaRow | undefined;
    if (meta === undefined) {
      return { tail: null, customers: [], published: null };
    }
    const peaks = (
      this.#db.prepare('SELECT customer, count, peaks FROM customers').all() as {
        customer: string;
        count: number;
        peaks: Buffer;
      }[]
    ).map((r): CustomerPeaks => ({
      customer: r.customer,
      count: r.count,
      peaks: decodePeaks(new Uint8Array(r.peaks)),
    }));
    const keys = this.#db
      .prepare('SELECT idx, customer FROM keys ORDER BY idx')
      .raw()
      .iterate() as IterableIterator<[number, string]>;
    const customers = assembleCustomers(
      peaks,
      (function* () {
        for (const [index, customer] of keys) yield { index, customer };
      })(),
    );
    const tail = decodeTail(meta.tail);
    return {
      tail,
      customers,
      published: {
        size: BigInt(meta.published_size),
        outputIndex: BigInt(meta.output_index),
        entry: new Uint8Array(meta.entry),
      },
    };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- sync driver, async contract
  async commit(c: IndexCommit): Promise<void> {
    this.#open();
    const db = this.#db;
    const putKey = db.prepare('INSERT INTO keys (idx, customer) VALUES (?, ?)');
    const putCustomer = db.prepare(
      `INSERT INTO customers (customer, count, peaks) VALUES (?, ?, ?)
       ON CONFLICT (customer) DO UPDATE SET count = excluded.count, peaks = excluded.peaks`,
    );
    const putMeta = db.prepare(
      `INSERT INTO meta (id, size, tail, published_size, output_index, entry) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET size = excluded.size, tail = excluded.tail,
         published_size = excluded.published_size, output_index = excluded.output_index, entry = excluded.entry`,
    );
    try {
      db.transaction(() => {
        const row = db.prepare('SELECT size FROM meta WHERE id = 1').get() as
          { size: number } | undefined;
        const stored = BigInt(row?.size ?? 0);
        if (stored !== c.fromSize) throw conflict(stored, c.fromSize);
        for (const k of c.keys) putKey.run(Number(k.index), k.customer);
        for (const p of c.customers) putCustomer.run(p.customer, p.count, encodePeaks(p.peaks));
        putMeta.run(
          Number(c.tail.size),
          encodeTail(c.tail),
          Number(c.published.size),
          Number(c.published.outputIndex),
          c.published.entry,
        );
      })();
    } catch (err) {
      if (err instanceof AccessError) throw err;
      throw new AccessError('INDEX_STORAGE_FAILED', 'cannot save the index state', { cause: err });
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #open(): void {
    if (this.#closed) throw new AccessError('CLOSED', 'the index store is closed');
  }
}
