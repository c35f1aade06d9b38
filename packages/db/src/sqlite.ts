import Database from 'better-sqlite3';
import { DbError } from './errors.js';

export interface OpenSqliteOptions {
  /**
   * `migrations[v]` moves the schema from version `v` to `v + 1`; the schema
   * version (`PRAGMA user_version`) this program writes is their count.
   */
  readonly migrations: readonly string[];
  /** Enforce REFERENCES clauses. Default false (SQLite's default). */
  readonly foreignKeys?: boolean;
  /** Integers come back as bigint (tree sizes are uint64). Default false. */
  readonly safeIntegers?: boolean;
  /**
   * Page size in bytes (a power of two, 512..65536) of a database created
   * now; an existing database keeps its own. Default SQLite's (4096).
   */
  readonly pageSize?: number;
}

/**
 * Opens (creating when missing) the SQLite database `file` the way every
 * service keeps its state: held exclusively until close, so a second process
 * on the same data directory fails at once with SQLITE_BUSY, and durable
 * (WAL with synchronous FULL: a commit is fsync'd before it returns). Then
 * migrates the schema; a database written by a newer program is refused
 * (DB_SCHEMA_NEWER). Errors from the driver pass through unchanged.
 */
export function openSqlite(file: string, opts: OpenSqliteOptions): Database.Database {
  const db = new Database(file, { timeout: 0 });
  try {
    if (opts.safeIntegers === true) db.defaultSafeIntegers(true);
    // Only a database without pages takes it: before WAL mode writes the first one.
    if (opts.pageSize !== undefined) db.pragma(`page_size = ${checkPageSize(opts.pageSize)}`);
    // Held until the process exits: one process per data directory.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // WAL + FULL: every commit is fsync'd before it returns.
    db.pragma('synchronous = FULL');
    if (opts.foreignKeys === true) db.pragma('foreign_keys = ON');
    migrateSqlite(db, opts.migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function checkPageSize(size: number): number {
  if (!Number.isInteger(size) || size < 512 || size > 65536 || (size & (size - 1)) !== 0) {
    throw new RangeError(`page size ${size} is not a power of two in 512..65536`);
  }
  return size;
}

/** Brings `db` to schema version `migrations.length` in one transaction. */
function migrateSqlite(db: Database.Database, migrations: readonly string[]): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  const supported = migrations.length;
  if (version > supported) {
    throw new DbError('DB_SCHEMA_NEWER', `database schema ${version} is newer than this program`, {
      evidence: { version, supported },
    });
  }
  // BEGIN IMMEDIATE also takes the exclusive lock now, so a second process fails here.
  db.transaction(() => {
    for (let v = version; v < supported; v++) db.exec(migrations[v] ?? '');
    db.pragma(`user_version = ${supported}`);
  }).immediate();
}
