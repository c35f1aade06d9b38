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
 *
 * The SQLite connection lives on a worker thread (`sqlite-worker.ts`), and
 * tile files are written on a second one: a commit's fsync never stops
 * this thread's event loop, so requests keep being parsed (and the next
 * batch keeps growing) while a batch commits. Every call still resolves
 * only once the thread answered, i.e. after the commit or fsync.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ThreadChannel } from '@glasshouse/db';
import { LogError, type LogErrorCode } from './errors.js';
import { checkTilePath } from './tilepath.js';
import type {
  IntegratedState,
  IntegratorLease,
  LogStorage,
  PendingEntry,
  PublishedCheckpoint,
  SequencedEntry,
  TileWrite,
} from './storage.js';
import type {
  PackedEntries,
  PublishedRow,
  Request,
  Sequenced,
  Snapshot,
  StateRow,
  WireError,
  WorkerInit,
} from './sqlite-worker.js';

const HASH_SIZE = 32;

export interface SqliteStorageOptions {
  /** The data directory; created when missing. */
  readonly dir: string;
}

/** Opens (creating or migrating) the embedded storage of the log in `dir`. */
export async function openSqliteStorage(opts: SqliteStorageOptions): Promise<SqliteStorage> {
  // Both threads start at once; only the database thread touches the
  // directory when starting (it takes the lock, then empties tmp/).
  const [db, files] = await Promise.allSettled([
    startChannel({ role: 'db', dir: opts.dir }),
    startChannel({ role: 'files', dir: opts.dir }),
  ]);
  if (db.status === 'rejected' || files.status === 'rejected') {
    for (const r of [db, files]) if (r.status === 'fulfilled') await r.value.stop();
    throw db.status === 'rejected' ? db.reason : (files as PromiseRejectedResult).reason;
  }
  let snapshot: Snapshot;
  try {
    snapshot = await db.value.call<Snapshot>({ op: 'snapshot' });
  } catch (err) {
    await db.value.stop();
    await files.value.stop();
    throw err;
  }
  return new SqliteStorage(opts.dir, db.value, files.value, snapshot);
}

/** One worker thread (`sqlite-worker`) and the requests waiting for its answers. */
type Channel = ThreadChannel<Request>;

/** Starts a thread and resolves once it opened what it owns. */
function startChannel(init: WorkerInit): Promise<Channel> {
  return ThreadChannel.start<Request>(import.meta.url, 'sqlite-worker', init, {
    startFailed: (cause) =>
      new LogError('STORAGE_FAILED', 'the storage thread failed to start', { cause }),
    notReady: (error) => openError(error, init.dir),
    refused: fromWire,
    stopped: (cause) => new LogError('STORAGE_FAILED', 'the storage thread stopped', { cause }),
    closed: () => new LogError('CLOSED', 'storage is closed'),
  });
}

function fromWire(e: WireError): LogError {
  const cause =
    e.cause === undefined ? undefined : Object.assign(new Error(e.cause.message), e.cause);
  if (e.code !== undefined) {
    return new LogError(e.code as LogErrorCode, e.message, {
      ...(cause === undefined ? {} : { cause }),
      ...(e.evidence === undefined ? {} : { evidence: e.evidence }),
    });
  }
  return new LogError('STORAGE_FAILED', 'SQLite operation failed', { cause: cause ?? e.message });
}

function openError(e: WireError, dir: string): LogError {
  if (e.code !== undefined) return fromWire(e);
  const cause = Object.assign(new Error(e.message), e.cause ?? {});
  if (e.cause?.code === 'SQLITE_BUSY') {
    return new LogError(
      'DATA_DIR_LOCKED',
      `${dir} is in use by another process (one process per data directory)`,
      { cause, evidence: { dir } },
    );
  }
  return new LogError('STORAGE_FAILED', `cannot open the database in ${dir}`, {
    cause,
    evidence: { dir },
  });
}

export class SqliteStorage implements LogStorage {
  readonly dir: string;
  readonly #db: Channel;
  readonly #files: Channel;
  readonly #tilesRoot: string;
  #leaseHeld = false;
  #closed = false;
  /**
   * Copies of the sequenced size, the state row and the published columns.
   * This process is the only writer (the exclusive lock), so they move only
   * here, when the database thread reports a commit that changed them: a
   * read answered from them sees every write that resolved before it.
   */
  #size: bigint;
  #state: StateRow | null;
  #published: PublishedRow | null;

  /** Use {@link openSqliteStorage}. */
  constructor(dir: string, db: Channel, files: Channel, snapshot: Snapshot) {
    this.dir = dir;
    this.#db = db;
    this.#files = files;
    this.#tilesRoot = join(dir, 'tiles');
    this.#size = snapshot.size;
    this.#state = snapshot.state;
    this.#published = snapshot.published;
  }

  sequence(entries: readonly PendingEntry[], opts: { dedup: boolean }): Promise<bigint[]> {
    return this.#run(async () => {
      // Packed into three buffers that move to the thread without a copy.
      let total = 0;
      for (const e of entries) {
        checkLeafHash(e.leafHash);
        total += e.data.length;
      }
      const data = new Uint8Array(total);
      const lengths = new Uint32Array(entries.length);
      const hashes = new Uint8Array(entries.length * HASH_SIZE);
      let at = 0;
      entries.forEach((e, i) => {
        data.set(e.data, at);
        at += e.data.length;
        lengths[i] = e.data.length;
        hashes.set(e.leafHash, i * HASH_SIZE);
      });
      const packed: PackedEntries = { data, lengths, hashes };
      const done = await this.#db.call<Sequenced>(
        { op: 'sequence', entries: packed, dedup: opts.dedup },
        [data.buffer, lengths.buffer, hashes.buffer],
      );
      if (done.size > this.#size) this.#size = done.size;
      return done.indices;
    });
  }

  sequencedSize(): Promise<bigint> {
    return this.#run(() => {
      this.#db.checkAlive();
      return this.#size;
    });
  }

  readEntries(start: bigint, count: number): Promise<SequencedEntry[]> {
    return this.#run(async () => {
      if (start < 0n || !Number.isSafeInteger(count) || count < 0) {
        throw new LogError('BAD_REQUEST', 'readEntries needs start >= 0 and a count >= 0', {
          evidence: { start: start.toString(), count },
        });
      }
      if (count === 0) return [];
      const packed = await this.#db.call<PackedEntries>({ op: 'readEntries', start, count });
      const out: SequencedEntry[] = [];
      let at = 0;
      packed.lengths.forEach((length, i) => {
        out.push({
          index: packed.indices?.[i] ?? 0n,
          data: packed.data.subarray(at, at + length),
          leafHash: packed.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE),
        });
        at += length;
      });
      return out;
    });
  }

  readState(): Promise<IntegratedState | null> {
    return this.#run(() => {
      this.#db.checkAlive();
      return this.#state === null ? null : stateFromRow(this.#state);
    });
  }

  casState(expectedSize: bigint | null, next: IntegratedState): Promise<boolean> {
    return this.#run(async () => {
      const row: StateRow = {
        size: next.size,
        checkpoint: next.checkpoint,
        compact: concatHashes(next.compactHashes),
      };
      const swapped = await this.#db.call<boolean>({
        op: 'casState',
        expectedSize,
        size: row.size,
        checkpoint: row.checkpoint,
        compact: row.compact,
      });
      if (swapped) {
        this.#state = row;
        // The first state is also the first published checkpoint (storage.ts).
        if (expectedSize === null) {
          this.#published = { size: row.size, published_size: row.size, published: row.checkpoint };
        } else if (this.#published !== null) {
          this.#published = { ...this.#published, size: row.size };
        }
      }
      return swapped;
    });
  }

  readPublished(): Promise<PublishedCheckpoint | null> {
    return this.#run(() => {
      this.#db.checkAlive();
      const row = this.#published;
      if (row === null) return null;
      if (row.published_size === null || row.published === null) {
        throw new LogError('STORAGE_CORRUPT', 'the state has no published checkpoint');
      }
      return { size: row.published_size, checkpoint: row.published };
    });
  }

  casPublished(expectedSize: bigint, next: PublishedCheckpoint): Promise<boolean> {
    return this.#run(async () => {
      const swapped = await this.#db.call<boolean>({
        op: 'casPublished',
        expectedSize,
        size: next.size,
        checkpoint: next.checkpoint,
      });
      if (swapped && this.#published !== null) {
        this.#published = {
          ...this.#published,
          published_size: next.size,
          published: next.checkpoint,
        };
      }
      return swapped;
    });
  }

  writeTiles(tiles: readonly TileWrite[]): Promise<void> {
    return this.#run(async () => {
      // Checked here, before anything reaches the file system.
      const checked = tiles.map((t) => {
        this.#fileOf(t.path);
        return { path: t.path, data: t.data };
      });
      if (checked.length === 0) return;
      await this.#files.call<null>({ op: 'writeTiles', tiles: checked });
    });
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
    checkTilePath(path);
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Each thread answers after every request sent to it before (tile
    // writes in flight finish); closing the database releases the lock.
    try {
      await Promise.all([
        this.#db.call<null>({ op: 'close' }),
        this.#files.call<null>({ op: 'close' }),
      ]);
    } finally {
      await Promise.all([this.#db.stop(), this.#files.stop()]);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new LogError('CLOSED', 'storage is closed');
  }

  async #run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#checkOpen();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof LogError) throw err;
      throw new LogError('STORAGE_FAILED', 'SQLite operation failed', { cause: err });
    }
  }
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
