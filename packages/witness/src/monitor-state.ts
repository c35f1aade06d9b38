import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '@glasshouse/db';
import { HASH_SIZE, decodeBase64Strict, encodeBase64 } from '@glasshouse/tlog';
import { WitnessError } from './errors.js';

/**
 * What the monitor knows after verifying a checkpoint: enough to resume
 * recomputing the tree without reading old entries.
 */
export interface MonitorState {
  readonly origin: string;
  /** The verified checkpoint, as the signed note the log served. */
  readonly checkpoint: string;
  readonly size: bigint;
  readonly root: Uint8Array;
  /** The compact range at `size` (RFC 9162 §2.1.1 subtree roots, largest first). */
  readonly compact: readonly Uint8Array[];
  /**
   * Per tile level L, the hashes of the rightmost, incomplete tile at `size`
   * (tree level 8·L; level 0 holds leaf hashes). The next catch-up compares
   * the bigger tiles and bundles the log serves against them, so what was
   * verified once can never silently change.
   */
  readonly edge: readonly (readonly Uint8Array[])[];
}

/**
 * The monitor's persistence port. `load` returns the last saved state or
 * null; `save` MUST be atomic (all of the state or none of it) and durable
 * when its promise resolves. An implementation MUST refuse to be opened by a
 * second monitor at the same time (`MONITOR_STATE_LOCKED`).
 */
export interface MonitorStateStore {
  load(): Promise<MonitorState | null>;
  save(state: MonitorState): Promise<void>;
  /** Keys of the alerts already sent (one per piece of evidence), kept across restarts. */
  alertedKeys(): Promise<ReadonlySet<string>>;
  /** Adds sent alerts' keys; MUST be durable when the promise resolves. */
  addAlertedKeys(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

const MONITOR_MIGRATIONS: readonly string[] = [
  // v1 (IF NOT EXISTS: stores made before the schema had a version)
  'CREATE TABLE IF NOT EXISTS monitor_state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)',
  // v2: keys of the alerts already sent
  'CREATE TABLE monitor_alerted (key TEXT PRIMARY KEY)',
];

/** File name of the state database inside the monitor's directory. */
export const MONITOR_DB_FILE = 'monitor.db';

/**
 * The embedded store: one SQLite row in `<dir>/monitor.db`. The database is
 * opened in exclusive locking mode and held until close, so the kernel
 * keeps a second monitor out of the directory and releases the lock when
 * the process dies (kill -9 included).
 */
export class SqliteMonitorStateStore implements MonitorStateStore {
  readonly #db: Database.Database;
  #closed = false;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  static open(dir: string): SqliteMonitorStateStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let db: Database.Database;
    try {
      // Held until close: one monitor per directory.
      db = openSqlite(join(dir, MONITOR_DB_FILE), { migrations: MONITOR_MIGRATIONS });
    } catch (cause) {
      if ((cause as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new WitnessError(
          'MONITOR_STATE_LOCKED',
          `${dir} is in use by another monitor (one monitor per state directory)`,
          { cause, evidence: { dir } },
        );
      }
      throw cause;
    }
    return new SqliteMonitorStateStore(db);
  }

  load(): Promise<MonitorState | null> {
    this.#checkOpen();
    const row = this.#db.prepare('SELECT data FROM monitor_state WHERE id = 1').get() as
      { data: string } | undefined;
    return Promise.resolve(row === undefined ? null : decodeMonitorState(row.data));
  }

  save(state: MonitorState): Promise<void> {
    this.#checkOpen();
    this.#db
      .prepare(
        'INSERT INTO monitor_state (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data',
      )
      .run(encodeMonitorState(state));
    return Promise.resolve();
  }

  alertedKeys(): Promise<ReadonlySet<string>> {
    this.#checkOpen();
    const rows = this.#db.prepare('SELECT key FROM monitor_alerted').all() as { key: string }[];
    return Promise.resolve(new Set(rows.map((r) => r.key)));
  }

  addAlertedKeys(keys: readonly string[]): Promise<void> {
    this.#checkOpen();
    const insert = this.#db.prepare('INSERT OR IGNORE INTO monitor_alerted (key) VALUES (?)');
    this.#db.transaction(() => {
      for (const key of keys) insert.run(key);
    })();
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the monitor state store is closed');
  }
}

interface StoredState {
  v: 1;
  origin: string;
  checkpoint: string;
  size: string;
  root: string;
  compact: string[];
  edge: string[][];
}

export function encodeMonitorState(s: MonitorState): string {
  const stored: StoredState = {
    v: 1,
    origin: s.origin,
    checkpoint: s.checkpoint,
    size: s.size.toString(),
    root: encodeBase64(s.root),
    compact: s.compact.map(encodeBase64),
    edge: s.edge.map((level) => level.map(encodeBase64)),
  };
  return JSON.stringify(stored);
}

export function decodeMonitorState(text: string): MonitorState {
  const corrupt = (why: string, cause?: unknown): WitnessError =>
    new WitnessError('MONITOR_STATE_CORRUPT', `stored monitor state: ${why}`, { cause });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw corrupt('not JSON', cause);
  }
  const s = raw as Partial<StoredState> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    s.v !== 1 ||
    typeof s.origin !== 'string' ||
    typeof s.checkpoint !== 'string' ||
    typeof s.size !== 'string' ||
    !/^(?:0|[1-9][0-9]{0,19})$/.test(s.size) ||
    !Array.isArray(s.compact) ||
    !Array.isArray(s.edge)
  ) {
    throw corrupt('missing or malformed fields');
  }
  const hash = (b64: unknown): Uint8Array => {
    const h = typeof b64 === 'string' ? decodeBase64Strict(b64) : undefined;
    if (h?.length !== HASH_SIZE) throw corrupt('a hash is not base64 of 32 bytes');
    return h;
  };
  return {
    origin: s.origin,
    checkpoint: s.checkpoint,
    size: BigInt(s.size),
    root: hash(s.root),
    compact: s.compact.map(hash),
    edge: s.edge.map((level) => {
      if (!Array.isArray(level)) throw corrupt('edge is not a list of lists');
      return level.map(hash);
    }),
  };
}
