// Over 500 lines: everything that runs on the SQLite worker thread must live in this one loadable module.
/**
 * The thread side of the embedded storage (`sqlite.ts` is the other side).
 *
 * better-sqlite3 is synchronous, and with `synchronous=FULL` every commit
 * waits for an fsync. Run on the main thread, that wait stops the event loop:
 * no request is parsed while a batch commits, so the next batch cannot grow.
 * Here it runs on a worker thread instead, one of two roles:
 *
 * - `db`: owns the one SQLite connection (sequencing, reads, both CASes).
 *   Requests are answered one at a time, in the order they were sent.
 * - `files`: writes tiles and bundles with synchronous fs calls, so a
 *   round's writes do not wait for an event-loop turn between steps.
 *
 * It loads the same way from the compiled output and from the sources
 * (`sqlite.ts` bundles it with the workspace packages it imports).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import {
  openSqlite,
  type ThreadAnswer,
  type ThreadReady,
  type WireError as DbWireError,
} from '@glasshouse/db';
import { hasCode } from '@glasshouse/errors';
import { bytesEqual } from '@glasshouse/tlog';

const HASH_SIZE = 32;

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

/** What the thread is started with. */
export interface WorkerInit {
  readonly role: 'db' | 'files';
  readonly dir: string;
}

/**
 * Entries packed into transferable buffers: one buffer of concatenated
 * bytes, their lengths, and their leaf hashes (32 bytes each).
 */
export interface PackedEntries {
  /** Only read back (`readEntries`): each entry's index. */
  readonly indices?: BigInt64Array;
  readonly data: Uint8Array;
  readonly lengths: Uint32Array;
  readonly hashes: Uint8Array;
}

/** A failure as it crosses the thread boundary (code: a LogError code, when the thread knows). */
export type WireError = DbWireError;

export type Request =
  | { id: number; op: 'sequence'; entries: PackedEntries; dedup: boolean }
  | { id: number; op: 'snapshot' }
  | { id: number; op: 'readEntries'; start: bigint; count: number }
  | { id: number; op: 'readState' }
  | {
      id: number;
      op: 'casState';
      expectedSize: bigint | null;
      size: bigint;
      checkpoint: string;
      compact: Uint8Array;
    }
  | { id: number; op: 'readPublished' }
  | { id: number; op: 'casPublished'; expectedSize: bigint; size: bigint; checkpoint: string }
  | { id: number; op: 'writeTiles'; tiles: { path: string; data: Uint8Array }[] }
  | { id: number; op: 'close' };

export type Response = ThreadAnswer;

/** What `sequence` answers: the indices, and the sequenced size after the commit. */
export interface Sequenced {
  readonly indices: bigint[];
  readonly size: bigint;
}

export interface StateRow {
  size: bigint;
  checkpoint: string;
  compact: Uint8Array;
}

export interface PublishedRow {
  size: bigint;
  published_size: bigint | null;
  published: string | null;
}

/** Everything the main thread keeps a copy of, read once after opening. */
export interface Snapshot {
  readonly size: bigint;
  readonly state: StateRow | null;
  readonly published: PublishedRow | null;
}

/** Sent once at start-up: opened, or why not. */
export type Ready = ThreadReady;

/** An error with a LogError code, thrown inside the thread. */
class Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly evidence?: Record<string, unknown>,
  ) {
    super(message);
  }
}

interface EntryRow {
  idx: bigint;
  data: Buffer;
  leaf_hash: Buffer;
}

/** The SQLite connection and every statement; synchronous, one caller. */
class Db {
  readonly #db: Database.Database;
  readonly #sequenceTx: Database.Transaction<(e: PackedEntries, dedup: boolean) => bigint[]>;
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
    mkdirSync(dir, { recursive: true });
    let db: Database.Database;
    try {
      db = openSqlite(join(dir, 'log.sqlite'), { migrations: MIGRATIONS, safeIntegers: true });
    } catch (err) {
      if (!hasCode(err, 'DB_SCHEMA_NEWER')) throw err;
      throw new Fault('STORAGE_CORRUPT', err.message, err.evidence ?? {});
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
    this.#sequenceTx = db.transaction((e: PackedEntries, dedup: boolean) =>
      this.#sequenceIn(e, dedup),
    );
  }

  /** BEGIN IMMEDIATE: the write lock is taken before the size is read. */
  sequence(entries: PackedEntries, dedup: boolean): bigint[] {
    return this.#sequenceTx.immediate(entries, dedup);
  }

  #sequenceIn(entries: PackedEntries, dedup: boolean): bigint[] {
    let next = this.sequencedSize();
    const out: bigint[] = [];
    // Within one call: first occurrence wins (keyed by leaf hash, bytes compared).
    const inBatch = new Map<string, { data: Uint8Array; index: bigint }[]>();
    let at = 0;
    for (let i = 0; i < entries.lengths.length; i++) {
      const length = entries.lengths[i] ?? 0;
      const data = entries.data.subarray(at, at + length);
      at += length;
      const leafHash = entries.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      const prefix = leafPrefix(leafHash);
      if (dedup) {
        const key = Buffer.from(leafHash).toString('hex');
        const seen = inBatch.get(key)?.find((s) => bytesEqual(s.data, data));
        if (seen !== undefined) {
          out.push(seen.index);
          continue;
        }
        const stored = this.#stmt.byPrefix
          .all(prefix)
          .find((r) => bytesEqual(r.leaf_hash, leafHash) && bytesEqual(r.data, data));
        if (stored !== undefined) {
          out.push(stored.idx);
          continue;
        }
        const list = inBatch.get(key) ?? [];
        list.push({ data, index: next });
        inBatch.set(key, list);
      }
      this.#stmt.insert.run(next, data, leafHash, prefix);
      out.push(next);
      next++;
    }
    return out;
  }

  sequencedSize(): bigint {
    return this.#stmt.size.get()?.n ?? 0n;
  }

  /** The entries of `[start, start+count)` that exist, in order, packed. */
  readEntries(start: bigint, count: number): PackedEntries {
    const rows = count === 0 ? [] : this.#stmt.range.all(start, start + BigInt(count));
    let total = 0;
    rows.forEach((r) => {
      if (r.leaf_hash.length !== HASH_SIZE) {
        throw new Fault('STORAGE_CORRUPT', `entry ${r.idx} has a leaf hash of the wrong size`, {
          index: r.idx.toString(),
          length: r.leaf_hash.length,
        });
      }
      total += r.data.length;
    });
    const indices = new BigInt64Array(rows.length);
    const data = new Uint8Array(total);
    const lengths = new Uint32Array(rows.length);
    const hashes = new Uint8Array(rows.length * HASH_SIZE);
    let at = 0;
    rows.forEach((r, i) => {
      data.set(r.data, at);
      at += r.data.length;
      indices[i] = r.idx;
      lengths[i] = r.data.length;
      hashes.set(r.leaf_hash, i * HASH_SIZE);
    });
    return { indices, data, lengths, hashes };
  }

  readState(): StateRow | null {
    return this.#stmt.readState.get() ?? null;
  }

  casState(
    expectedSize: bigint | null,
    size: bigint,
    checkpoint: string,
    compact: Uint8Array,
  ): boolean {
    const tx = this.#db.transaction((): boolean => {
      const current = this.#stmt.readState.get();
      if (expectedSize === null) {
        if (current !== undefined) return false;
        this.#stmt.insertState.run(size, checkpoint, compact, size, checkpoint);
        return true;
      }
      if (current?.size !== expectedSize) return false;
      return this.#stmt.updateState.run(size, checkpoint, compact, expectedSize).changes === 1;
    });
    return tx.immediate();
  }

  readPublished(): PublishedRow | null {
    return this.#stmt.readPublished.get() ?? null;
  }

  casPublished(expectedSize: bigint, size: bigint, checkpoint: string): boolean {
    const tx = this.#db.transaction((): boolean => {
      const current = this.#stmt.readPublished.get();
      if (current?.published_size !== expectedSize) return false;
      if (size < expectedSize || size > current.size) return false;
      return this.#stmt.updatePublished.run(size, checkpoint, expectedSize).changes === 1;
    });
    return tx.immediate();
  }

  close(): void {
    this.#db.close();
  }
}

/**
 * Tile and bundle files under `<dir>/tiles`, written through `<dir>/tmp`.
 * Callers pass canonical tlog-tiles paths only (checked by `sqlite.ts`).
 */
class Files {
  readonly #tilesRoot: string;
  readonly #tmpDir: string;
  readonly #knownDirs = new Set<string>();

  constructor(dir: string) {
    this.#tilesRoot = join(dir, 'tiles');
    this.#tmpDir = join(dir, 'tmp');
  }

  /**
   * Every file is written in full and fsync'd before it gets its name, so a
   * tile path never points at a partial file, even after a crash. `link()`
   * never replaces an existing file: an existing tile is compared instead.
   * Each directory that got a new name is fsync'd once, before returning.
   */
  write(tiles: readonly { path: string; data: Uint8Array }[]): void {
    const touched = new Set<string>();
    for (const tile of tiles) {
      const file = join(this.#tilesRoot, tile.path);
      const dir = dirname(file);
      this.#ensureDir(dir);
      const tmp = join(this.#tmpDir, randomBytes(12).toString('hex'));
      const fd = openSync(tmp, 'wx', 0o644);
      try {
        for (let at = 0; at < tile.data.length;) {
          at += writeSync(fd, tile.data, at, tile.data.length - at);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(tmp, file);
        touched.add(dir);
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
        const existing = readFileSync(file);
        if (!bytesEqual(existing, tile.data)) {
          throw new Fault('TILE_CONFLICT', `${tile.path} exists with different content`, {
            path: tile.path,
            storedLength: existing.length,
            length: tile.data.length,
          });
        }
        // The same bytes are there already; an earlier round may have
        // crashed before its directory fsync, so sync it here as well.
        touched.add(dir);
      } finally {
        unlinkSync(tmp);
      }
    }
    for (const dir of touched) fsyncDir(dir);
  }

  /** mkdir -p, then fsync the parent of every directory it created. */
  #ensureDir(dir: string): void {
    if (this.#knownDirs.has(dir)) return;
    const first = mkdirSync(dir, { recursive: true });
    if (first !== undefined) {
      for (let d = dir; ; d = dirname(d)) {
        fsyncDir(dirname(d));
        if (d === first || d === dirname(d)) break;
      }
    }
    this.#knownDirs.add(dir);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function leafPrefix(leafHash: Uint8Array): bigint {
  return Buffer.from(leafHash.buffer, leafHash.byteOffset, 8).readBigInt64BE(0);
}

function wireError(err: unknown): WireError {
  if (err instanceof Fault) {
    return {
      code: err.code,
      message: err.message,
      ...(err.evidence === undefined ? {} : { evidence: err.evidence }),
    };
  }
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  return {
    message,
    cause: { message, ...(typeof e.code === 'string' ? { code: e.code } : {}) },
  };
}

/** Answers one request; throws what the caller should see. */
function handle(req: Request, db: Db | null, files: Files | null): unknown {
  if (req.op === 'close') {
    // Answered after every earlier request of this thread.
    db?.close();
    return null;
  }
  if (req.op === 'writeTiles') {
    if (files === null) throw new Fault('STORAGE_FAILED', 'not the files thread');
    files.write(req.tiles);
    return null;
  }
  if (db === null) throw new Fault('STORAGE_FAILED', 'not the database thread');
  switch (req.op) {
    case 'sequence': {
      const indices = db.sequence(req.entries, req.dedup);
      return { indices, size: db.sequencedSize() } satisfies Sequenced;
    }
    case 'snapshot':
      return {
        size: db.sequencedSize(),
        state: db.readState(),
        published: db.readPublished(),
      } satisfies Snapshot;
    case 'readEntries':
      return db.readEntries(req.start, req.count);
    case 'readState':
      return db.readState();
    case 'casState':
      return db.casState(req.expectedSize, req.size, req.checkpoint, req.compact);
    case 'readPublished':
      return db.readPublished();
    case 'casPublished':
      return db.casPublished(req.expectedSize, req.size, req.checkpoint);
  }
}

function serve(): void {
  const port = parentPort;
  if (port === null) return; // imported, not started as a thread
  const init = workerData as WorkerInit;
  let db: Db | null = null;
  let files: Files | null = null;
  try {
    if (init.role === 'db') {
      db = new Db(init.dir);
      // Leftovers of writes interrupted by a crash; never linked into the tree.
      // Emptied only by the thread that holds the directory lock.
      rmSync(join(init.dir, 'tmp'), { recursive: true, force: true });
      mkdirSync(join(init.dir, 'tmp'), { recursive: true });
      mkdirSync(join(init.dir, 'tiles'), { recursive: true });
    } else {
      files = new Files(init.dir);
    }
  } catch (err) {
    port.postMessage({ ready: false, error: wireError(err) } satisfies Ready);
    return;
  }
  port.on('message', (req: Request) => {
    let res: Response;
    const transfer: ArrayBuffer[] = [];
    try {
      const value = handle(req, db, files);
      if (req.op === 'readEntries') {
        const packed = value as PackedEntries;
        transfer.push(
          (packed.indices as BigInt64Array).buffer as ArrayBuffer,
          packed.data.buffer as ArrayBuffer,
          packed.lengths.buffer as ArrayBuffer,
          packed.hashes.buffer as ArrayBuffer,
        );
      }
      res = { id: req.id, ok: true, value };
    } catch (err) {
      res = { id: req.id, ok: false, error: wireError(err) };
    }
    port.postMessage(res, transfer);
    if (req.op === 'close' && res.ok) port.close();
  });
  port.postMessage({ ready: true } satisfies Ready);
}

serve();
