/**
 * The embedded state adapter: one SQLite database in the witness's data
 * directory.
 *
 *     <dir>/witness.sqlite     known logs and each log's latest cosigned checkpoint
 *
 * Durability: WAL with synchronous=FULL, so every commit is fsync'd before it
 * returns and a cosignature is only answered for a persisted state.
 *
 * One process per data directory: the database is opened with SQLite's
 * exclusive locking mode, so the process holds an OS file lock for as long
 * as it lives; the kernel drops it when the process dies, even on kill -9.
 * (So `witness add-log` on a directory needs the server stopped; with
 * PostgreSQL it does not.)
 *
 * Sizes are stored as decimal TEXT: tree sizes are uint64 and SQLite's
 * INTEGER is signed 64-bit.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '@glasshouse/db';
import { hasCode } from '@glasshouse/errors';
import { WitnessError } from './errors.js';
import type { KnownLog, WitnessStateStore, WitnessedCheckpoint } from './state.js';

/** The database file inside a witness data directory. */
export const SQLITE_STATE_FILE = 'witness.sqlite';

const HASH_SIZE = 32;

const MIGRATIONS: readonly string[] = [
  // v1
  `CREATE TABLE logs (
     origin TEXT PRIMARY KEY
   ) STRICT;
   CREATE TABLE log_keys (
     origin TEXT NOT NULL REFERENCES logs (origin),
     position INTEGER NOT NULL,
     vkey TEXT NOT NULL,
     PRIMARY KEY (origin, vkey)
   ) STRICT;
   CREATE TABLE latest (
     origin TEXT PRIMARY KEY REFERENCES logs (origin),
     size TEXT NOT NULL,
     root_hash BLOB NOT NULL,
     note TEXT NOT NULL
   ) STRICT;`,
];

interface LatestRow {
  size: string;
  root_hash: Buffer;
  note: string;
}

export interface SqliteStateOptions {
  /** The data directory; created when missing. */
  readonly dir: string;
}

/** Opens (creating or migrating) the witness state in `dir`; fails with `DATA_DIR_LOCKED` if another process has it. */
export function openSqliteState(opts: SqliteStateOptions): Promise<SqliteState> {
  try {
    return Promise.resolve(new SqliteState(opts.dir));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export class SqliteState implements WitnessStateStore {
  readonly dir: string;
  readonly #db: Database.Database;
  #closed = false;
  readonly #stmt: {
    insertLog: Database.Statement<[string]>;
    hasLog: Database.Statement<[string], { origin: string }>;
    nextPosition: Database.Statement<[string], { n: number }>;
    insertKey: Database.Statement<[string, number, string]>;
    keys: Database.Statement<[string], { vkey: string }>;
    origins: Database.Statement<[], { origin: string }>;
    latest: Database.Statement<[string], LatestRow>;
    insertLatest: Database.Statement<[string, string, Uint8Array, string]>;
    updateLatest: Database.Statement<[string, Uint8Array, string, string, string]>;
  };
  readonly #addKeyTx: Database.Transaction<(origin: string, vkey: string) => void>;
  readonly #casTx: Database.Transaction<
    (origin: string, expected: bigint, next: WitnessedCheckpoint) => boolean
  >;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let db: Database.Database;
    try {
      db = openSqlite(join(dir, SQLITE_STATE_FILE), { migrations: MIGRATIONS, foreignKeys: true });
    } catch (cause) {
      if (hasCode(cause, 'DB_SCHEMA_NEWER')) {
        throw new WitnessError('STORAGE_CORRUPT', cause.message, {
          cause,
          evidence: cause.evidence ?? {},
        });
      }
      if ((cause as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new WitnessError(
          'DATA_DIR_LOCKED',
          `${dir} is in use by another process (one process per data directory)`,
          { cause, evidence: { dir } },
        );
      }
      if (cause instanceof WitnessError) throw cause;
      throw new WitnessError('STORAGE_FAILED', `cannot open the database in ${dir}`, {
        cause,
        evidence: { dir },
      });
    }
    this.#db = db;
    this.#stmt = {
      insertLog: db.prepare('INSERT OR IGNORE INTO logs (origin) VALUES (?)'),
      hasLog: db.prepare('SELECT origin FROM logs WHERE origin = ?'),
      nextPosition: db.prepare(
        'SELECT COALESCE(MAX(position) + 1, 0) AS n FROM log_keys WHERE origin = ?',
      ),
      insertKey: db.prepare(
        'INSERT OR IGNORE INTO log_keys (origin, position, vkey) VALUES (?, ?, ?)',
      ),
      keys: db.prepare('SELECT vkey FROM log_keys WHERE origin = ? ORDER BY position'),
      origins: db.prepare('SELECT origin FROM logs ORDER BY origin'),
      latest: db.prepare('SELECT size, root_hash, note FROM latest WHERE origin = ?'),
      insertLatest: db.prepare(
        'INSERT INTO latest (origin, size, root_hash, note) VALUES (?, ?, ?, ?)',
      ),
      updateLatest: db.prepare(
        'UPDATE latest SET size = ?, root_hash = ?, note = ? WHERE origin = ? AND size = ?',
      ),
    };
    this.#addKeyTx = db.transaction((origin: string, vkey: string) => {
      this.#stmt.insertLog.run(origin);
      const n = this.#stmt.nextPosition.get(origin)?.n ?? 0;
      this.#stmt.insertKey.run(origin, n, vkey);
    });
    this.#casTx = db.transaction((origin: string, expected: bigint, next: WitnessedCheckpoint) => {
      if (this.#stmt.hasLog.get(origin) === undefined) throw unknownLog(origin);
      const row = this.#stmt.latest.get(origin);
      // A log never cosigned counts as size 0 (c2sp.org/tlog-witness).
      if (row === undefined) {
        if (expected !== 0n) return false;
        this.#stmt.insertLatest.run(origin, next.size.toString(), next.rootHash, next.note);
        return true;
      }
      if (row.size !== expected.toString()) return false;
      const changes = this.#stmt.updateLatest.run(
        next.size.toString(),
        next.rootHash,
        next.note,
        origin,
        expected.toString(),
      ).changes;
      return changes === 1;
    });
  }

  addLogKey(origin: string, verifierKey: string): Promise<void> {
    return this.#run(() => {
      this.#addKeyTx.immediate(origin, verifierKey);
    });
  }

  getLog(origin: string): Promise<KnownLog | null> {
    return this.#run(() => this.#readLog(origin));
  }

  listLogs(): Promise<KnownLog[]> {
    return this.#run(() =>
      this.#stmt.origins.all().map(({ origin }) => this.#readLog(origin) as KnownLog),
    );
  }

  getLatest(origin: string): Promise<WitnessedCheckpoint | null> {
    return this.#run(() => {
      const row = this.#stmt.latest.get(origin);
      return row === undefined ? null : latestFromRow(row);
    });
  }

  casLatest(origin: string, expectedSize: bigint, next: WitnessedCheckpoint): Promise<boolean> {
    return this.#run(() => this.#casTx.immediate(origin, expectedSize, next));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #readLog(origin: string): KnownLog | null {
    if (this.#stmt.hasLog.get(origin) === undefined) return null;
    return { origin, verifierKeys: this.#stmt.keys.all(origin).map((r) => r.vkey) };
  }

  /** Runs a synchronous database call as a promise, mapping failures to coded errors. */
  #run<T>(fn: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new WitnessError('STORAGE_FAILED', 'the witness state is closed'));
    }
    try {
      return Promise.resolve(fn());
    } catch (cause) {
      if (cause instanceof WitnessError) return Promise.reject(cause);
      return Promise.reject(
        new WitnessError('STORAGE_FAILED', 'a witness state operation failed', { cause }),
      );
    }
  }
}

function latestFromRow(row: LatestRow): WitnessedCheckpoint {
  if (!/^(?:0|[1-9][0-9]{0,19})$/.test(row.size) || row.root_hash.length !== HASH_SIZE) {
    throw new WitnessError('STORAGE_CORRUPT', 'a stored checkpoint has a bad size or root', {
      evidence: { size: row.size, rootLength: row.root_hash.length },
    });
  }
  return { size: BigInt(row.size), rootHash: new Uint8Array(row.root_hash), note: row.note };
}

function unknownLog(origin: string): WitnessError {
  return new WitnessError('LOG_UNKNOWN', `no log is registered as ${origin}`, {
    evidence: { origin },
  });
}
