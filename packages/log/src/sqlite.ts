/**
 * The embedded storage adapter: SQLite (entries and the integrated state)
 * plus plain files (tiles and entry bundles) under one data directory.
 *
 *     <dir>/log.sqlite        entries, state (WAL, synchronous=FULL)
 *     <dir>/tiles/tile/...    tiles and bundles by their tlog-tiles path
 *     <dir>/tmp/              files being written (emptied on open)
 *
 * Tiles live in files because they are immutable, written once, and read
 * far more often than anything else: a file per tile can be served (or
 * copied to a CDN or object store) as it is, and keeps the database small.
 *
 * One process per data directory: the database is opened with SQLite's
 * exclusive locking mode, so the process holds an OS file lock for as long
 * as it lives; the kernel drops it when the process dies, even on kill -9.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { LogError } from './errors.js';
import { canonicalTilePath } from './tilepath.js';
import type {
  IntegratedState,
  IntegratorLease,
  LogStorage,
  PendingEntry,
  PublishedCheckpoint,
  SequencedEntry,
  TileWrite,
} from './storage.js';

const SCHEMA_VERSION = 2;
const HASH_SIZE = 32;
/** Concurrent file writes per writeTiles call (libuv's pool has 4 threads). */
const WRITE_CONCURRENCY = 8;

const MIGRATIONS: readonly string[] = [
  // v1
  `CREATE TABLE entries (
     idx INTEGER PRIMARY KEY,
     data BLOB NOT NULL,
     leaf_hash BLOB NOT NULL,
     -- first 8 bytes of the leaf hash: a small index for dedup lookups
     leaf_prefix INTEGER NOT NULL
   );
   CREATE INDEX entries_by_leaf_prefix ON entries (leaf_prefix);
   CREATE TABLE state (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     size INTEGER NOT NULL,
     checkpoint TEXT NOT NULL,
     compact BLOB NOT NULL
   );`,
  // v2: the published checkpoint moves apart from the signed one (witnessing).
  // Before v2 every stored checkpoint was served, so it starts out published.
  `ALTER TABLE state ADD COLUMN published_size INTEGER;
   ALTER TABLE state ADD COLUMN published TEXT;
   UPDATE state SET published_size = size, published = checkpoint;`,
];

interface EntryRow {
  idx: bigint;
  data: Buffer;
  leaf_hash: Buffer;
}

interface StateRow {
  size: bigint;
  checkpoint: string;
  compact: Buffer;
}

interface PublishedRow {
  size: bigint;
  published_size: bigint | null;
  published: string | null;
}

export interface SqliteStorageOptions {
  /** The data directory; created when missing. */
  readonly dir: string;
}

/** Opens (creating or migrating) the embedded storage of the log in `dir`. */
export function openSqliteStorage(opts: SqliteStorageOptions): Promise<SqliteStorage> {
  // Synchronous on purpose: opening takes the directory lock, and a failure
  // must not leave a half-open handle behind.
  try {
    return Promise.resolve(new SqliteStorage(opts.dir));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export class SqliteStorage implements LogStorage {
  readonly dir: string;
  readonly #db: Database.Database;
  readonly #tilesRoot: string;
  readonly #tmpDir: string;
  readonly #knownDirs = new Set<string>();
  #leaseHeld = false;
  #closed = false;

  readonly #sequenceTx: Database.Transaction<
    (entries: readonly PendingEntry[], dedup: boolean) => bigint[]
  >;
  readonly #stmt: {
    size: Database.Statement<[], { n: bigint }>;
    insert: Database.Statement<[bigint, Uint8Array, Uint8Array, bigint]>;
    byPrefix: Database.Statement<[bigint], EntryRow>;
    range: Database.Statement<[bigint, bigint], EntryRow>;
    readState: Database.Statement<[], StateRow>;
    insertState: Database.Statement<[bigint, string, Uint8Array, bigint, string]>;
    updateState: Database.Statement<[bigint, string, Uint8Array, bigint]>;
    readPublished: Database.Statement<[], PublishedRow>;
    updatePublished: Database.Statement<[bigint, string, bigint]>;
  };

  constructor(dir: string) {
    this.dir = dir;
    this.#tilesRoot = join(dir, 'tiles');
    this.#tmpDir = join(dir, 'tmp');
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, 'log.sqlite'), { timeout: 0 });
    try {
      db.defaultSafeIntegers(true);
      // Held until the process exits: one process per data directory.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      // WAL + FULL: every commit is fsync'd before it returns.
      db.pragma('synchronous = FULL');
      migrate(db);
    } catch (cause) {
      db.close();
      if ((cause as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new LogError(
          'DATA_DIR_LOCKED',
          `${dir} is in use by another process (one process per data directory)`,
          { cause, evidence: { dir } },
        );
      }
      throw new LogError('STORAGE_FAILED', `cannot open the database in ${dir}`, {
        cause,
        evidence: { dir },
      });
    }
    this.#db = db;
    this.#stmt = {
      size: db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM entries'),
      insert: db.prepare(
        'INSERT INTO entries (idx, data, leaf_hash, leaf_prefix) VALUES (?, ?, ?, ?)',
      ),
      byPrefix: db.prepare('SELECT idx, data, leaf_hash FROM entries WHERE leaf_prefix = ?'),
      range: db.prepare(
        'SELECT idx, data, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
      ),
      readState: db.prepare('SELECT size, checkpoint, compact FROM state WHERE id = 1'),
      // The first state is also the first published checkpoint (storage.ts).
      insertState: db.prepare(
        `INSERT INTO state (id, size, checkpoint, compact, published_size, published)
         VALUES (1, ?, ?, ?, ?, ?)`,
      ),
      updateState: db.prepare(
        'UPDATE state SET size = ?, checkpoint = ?, compact = ? WHERE id = 1 AND size = ?',
      ),
      readPublished: db.prepare('SELECT size, published_size, published FROM state WHERE id = 1'),
      updatePublished: db.prepare(
        'UPDATE state SET published_size = ?, published = ? WHERE id = 1 AND published_size = ?',
      ),
    };
    this.#sequenceTx = db.transaction((entries: readonly PendingEntry[], dedup: boolean) =>
      this.#sequenceIn(entries, dedup),
    );
    // Leftovers of writes interrupted by a crash; never linked into the tree.
    rmSync(this.#tmpDir, { recursive: true, force: true });
    mkdirSync(this.#tmpDir, { recursive: true });
    mkdirSync(this.#tilesRoot, { recursive: true });
  }

  sequence(entries: readonly PendingEntry[], opts: { dedup: boolean }): Promise<bigint[]> {
    // BEGIN IMMEDIATE: the write lock is taken before the size is read.
    return this.#run(() => this.#sequenceTx.immediate(entries, opts.dedup));
  }

  #sequenceIn(entries: readonly PendingEntry[], dedup: boolean): bigint[] {
    let next = this.#sizeNow();
    const out: bigint[] = [];
    // Within one call: first occurrence wins (keyed by leaf hash, bytes compared).
    const inBatch = new Map<string, { data: Uint8Array; index: bigint }[]>();
    for (const e of entries) {
      checkLeafHash(e.leafHash);
      const prefix = leafPrefix(e.leafHash);
      if (dedup) {
        const key = Buffer.from(e.leafHash).toString('hex');
        const seen = inBatch.get(key)?.find((s) => bytesEqual(s.data, e.data));
        if (seen !== undefined) {
          out.push(seen.index);
          continue;
        }
        const stored = this.#stmt.byPrefix
          .all(prefix)
          .find((r) => bytesEqual(r.leaf_hash, e.leafHash) && bytesEqual(r.data, e.data));
        if (stored !== undefined) {
          out.push(stored.idx);
          continue;
        }
        const list = inBatch.get(key) ?? [];
        list.push({ data: e.data, index: next });
        inBatch.set(key, list);
      }
      this.#stmt.insert.run(next, e.data, e.leafHash, prefix);
      out.push(next);
      next++;
    }
    return out;
  }

  #sizeNow(): bigint {
    const row = this.#stmt.size.get();
    return row?.n ?? 0n;
  }

  sequencedSize(): Promise<bigint> {
    return this.#run(() => this.#sizeNow());
  }

  readEntries(start: bigint, count: number): Promise<SequencedEntry[]> {
    return this.#run(() => {
      if (start < 0n || !Number.isSafeInteger(count) || count < 0) {
        throw new LogError('BAD_REQUEST', 'readEntries needs start >= 0 and a count >= 0', {
          evidence: { start: start.toString(), count },
        });
      }
      if (count === 0) return [];
      return this.#stmt.range.all(start, start + BigInt(count)).map((r) => ({
        index: r.idx,
        data: new Uint8Array(r.data),
        leafHash: new Uint8Array(r.leaf_hash),
      }));
    });
  }

  readState(): Promise<IntegratedState | null> {
    return this.#run(() => {
      const row = this.#stmt.readState.get();
      return row === undefined ? null : stateFromRow(row);
    });
  }

  casState(expectedSize: bigint | null, next: IntegratedState): Promise<boolean> {
    return this.#run(() => {
      const compact = concatHashes(next.compactHashes);
      const tx = this.#db.transaction((): boolean => {
        const current = this.#stmt.readState.get();
        if (expectedSize === null) {
          if (current !== undefined) return false;
          this.#stmt.insertState.run(
            next.size,
            next.checkpoint,
            compact,
            next.size,
            next.checkpoint,
          );
          return true;
        }
        if (current?.size !== expectedSize) return false;
        return (
          this.#stmt.updateState.run(next.size, next.checkpoint, compact, expectedSize).changes ===
          1
        );
      });
      return tx.immediate();
    });
  }

  readPublished(): Promise<PublishedCheckpoint | null> {
    return this.#run(() => {
      const row = this.#stmt.readPublished.get();
      if (row === undefined) return null;
      if (row.published_size === null || row.published === null) {
        throw new LogError('STORAGE_CORRUPT', 'the state has no published checkpoint');
      }
      return { size: row.published_size, checkpoint: row.published };
    });
  }

  casPublished(expectedSize: bigint, next: PublishedCheckpoint): Promise<boolean> {
    return this.#run(() => {
      const tx = this.#db.transaction((): boolean => {
        const current = this.#stmt.readPublished.get();
        if (current?.published_size !== expectedSize) return false;
        if (next.size < expectedSize || next.size > current.size) return false;
        return (
          this.#stmt.updatePublished.run(next.size, next.checkpoint, expectedSize).changes === 1
        );
      });
      return tx.immediate();
    });
  }

  async writeTiles(tiles: readonly TileWrite[]): Promise<void> {
    this.#checkOpen();
    const queue = [...tiles];
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        await this.#writeTile(t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, queue.length) }, worker));
  }

  async #writeTile(tile: TileWrite): Promise<void> {
    const file = this.#fileOf(tile.path);
    const dir = dirname(file);
    await this.#ensureDir(dir);
    // Write the full content and fsync it before it gets its name, so a
    // tile path never points at a partial file, even after a crash.
    const tmp = join(this.#tmpDir, randomBytes(12).toString('hex'));
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(tile.data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      // link() never replaces an existing file: an existing tile is compared instead.
      await link(tmp, file);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
      const existing = await readFile(file);
      if (!bytesEqual(existing, tile.data)) {
        throw new LogError('TILE_CONFLICT', `${tile.path} exists with different content`, {
          evidence: { path: tile.path, storedLength: existing.length, length: tile.data.length },
        });
      }
    } finally {
      await unlink(tmp);
    }
    await fsyncDir(dir);
  }

  /** mkdir -p, then fsync the parent of every directory it created. */
  async #ensureDir(dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) {
      for (let d = dir; ; d = dirname(d)) {
        await fsyncDir(dirname(d));
        if (d === first || d === dirname(d)) break;
      }
    }
    this.#knownDirs.add(dir);
  }

  async readTile(path: string): Promise<Uint8Array | null> {
    this.#checkOpen();
    try {
      return new Uint8Array(await readFile(this.#fileOf(path)));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
      if (cause instanceof LogError) throw cause;
      throw new LogError('STORAGE_FAILED', `cannot read ${path}`, { cause });
    }
  }

  /** Only canonical tlog-tiles paths map to files: nothing can escape the tiles directory. */
  #fileOf(path: string): string {
    let canonical: string | undefined;
    try {
      canonical = canonicalTilePath(path);
    } catch (cause) {
      throw new LogError('TILE_PATH_UNSAFE', 'not a tlog-tiles path', {
        cause,
        evidence: { path: path.slice(0, 80) },
      });
    }
    if (canonical !== path) {
      throw new LogError('TILE_PATH_UNSAFE', 'not a canonical tlog-tiles path', {
        evidence: { path: path.slice(0, 80) },
      });
    }
    return join(this.#tilesRoot, path);
  }

  tryAcquireIntegratorLease(): Promise<IntegratorLease | null> {
    this.#checkOpen();
    // The directory lock already makes this the only process; the lease
    // only keeps two integrators of this process apart.
    if (this.#leaseHeld) return Promise.resolve(null);
    this.#leaseHeld = true;
    let released = false;
    const lease: IntegratorLease = {
      isHeld: () => !released && !this.#closed,
      release: () => {
        if (!released) {
          released = true;
          this.#leaseHeld = false;
        }
        return Promise.resolve();
      },
    };
    return Promise.resolve(lease);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new LogError('CLOSED', 'storage is closed');
  }

  #run<T>(fn: () => T): Promise<T> {
    try {
      this.#checkOpen();
      return Promise.resolve(fn());
    } catch (err) {
      if (err instanceof LogError) return Promise.reject(err);
      return Promise.reject(
        new LogError('STORAGE_FAILED', 'SQLite operation failed', { cause: err }),
      );
    }
  }
}

function migrate(db: Database.Database): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new LogError('STORAGE_CORRUPT', `database schema ${version} is newer than this program`, {
      evidence: { version, supported: SCHEMA_VERSION },
    });
  }
  // BEGIN IMMEDIATE also takes the exclusive lock now, so a second process fails here.
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] ?? '');
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function stateFromRow(row: StateRow): IntegratedState {
  if (row.compact.length % HASH_SIZE !== 0) {
    throw new LogError('STORAGE_CORRUPT', 'stored compact range is not a list of hashes', {
      evidence: { length: row.compact.length },
    });
  }
  const compactHashes: Uint8Array[] = [];
  for (let at = 0; at < row.compact.length; at += HASH_SIZE) {
    compactHashes.push(new Uint8Array(row.compact.subarray(at, at + HASH_SIZE)));
  }
  return { size: row.size, checkpoint: row.checkpoint, compactHashes };
}

function concatHashes(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => {
    checkLeafHash(h);
    out.set(h, i * HASH_SIZE);
  });
  return out;
}

function checkLeafHash(h: Uint8Array): void {
  if (h.length !== HASH_SIZE) {
    throw new LogError('BAD_REQUEST', `hash is ${h.length} bytes, want ${HASH_SIZE}`, {
      evidence: { length: h.length },
    });
  }
}

function leafPrefix(leafHash: Uint8Array): bigint {
  return Buffer.from(leafHash.buffer, leafHash.byteOffset, 8).readBigInt64BE(0);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
