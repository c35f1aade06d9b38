// Over 500 lines: one adapter of one port (storage.ts); its SQL, transactions and the integrator lease belong together.
/**
 * The PostgreSQL adapter of the storage port (`storage.ts`).
 *
 * Several stateless frontends, possibly on different machines, share one
 * database: each sequences writes, each serves tiles, and one at a time holds
 * the integrator lease. Everything a frontend needs therefore lives in the
 * database, tiles and entry bundles included; see the package README.
 *
 * Tables (in the configured schema):
 * - `log_meta`: one row holding `next_index`, the sequencing counter. It is
 *   row-locked by every sequencing transaction, which serialises index
 *   assignment across processes. A PostgreSQL sequence would be cheaper but
 *   leaves gaps when a transaction rolls back, and the port forbids gaps.
 * - `entries`: one row per sequenced entry, keyed by index, with a secondary
 *   index on the leaf hash for dedup.
 * - `state`: one row, the integrated state, moved by compare-and-swap on size.
 * - `tiles`: hash tiles and entry bundles by their tlog-tiles path.
 *
 * Durability: every write resolves only after its transaction committed, and
 * `openPostgresStorage` refuses a server whose sessions run with
 * `synchronous_commit = off` (a commit that may still be lost on a crash).
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import {
  advisoryLockKey,
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  inTransaction,
} from '@glasshouse/db';
import { HASH_SIZE } from '@glasshouse/tlog';
import { LogError } from './errors.js';
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

export interface PostgresStorageOptions {
  /** Schema holding the log's tables (created if missing); default `public`. One log per schema. */
  readonly schema?: string;
  /** Connections in the pool; default 10. The integrator lease uses one more, outside the pool. */
  readonly poolSize?: number;
  /**
   * Told about errors on idle connections. The pool already discards such a
   * connection and the next query opens a fresh one, so they are not fatal;
   * an app may want to log them.
   */
  readonly onIdleError?: (err: Error) => void;
}

/** Statements stay well below PostgreSQL's 1 GB message limit and a sane memory footprint. */
const MAX_STATEMENT_BYTES = 8 * 1024 * 1024;
const MAX_STATEMENT_ROWS = 10_000;
/** How often the lease holder checks its connection, and how long it waits for an answer. */
const LEASE_HEARTBEAT_MS = 1_000;
const LEASE_HEARTBEAT_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens (creating on first use) a log's storage in the PostgreSQL database at
 * `url` (`postgres://user@host:port/db`). Schema creation is idempotent and
 * serialised by an advisory lock, so several frontends may start at once.
 */
export async function openPostgresStorage(
  url: string,
  opts: PostgresStorageOptions = {},
): Promise<LogStorage> {
  const schema = opts.schema ?? 'public';
  try {
    checkSchemaName(schema);
  } catch (cause) {
    throw new LogError('BAD_REQUEST', (cause as Error).message, { cause, evidence: { schema } });
  }
  const pool = createPostgresPool(url, {
    applicationName: 'glasshouse-log',
    poolSize: opts.poolSize,
    onIdleError: opts.onIdleError,
  });
  try {
    const storage = new PostgresStorage(pool, url, schema);
    await storage.createSchema();
    await storage.checkDurability();
    return storage;
  } catch (err) {
    await pool.end();
    throw err instanceof LogError ? err : storageFailed('cannot open PostgreSQL storage', err);
  }
}

class PostgresStorage implements LogStorage {
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #schema: string;
  readonly #t: Tables;
  readonly #leaseKey: string;
  readonly #leases = new Set<PostgresLease>();
  #closed = false;

  constructor(pool: pg.Pool, url: string, schema: string) {
    this.#pool = pool;
    this.#url = url;
    this.#schema = schema;
    const q = (name: string): string => `${pg.escapeIdentifier(schema)}.${name}`;
    this.#t = { meta: q('log_meta'), entries: q('entries'), state: q('state'), tiles: q('tiles') };
    this.#leaseKey = advisoryLockKey(`glasshouse/log integrator lease\n${schema}`);
  }

  async createSchema(): Promise<void> {
    const { meta, entries, state, tiles } = this.#t;
    await this.#transaction(async (c) => {
      // Two frontends starting at once would otherwise race on CREATE ... IF NOT EXISTS,
      // which is not atomic against a concurrent creator.
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [
        advisoryLockKey(`glasshouse/log schema\n${this.#schema}`),
      ]);
      if (this.#schema !== 'public') {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.#schema)}`);
      }
      await c.query(`
        CREATE TABLE IF NOT EXISTS ${meta} (
          id smallint PRIMARY KEY CHECK (id = 1),
          next_index bigint NOT NULL CHECK (next_index >= 0)
        );
        INSERT INTO ${meta} (id, next_index) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS ${entries} (
          idx bigint PRIMARY KEY CHECK (idx >= 0),
          leaf_hash bytea NOT NULL,
          data bytea NOT NULL
        );
        CREATE INDEX IF NOT EXISTS entries_leaf_hash ON ${entries} (leaf_hash);
        CREATE TABLE IF NOT EXISTS ${state} (
          id smallint PRIMARY KEY CHECK (id = 1),
          size bigint NOT NULL CHECK (size >= 0),
          checkpoint text NOT NULL,
          compact bytea[] NOT NULL
        );
        -- The published checkpoint moves apart from the signed one (witnessing).
        -- Rows from before these columns were served as they were: published.
        ALTER TABLE ${state} ADD COLUMN IF NOT EXISTS published_size bigint;
        ALTER TABLE ${state} ADD COLUMN IF NOT EXISTS published text;
        UPDATE ${state} SET published_size = size, published = checkpoint
          WHERE published IS NULL;
        CREATE TABLE IF NOT EXISTS ${tiles} (
          path text PRIMARY KEY,
          data bytea NOT NULL
        );
      `);
    });
  }

  /** Refuses sessions whose commits could be lost on a crash: the port promises durability on resolve. */
  async checkDurability(): Promise<void> {
    await checkDurableCommits(
      this.#pool,
      (cause) =>
        new LogError('STORAGE_FAILED', cause.message, { cause, evidence: cause.evidence ?? {} }),
    );
  }

  async sequence(entries: readonly PendingEntry[], opts: { dedup: boolean }): Promise<bigint[]> {
    this.#checkOpen();
    if (entries.length === 0) return [];
    for (const e of entries) checkHash(e.leafHash);
    return this.#guard('sequencing failed', () =>
      this.#transaction(async (c) => {
        // The row lock on the counter serialises sequencing across every process; it is
        // taken before the dedup lookup so that lookup sees every entry committed before us.
        const locked = await c.query<{ next_index: string }>(
          `SELECT next_index FROM ${this.#t.meta} WHERE id = 1 FOR UPDATE`,
        );
        const first = parseBigint(locked.rows[0]?.next_index, 'log_meta.next_index');

        // indices[i]: the original index of a duplicate, or the next free one for a new entry.
        const indices: bigint[] = new Array<bigint>(entries.length);
        const fresh: PendingEntry[] = [];
        if (opts.dedup) {
          const existing = await this.#findExisting(c, entries);
          // Positions of the entries first seen in this call, by leaf hash.
          const firstInCall = new Map<string, number[]>();
          entries.forEach((e, i) => {
            const key = hashKey(e.leafHash);
            const stored = existing.get(key)?.find((s) => sameBytes(s.data, e.data));
            if (stored !== undefined) {
              indices[i] = stored.index;
              return;
            }
            const seen = firstInCall.get(key) ?? [];
            const earlier = seen.find((j) => sameBytes(entryAt(entries, j).data, e.data));
            if (earlier !== undefined) {
              indices[i] = indexAt(indices, earlier);
              return;
            }
            indices[i] = first + BigInt(fresh.length);
            fresh.push(e);
            firstInCall.set(key, [...seen, i]);
          });
        } else {
          entries.forEach((e, i) => {
            indices[i] = first + BigInt(i);
            fresh.push(e);
          });
        }

        let next = first;
        for (const chunk of chunks(fresh, (e) => e.data.length + e.leafHash.length)) {
          // One statement per chunk, and the counter bump. The entries travel as
          // one binary bytea of concatenated bytes (and one of leaf hashes) cut
          // by offset and length: a text bytea[] would double every byte as hex.
          const packed = packEntries(chunk);
          await c.query(
            `WITH ins AS (
               INSERT INTO ${this.#t.entries} (idx, leaf_hash, data)
               SELECT $1::bigint + u.ord - 1,
                      substring($2::bytea FROM (u.ord::int - 1) * ${HASH_SIZE} + 1 FOR ${HASH_SIZE}),
                      substring($3::bytea FROM u.off + 1 FOR u.len)
               FROM unnest($4::int4[], $5::int4[]) WITH ORDINALITY AS u(off, len, ord)
             )
             UPDATE ${this.#t.meta} SET next_index = next_index + $6::bigint WHERE id = 1`,
            [
              next.toString(),
              packed.hashes,
              packed.data,
              packed.offsets,
              packed.lengths,
              chunk.length,
            ],
          );
          next += BigInt(chunk.length);
        }
        return indices;
      }),
    );
  }

  /** Entries already sequenced whose leaf hash is one of `entries`', grouped by hash, lowest index first. */
  async #findExisting(
    c: PoolClient,
    entries: readonly PendingEntry[],
  ): Promise<Map<string, { index: bigint; data: Uint8Array }[]>> {
    const byHash = new Map<string, { index: bigint; data: Uint8Array }[]>();
    const hashes = [...new Map(entries.map((e) => [hashKey(e.leafHash), e.leafHash])).values()];
    for (const chunk of chunks(hashes, (h) => h.length)) {
      const res = await c.query<{ idx: string; leaf_hash: Buffer; data: Buffer }>(
        `SELECT idx, leaf_hash, data FROM ${this.#t.entries}
         WHERE leaf_hash = ANY($1::bytea[]) ORDER BY idx`,
        [chunk],
      );
      for (const row of res.rows) {
        const key = hashKey(row.leaf_hash);
        const list = byHash.get(key) ?? [];
        list.push({ index: parseBigint(row.idx, 'entries.idx'), data: row.data });
        byHash.set(key, list);
      }
    }
    return byHash;
  }

  async sequencedSize(): Promise<bigint> {
    this.#checkOpen();
    return this.#guard('reading the sequenced size failed', async () => {
      const res = await this.#pool.query<{ next_index: string }>({
        name: `${this.#schema}.sequenced_size`,
        text: `SELECT next_index FROM ${this.#t.meta} WHERE id = 1`,
      });
      return parseBigint(res.rows[0]?.next_index, 'log_meta.next_index');
    });
  }

  async readEntries(start: bigint, count: number): Promise<SequencedEntry[]> {
    this.#checkOpen();
    if (start < 0n || !Number.isSafeInteger(count) || count < 0) {
      throw new LogError('BAD_REQUEST', 'readEntries needs start >= 0 and a count >= 0', {
        evidence: { start, count },
      });
    }
    if (count === 0) return [];
    return this.#guard('reading entries failed', async () => {
      const res = await this.#pool.query<{ idx: string; leaf_hash: Buffer; data: Buffer }>({
        name: `${this.#schema}.read_entries`,
        text: `SELECT idx, leaf_hash, data FROM ${this.#t.entries}
               WHERE idx >= $1::bigint AND idx < $1::bigint + $2::bigint ORDER BY idx`,
        values: [start.toString(), count],
      });
      return res.rows.map((row, i) => {
        const index = parseBigint(row.idx, 'entries.idx');
        if (index !== start + BigInt(i)) {
          throw new LogError('STORAGE_CORRUPT', 'sequenced entries have a gap', {
            evidence: { expected: start + BigInt(i), found: index },
          });
        }
        return { index, leafHash: bytes(row.leaf_hash), data: bytes(row.data) };
      });
    });
  }

  async readState(): Promise<IntegratedState | null> {
    this.#checkOpen();
    return this.#guard('reading the integrated state failed', async () => {
      const res = await this.#pool.query<{ size: string; checkpoint: string; compact: Buffer[] }>(
        `SELECT size, checkpoint, compact FROM ${this.#t.state} WHERE id = 1`,
      );
      const row = res.rows[0];
      if (row === undefined) return null;
      return {
        size: parseBigint(row.size, 'state.size'),
        checkpoint: row.checkpoint,
        compactHashes: row.compact.map(bytes),
      };
    });
  }

  async casState(expectedSize: bigint | null, next: IntegratedState): Promise<boolean> {
    this.#checkOpen();
    next.compactHashes.forEach(checkHash);
    return this.#guard('storing the integrated state failed', async () => {
      const values = [next.size.toString(), next.checkpoint, [...next.compactHashes]];
      const res =
        expectedSize === null
          ? await this.#pool.query(
              // The first state is also the first published checkpoint (storage.ts).
              `INSERT INTO ${this.#t.state} (id, size, checkpoint, compact, published_size, published)
               VALUES (1, $1::bigint, $2, $3::bytea[], $1::bigint, $2) ON CONFLICT (id) DO NOTHING`,
              values,
            )
          : await this.#pool.query(
              `UPDATE ${this.#t.state} SET size = $1::bigint, checkpoint = $2, compact = $3::bytea[]
               WHERE id = 1 AND size = $4::bigint`,
              [...values, expectedSize.toString()],
            );
      return res.rowCount === 1;
    });
  }

  async readPublished(): Promise<PublishedCheckpoint | null> {
    this.#checkOpen();
    return this.#guard('reading the published checkpoint failed', async () => {
      const res = await this.#pool.query<{
        published_size: string | null;
        published: string | null;
      }>(`SELECT published_size, published FROM ${this.#t.state} WHERE id = 1`);
      const row = res.rows[0];
      if (row === undefined) return null;
      if (row.published_size === null || row.published === null) {
        throw new LogError('STORAGE_CORRUPT', 'the state has no published checkpoint');
      }
      return {
        size: parseBigint(row.published_size, 'state.published_size'),
        checkpoint: row.published,
      };
    });
  }

  async casPublished(expectedSize: bigint, next: PublishedCheckpoint): Promise<boolean> {
    this.#checkOpen();
    if (next.size < expectedSize) return false;
    return this.#guard('storing the published checkpoint failed', async () => {
      // One statement: the published size moves by CAS and never beyond the signed size.
      const res = await this.#pool.query(
        `UPDATE ${this.#t.state} SET published_size = $1::bigint, published = $2
         WHERE id = 1 AND published_size = $3::bigint AND size >= $1::bigint`,
        [next.size.toString(), next.checkpoint, expectedSize.toString()],
      );
      return res.rowCount === 1;
    });
  }

  async writeTiles(tiles: readonly TileWrite[]): Promise<void> {
    this.#checkOpen();
    if (tiles.length === 0) return;
    for (const t of tiles) checkTilePath(t.path);
    await this.#guard('writing tiles failed', async () => {
      for (const chunk of chunks(tiles, (t) => t.data.length + t.path.length)) {
        const res = await this.#pool.query<{ path: string }>(
          `INSERT INTO ${this.#t.tiles} (path, data)
           SELECT * FROM unnest($1::text[], $2::bytea[])
           ON CONFLICT (path) DO NOTHING RETURNING path`,
          [chunk.map((t) => t.path), chunk.map((t) => t.data)],
        );
        if (res.rows.length === chunk.length) continue;
        // Some paths existed already (a redo after a crash, or the same path twice in
        // one call). Tiles are immutable: the stored bytes must be exactly ours. This is a
        // separate statement so it also sees rows committed by a concurrent writer.
        const inserted = new Set(res.rows.map((r) => r.path));
        const conflicts = chunk.filter((t) => !inserted.has(t.path));
        const stored = await this.#pool.query<{ path: string; data: Buffer }>(
          `SELECT path, data FROM ${this.#t.tiles} WHERE path = ANY($1::text[])`,
          [conflicts.map((t) => t.path)],
        );
        const byPath = new Map(stored.rows.map((r) => [r.path, r.data]));
        for (const t of conflicts) {
          const have = byPath.get(t.path);
          if (have === undefined || !sameBytes(have, t.data)) {
            throw new LogError('TILE_CONFLICT', `tile ${t.path} exists with different content`, {
              evidence: { path: t.path, stored: have ?? null, written: t.data },
            });
          }
        }
      }
    });
  }

  async readTile(path: string): Promise<Uint8Array | null> {
    this.#checkOpen();
    checkTilePath(path);
    return this.#guard('reading a tile failed', async () => {
      const res = await this.#pool.query<{ data: Buffer }>({
        name: `${this.#schema}.read_tile`,
        text: `SELECT data FROM ${this.#t.tiles} WHERE path = $1`,
        values: [path],
      });
      const row = res.rows[0];
      return row === undefined ? null : bytes(row.data);
    });
  }

  async tryAcquireIntegratorLease(): Promise<IntegratorLease | null> {
    this.#checkOpen();
    const lease = await this.#guard('acquiring the integrator lease failed', () =>
      PostgresLease.tryAcquire(this.#url, this.#leaseKey, (l) => this.#leases.delete(l)),
    );
    if (lease !== null) this.#leases.add(lease);
    return lease;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const leases = [...this.#leases];
    this.#leases.clear();
    await Promise.all(leases.map((l) => l.release()));
    await this.#pool.end();
  }

  #checkOpen(): void {
    if (this.#closed) throw new LogError('CLOSED', 'the PostgreSQL storage is closed');
  }

  /** Runs `fn` on one pooled connection inside BEGIN ... COMMIT; rolls back on any error. */
  #transaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.#pool, fn);
  }

  /** Maps driver errors to coded ones; our own coded errors pass through. */
  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof LogError) throw err;
      throw storageFailed(what, err);
    }
  }
}

interface Tables {
  readonly meta: string;
  readonly entries: string;
  readonly state: string;
  readonly tiles: string;
}

/**
 * The integrator lease: a session-level advisory lock held on a dedicated
 * connection. PostgreSQL releases it when that session ends — the holder
 * released it, its process died (the kernel closes the socket), or the
 * server's TCP keepalive found the peer gone (a dead machine) — so another
 * frontend's next `tryAcquireIntegratorLease` succeeds.
 */
class PostgresLease implements IntegratorLease {
  readonly #client: pg.Client;
  readonly #key: string;
  readonly #onGone: (l: PostgresLease) => void;
  #held = true;
  #heartbeat: NodeJS.Timeout | undefined;

  private constructor(client: pg.Client, key: string, onGone: (l: PostgresLease) => void) {
    this.#client = client;
    this.#key = key;
    this.#onGone = onGone;
    client.on('error', () => {
      this.#abandon();
    });
    client.on('end', () => {
      this.#lost();
    });
    this.#heartbeat = setInterval(() => {
      this.#beat();
    }, LEASE_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  static async tryAcquire(
    url: string,
    key: string,
    onGone: (l: PostgresLease) => void,
  ): Promise<PostgresLease | null> {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: LEASE_HEARTBEAT_TIMEOUT_MS,
      // Client side: notice a dead server or network, so the holder stops integrating.
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      application_name: 'glasshouse-log-lease',
    });
    // Until the lease owns the client, an error here only fails this attempt.
    const onEarlyError = (): void => undefined;
    client.on('error', onEarlyError);
    try {
      await client.connect();
      // Server side: notice a dead holder machine in seconds rather than the OS default of
      // hours, so its lock is released and another frontend can take over.
      await client.query(
        'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3',
      );
      const res = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS ok',
        [key],
      );
      if (res.rows[0]?.ok !== true) {
        await client.end();
        return null;
      }
    } catch (err) {
      await client.end().catch((endErr: unknown) => {
        throw new AggregateError([err, endErr], 'lease connection failed and did not close');
      });
      throw err;
    } finally {
      client.off('error', onEarlyError);
    }
    return new PostgresLease(client, key, onGone);
  }

  isHeld(): boolean {
    return this.#held;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#lost();
    // Unlock explicitly so the lock is free when this resolves (ending the session frees
    // it too, but the server may finish that a moment later). Neither step can fail in a
    // way that leaves the lock held: a broken connection means the server is ending the
    // session, and with it the lock, on its own.
    await this.#client.query('SELECT pg_advisory_unlock($1::bigint)', [this.#key]).then(
      () => undefined,
      () => undefined,
    );
    await this.#client.end().then(
      () => undefined,
      () => undefined,
    );
  }

  /** A connection that stops answering may be half-open; give the lease up rather than trust it. */
  #beat(): void {
    this.#client.query('SELECT 1').then(
      () => undefined,
      () => {
        this.#abandon();
      },
    );
  }

  /** The connection failed: stop claiming the lease and drop the connection. */
  #abandon(): void {
    if (!this.#held) return;
    this.#lost();
    this.#client.end().then(
      () => undefined,
      () => undefined, // already broken; the server ends the session, and the lock, on its own
    );
  }

  #lost(): void {
    this.#held = false;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#onGone(this);
  }
}

/** A signed 64-bit advisory lock key derived from a label, as a decimal string. */
/** int8 columns arrive as decimal strings (they do not fit a JS number); parse them strictly. */
function parseBigint(value: string | undefined, what: string): bigint {
  if (value === undefined || !/^-?[0-9]+$/.test(value)) {
    throw new LogError('STORAGE_CORRUPT', `${what} is missing or not an integer`, {
      evidence: { what, value: value ?? null },
    });
  }
  return BigInt(value);
}

function storageFailed(what: string, cause: unknown): LogError {
  return new LogError('STORAGE_FAILED', what, { cause });
}

function checkHash(h: Uint8Array): void {
  if (h.length !== HASH_SIZE) {
    throw new LogError('BAD_REQUEST', `hash is ${h.length} bytes, want ${HASH_SIZE}`, {
      evidence: { length: h.length },
    });
  }
}

/** A view of a driver buffer as the plain byte array the port speaks. */
function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function hashKey(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function entryAt(entries: readonly PendingEntry[], i: number): PendingEntry {
  const e = entries[i];
  if (e === undefined) throw new RangeError(`no entry at ${i}`);
  return e;
}

function indexAt(indices: readonly bigint[], i: number): bigint {
  const index = indices[i];
  if (index === undefined) throw new RangeError(`no index at ${i}`);
  return index;
}

/** Splits `items` into runs that each fit one statement. */
/** Entries as two buffers (sent as binary parameters) and the offsets and lengths that cut them. */
function packEntries(entries: readonly PendingEntry[]): {
  data: Buffer;
  hashes: Buffer;
  offsets: number[];
  lengths: number[];
} {
  const offsets: number[] = [];
  const lengths: number[] = [];
  let total = 0;
  for (const e of entries) {
    offsets.push(total);
    lengths.push(e.data.length);
    total += e.data.length;
  }
  const data = Buffer.allocUnsafe(total);
  const hashes = Buffer.allocUnsafe(entries.length * HASH_SIZE);
  entries.forEach((e, i) => {
    data.set(e.data, offsets[i]);
    hashes.set(e.leafHash, i * HASH_SIZE);
  });
  return { data, hashes, offsets, lengths };
}

function* chunks<T>(items: readonly T[], size: (item: T) => number): Generator<T[]> {
  let run: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (run.length > 0 && (bytes + n > MAX_STATEMENT_BYTES || run.length >= MAX_STATEMENT_ROWS)) {
      yield run;
      run = [];
      bytes = 0;
    }
    run.push(item);
    bytes += n;
  }
  if (run.length > 0) yield run;
}
