/**
 * Where verified tails keep their state: one SQLite database per data
 * directory (held exclusively, WAL + synchronous FULL, see @glasshouse/db).
 * Per log, the last verified checkpoint with its compact range and, when the
 * owner keeps them, the verified entries; plus a small JSON record per log
 * for the owner's own summary and the keys of alerts already sent. A commit
 * writes the new state, the entries and the record in one transaction, so
 * after a crash the state never claims more than was applied.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '@glasshouse/db';
import { HASH_SIZE, decodeBase64Strict, encodeBase64 } from '@glasshouse/tlog';
import { TelemetryError } from '../errors.js';
import type { TailEntry, TailState } from './tail.js';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tails (log TEXT PRIMARY KEY, state TEXT NOT NULL);
   CREATE TABLE tail_entries (log TEXT NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (log, idx));
   CREATE TABLE tail_records (log TEXT PRIMARY KEY, record TEXT NOT NULL);
   CREATE TABLE alerted (key TEXT PRIMARY KEY);`,
];

export interface TailCommit {
  readonly state: TailState;
  /** Entries to keep (the view keeps the residency log's; the monitor keeps none of a site's). */
  readonly entries?: readonly TailEntry[];
  /** The owner's JSON record for this log, replaced. */
  readonly record?: unknown;
}

export class TailStore {
  readonly #db: Database.Database;
  #closed = false;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Opens `<dir>/<file>`; a second process on the same directory is refused (`STATE_LOCKED`). */
  static open(dir: string, file: string): TailStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      return new TailStore(openSqlite(join(dir, file), { migrations: MIGRATIONS }));
    } catch (cause) {
      if ((cause as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new TelemetryError('STATE_LOCKED', `${dir} is in use by another process`, {
          cause,
          evidence: { dir },
        });
      }
      throw cause;
    }
  }

  state(log: string): TailState | null {
    const row = this.#db.prepare('SELECT state FROM tails WHERE log = ?').get(log) as
      { state: string } | undefined;
    return row === undefined ? null : decodeTailState(row.state);
  }

  /** The kept entries of `log`, in index order. */
  entries(log: string): TailEntry[] {
    const rows = this.#db
      .prepare('SELECT idx, data FROM tail_entries WHERE log = ? ORDER BY idx')
      .all(log) as { idx: number; data: Buffer }[];
    return rows.map((r) => ({ index: BigInt(r.idx), data: new Uint8Array(r.data) }));
  }

  entry(log: string, index: bigint): Uint8Array | undefined {
    const row = this.#db
      .prepare('SELECT data FROM tail_entries WHERE log = ? AND idx = ?')
      .get(log, Number(index)) as { data: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.data);
  }

  record(log: string): unknown {
    const row = this.#db.prepare('SELECT record FROM tail_records WHERE log = ?').get(log) as
      { record: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.record) as unknown);
  }

  /** Every log with a stored state. */
  logs(): string[] {
    return (this.#db.prepare('SELECT log FROM tails ORDER BY log').all() as { log: string }[]).map(
      (r) => r.log,
    );
  }

  /** Atomic and durable when it returns. */
  commit(log: string, c: TailCommit): void {
    const putState = this.#db.prepare(
      'INSERT INTO tails (log, state) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET state = excluded.state',
    );
    const putEntry = this.#db.prepare(
      'INSERT OR IGNORE INTO tail_entries (log, idx, data) VALUES (?, ?, ?)',
    );
    const putRecord = this.#db.prepare(
      'INSERT INTO tail_records (log, record) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET record = excluded.record',
    );
    this.#db.transaction(() => {
      putState.run(log, encodeTailState(c.state));
      for (const e of c.entries ?? []) putEntry.run(log, Number(e.index), e.data);
      if (c.record !== undefined) putRecord.run(log, JSON.stringify(c.record));
    })();
  }

  /** Saves only the owner's record (e.g. a verification result that did not advance the state). */
  putRecord(log: string, record: unknown): void {
    this.#db
      .prepare(
        'INSERT INTO tail_records (log, record) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET record = excluded.record',
      )
      .run(log, JSON.stringify(record));
  }

  hasAlerted(key: string): boolean {
    return this.#db.prepare('SELECT 1 FROM alerted WHERE key = ?').get(key) !== undefined;
  }

  /** Durable when it returns. */
  addAlerted(key: string): void {
    this.#db.prepare('INSERT OR IGNORE INTO alerted (key) VALUES (?)').run(key);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

interface StoredState {
  v: 1;
  origin: string;
  checkpoint: string;
  size: string;
  compact: string[];
}

/** A tail state as the JSON text the stores keep (shared with other stores of tail states). */
export function encodeTailState(s: TailState): string {
  const stored: StoredState = {
    v: 1,
    origin: s.origin,
    checkpoint: s.checkpoint,
    size: s.size.toString(),
    compact: s.compact.map(encodeBase64),
  };
  return JSON.stringify(stored);
}

/** Reads `encodeTailState` text back; `STATE_CORRUPT` when it does not decode. */
export function decodeTailState(text: string): TailState {
  const corrupt = (why: string): TelemetryError =>
    new TelemetryError('STATE_CORRUPT', `stored tail state: ${why}`);
  let s: Partial<StoredState> | null;
  try {
    s = JSON.parse(text) as Partial<StoredState> | null;
  } catch {
    throw corrupt('not JSON');
  }
  if (
    s === null ||
    s.v !== 1 ||
    typeof s.origin !== 'string' ||
    typeof s.checkpoint !== 'string' ||
    typeof s.size !== 'string' ||
    !/^(?:0|[1-9][0-9]{0,19})$/.test(s.size) ||
    !Array.isArray(s.compact)
  ) {
    throw corrupt('missing or malformed fields');
  }
  return {
    origin: s.origin,
    checkpoint: s.checkpoint,
    size: BigInt(s.size),
    compact: s.compact.map((h) => {
      const bytes = typeof h === 'string' ? decodeBase64Strict(h) : undefined;
      if (bytes?.length !== HASH_SIZE) throw corrupt('a hash is not base64 of 32 bytes');
      return bytes;
    }),
  };
}
