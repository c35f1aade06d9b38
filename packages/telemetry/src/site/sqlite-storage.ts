/**
 * The embedded site storage: one SQLite database (`site.sqlite`) in the
 * site's data directory, opened the way every service opens SQLite
 * (@glasshouse/db: exclusive lock, WAL, synchronous FULL — a commit is
 * fsync'd before it returns). Statements run synchronously on the caller's
 * thread; each port call is one transaction.
 *
 * Events live in a rowid table whose rowid is `batch * 1024 + index`, so a
 * batch's events are one contiguous key range: inserting appends, retention
 * deletes a range, and no second index is needed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { hasCode } from '@glasshouse/errors';
import { openSqlite } from '@glasshouse/db';
import { TelemetryError } from '../errors.js';
import { GroupCommit } from '../group-commit.js';
import {
  EVENTS_PER_BATCH_KEY,
  VERDICT_CODE,
  LIST_VERDICT_CODE,
  PendingFacts,
  createdAtBounds,
  factsFromValues,
  type FactsValues,
  hashBytes,
  verdictOfCode,
  withPending,
} from './storage-rows.js';
import type {
  BatchToStore,
  ReadScope,
  StoredBatchContent,
  StoredEvent,
  DeleteResult,
  HashFacts,
  SiteStorage,
  SiteSummary,
  StoredBatch,
  UnloggedEntry,
  VerdictToImport,
} from './storage.js';

const MIGRATIONS = [
  `
  CREATE TABLE log_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry BLOB NOT NULL,
    log_index INTEGER
  );
  CREATE INDEX log_entries_unlogged ON log_entries (id) WHERE log_index IS NULL;
  CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    batch_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    region TEXT NOT NULL,
    policy TEXT NOT NULL,
    product_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sealed_key BLOB NOT NULL,
    key_release TEXT NOT NULL,
    stored_at_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES log_entries (id),
    deleted_entry_id INTEGER REFERENCES log_entries (id)
  );
  CREATE INDEX batches_retention ON batches (stored_at_ms, id) WHERE deleted_entry_id IS NULL;
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    sha256 BLOB NOT NULL,
    rule TEXT,
    verdict INTEGER NOT NULL,
    time_bucket TEXT NOT NULL,
    personal BLOB NOT NULL
  );
  CREATE TABLE facts (
    sha256 BLOB PRIMARY KEY,
    first_seen TEXT,
    malicious INTEGER NOT NULL,
    suspicious INTEGER NOT NULL,
    reports INTEGER NOT NULL,
    list_verdict INTEGER
  ) WITHOUT ROWID;
  `,
  // The access gateway's read path: a customer's batches in store order.
  `CREATE INDEX batches_customer ON batches (customer, id);`,
  // Reputation facts are folded in from events in bulk: the facts table holds the events of
  // batches up to through_batch; later ones are counted in memory from the events table.
  // Every batch stored before this version is already in the facts table.
  `CREATE TABLE facts_folded (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     through_batch INTEGER NOT NULL
   );
   INSERT INTO facts_folded (id, through_batch) SELECT 1, COALESCE(MAX(id), 0) FROM batches;`,
];

/** Page size of a new site database. */
const PAGE_BYTES = 16 * 1024;

/** Events inserted by one statement (6 parameters each, well under SQLite's 32,766). */
const EVENT_ROWS_PER_INSERT = 50;

/** The page cache of the site database, KiB (SQLite's default is 2,000). */
const CACHE_KIB = 64 * 1024;

/**
 * Reputation counts of this many events are kept in memory before they are
 * folded into the facts table in one transaction. Random hashes put nearly
 * every event of a batch on its own facts page, so writing them per batch
 * writes a 4 KiB page per event; a fold writes each page once for many.
 */
const FOLD_EVENTS = 50_000;

export interface SqliteSiteStorageOptions {
  /** The data directory; created when missing. */
  readonly dir: string;
  /** Events whose reputation counts are held in memory before a fold (default 50,000). */
  readonly foldEvents?: number;
}

interface ContentRow {
  id: bigint;
  digest: string;
  batch_id: string;
  customer: string;
  region: string;
  product_version: string;
  created_at: string;
  sealed_key: Buffer;
  key_release: string;
}

interface EventRow {
  sha256: Buffer;
  rule: string | null;
  verdict: bigint;
  time_bucket: string;
  personal: Buffer;
}

/** What one store did: the batch's row when it was written now, null when already there. */
interface StoreOutcome {
  readonly batch: BatchToStore;
  readonly stored: StoredBatch;
  readonly row: bigint | null;
}

interface FoldEventRow {
  id: bigint;
  sha256: Buffer;
  verdict: bigint;
  time_bucket: string;
}

interface BatchRow {
  entry_id: bigint;
  entry: Buffer;
  log_index: bigint | null;
  events: bigint;
  deleted: bigint;
}

/**
 * Opens (creating or migrating) the site storage in `dir` on this thread.
 * `openSqliteSiteStorage` (sqlite-thread.ts) runs it on a thread of its own.
 */
export function openSqliteSiteStorageHere(
  opts: SqliteSiteStorageOptions,
): Promise<SqliteSiteStorage> {
  try {
    mkdirSync(opts.dir, { recursive: true });
    const db = openSqlite(join(opts.dir, 'site.sqlite'), {
      migrations: MIGRATIONS,
      safeIntegers: true,
      foreignKeys: true,
      // Events are ~0.6 KiB of ciphertext each: 16 KiB pages take a batch in a quarter of
      // the WAL frames (and write calls) 4 KiB pages need.
      pageSize: PAGE_BYTES,
    });
    // Reputation lookups hit random keys of the facts table (32 B per hash, ~70 MB per
    // million): SQLite's default 2 MB page cache sends most of them to the file system.
    db.pragma(`cache_size = -${CACHE_KIB}`);
    return Promise.resolve(new SqliteSiteStorage(db, opts.foldEvents ?? FOLD_EVENTS));
  } catch (cause) {
    if (hasCode(cause, 'DB_SCHEMA_NEWER')) {
      return Promise.reject(
        new TelemetryError('STORAGE_CORRUPT', cause.message, {
          cause,
          evidence: cause.evidence ?? {},
        }),
      );
    }
    return Promise.reject(
      new TelemetryError('STORAGE_FAILED', 'cannot open the site database', { cause }),
    );
  }
}

export class SqliteSiteStorage implements SiteStorage {
  readonly #db: Database.Database;
  readonly #s;
  readonly #mark: Database.Transaction<(marks: readonly { id: bigint; index: bigint }[]) => void>;
  readonly #delete: Database.Transaction<
    (
      olderThanMs: number,
      limit: number,
      entryFor: (d: readonly string[]) => Uint8Array,
    ) => DeleteResult
  >;
  readonly #import: Database.Transaction<(v: readonly VerdictToImport[]) => void>;
  readonly #lookup: Database.Transaction<(hashes: readonly string[]) => HashFacts[]>;
  readonly #stores: GroupCommit<BatchToStore, StoredBatch>;
  readonly #marks: GroupCommit<readonly { id: bigint; index: bigint }[], void>;
  /** Reputation counts of the batches after the facts table's `through_batch`. */
  readonly #pending = new PendingFacts();
  /** The last batch whose events `#pending` holds. */
  #pendingThrough = 0n;
  readonly #foldEvents: number;
  #closed = false;

  constructor(db: Database.Database, foldEvents: number) {
    this.#db = db;
    this.#foldEvents = foldEvents;
    const s = {
      batchByDigest: db.prepare<[string], BatchRow>(
        `SELECT b.entry_id, l.entry, l.log_index, b.events, (b.deleted_entry_id IS NOT NULL) AS deleted
         FROM batches b JOIN log_entries l ON l.id = b.entry_id WHERE b.digest = ?`,
      ),
      insertEntry: db.prepare<[Uint8Array]>('INSERT INTO log_entries (entry) VALUES (?)'),
      insertBatch: db.prepare(
        `INSERT INTO batches (digest, batch_id, customer, region, policy, product_version,
           created_at, sealed_key, key_release, stored_at_ms, events, entry_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertEvent: db.prepare(
        'INSERT INTO events (id, sha256, rule, verdict, time_bucket, personal) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      // One statement for many rows: a native call per event was a third of the insert's CPU.
      insertEvents: db.prepare(
        `INSERT INTO events (id, sha256, rule, verdict, time_bucket, personal) VALUES ${Array.from(
          { length: EVENT_ROWS_PER_INSERT },
          () => '(?, ?, ?, ?, ?, ?)',
        ).join(', ')}`,
      ),
      upsertFacts: db.prepare(
        `INSERT INTO facts (sha256, first_seen, malicious, suspicious, reports, list_verdict)
         VALUES (?, ?, ?, ?, ?, NULL)
         ON CONFLICT (sha256) DO UPDATE SET
           first_seen = CASE WHEN facts.first_seen IS NULL OR excluded.first_seen < facts.first_seen
                        THEN excluded.first_seen ELSE facts.first_seen END,
           malicious = facts.malicious + excluded.malicious,
           suspicious = facts.suspicious + excluded.suspicious,
           reports = facts.reports + excluded.reports`,
      ),
      importVerdict: db.prepare(
        `INSERT INTO facts (sha256, first_seen, malicious, suspicious, reports, list_verdict)
         VALUES (?, NULL, 0, 0, 0, ?)
         ON CONFLICT (sha256) DO UPDATE SET list_verdict = excluded.list_verdict`,
      ),
      unlogged: db.prepare<[number], { id: bigint; entry: Buffer }>(
        'SELECT id, entry FROM log_entries WHERE log_index IS NULL ORDER BY id LIMIT ?',
      ),
      entryIndex: db.prepare<[bigint], { log_index: bigint | null }>(
        'SELECT log_index FROM log_entries WHERE id = ?',
      ),
      setIndex: db.prepare('UPDATE log_entries SET log_index = ? WHERE id = ?'),
      expired: db.prepare<[number, number], { id: bigint; digest: string }>(
        `SELECT id, digest FROM batches WHERE deleted_entry_id IS NULL AND stored_at_ms < ?
         ORDER BY stored_at_ms, id LIMIT ?`,
      ),
      deleteEvents: db.prepare('DELETE FROM events WHERE id >= ? AND id < ?'),
      markDeleted: db.prepare('UPDATE batches SET deleted_entry_id = ? WHERE id = ?'),
      // Raw rows of plain numbers: the lookup is the site's hot read path, and
      // counts of reports stay far below 2^53.
      facts: db
        .prepare<[Uint8Array], FactsValues>(
          `SELECT first_seen, malicious, suspicious, reports, list_verdict FROM facts WHERE sha256 = ?`,
        )
        .raw(true)
        .safeIntegers(false),
      byDigests: db.prepare<[string, string, number], ContentRow>(
        `SELECT ${CONTENT_COLUMNS} FROM batches
         WHERE customer = ? AND deleted_entry_id IS NULL
           AND digest IN (SELECT value FROM json_each(?))
         ORDER BY id LIMIT ?`,
      ),
      byTime: db.prepare<[string, string, string, number], ContentRow>(
        `SELECT ${CONTENT_COLUMNS} FROM batches
         WHERE customer = ? AND deleted_entry_id IS NULL AND created_at >= ? AND created_at < ?
         ORDER BY id LIMIT ?`,
      ),
      eventsOf: db.prepare<[bigint, bigint], EventRow>(
        'SELECT sha256, rule, verdict, time_bucket, personal FROM events WHERE id >= ? AND id < ? ORDER BY id',
      ),
      foldedThrough: db.prepare<[], { through_batch: bigint }>(
        'SELECT through_batch FROM facts_folded WHERE id = 1',
      ),
      setFoldedThrough: db.prepare<[bigint]>(
        'UPDATE facts_folded SET through_batch = ? WHERE id = 1',
      ),
      unfoldedEvents: db.prepare<[bigint], FoldEventRow>(
        'SELECT id, sha256, verdict, time_bucket FROM events WHERE id >= ? ORDER BY id',
      ),
      regions: db.prepare<[], { region: string }>(
        'SELECT DISTINCT region FROM batches ORDER BY region',
      ),
      counts: db.prepare<[], { batches: bigint; events: bigint | null; deleted: bigint }>(
        `SELECT COUNT(*) FILTER (WHERE deleted_entry_id IS NULL) AS batches,
                SUM(events) FILTER (WHERE deleted_entry_id IS NULL) AS events,
                COUNT(*) FILTER (WHERE deleted_entry_id IS NOT NULL) AS deleted
         FROM batches`,
      ),
    };
    this.#s = s;

    // An event's six parameters, written into `out` from `at`.
    const putEvent = (
      out: unknown[],
      at: number,
      base: bigint,
      i: number,
      e: StoredEvent,
    ): void => {
      out[at] = base + BigInt(i);
      out[at + 1] = hashBytes(e.sha256);
      out[at + 2] = e.rule;
      out[at + 3] = VERDICT_CODE[e.verdict];
      out[at + 4] = e.timeBucket;
      out[at + 5] = e.personal;
    };
    // One parameter array for every full statement: SQLite copies what it binds.
    const params: unknown[] = new Array<unknown>(EVENT_ROWS_PER_INSERT * 6);
    const row: unknown[] = new Array<unknown>(6);
    const insertEvents = (base: bigint, events: readonly StoredEvent[]): void => {
      let i = 0;
      for (; i + EVENT_ROWS_PER_INSERT <= events.length; i += EVENT_ROWS_PER_INSERT) {
        for (let j = 0; j < EVENT_ROWS_PER_INSERT; j++) {
          putEvent(params, 6 * j, base, i + j, events[i + j] as StoredEvent);
        }
        s.insertEvents.run(params);
      }
      for (; i < events.length; i++) {
        putEvent(row, 0, base, i, events[i] as StoredEvent);
        s.insertEvent.run(row);
      }
    };

    // A batch stored here counts in reputation() from `#pending` once its transaction commits.
    const storeOne = (b: BatchToStore): StoreOutcome => {
      const existing = s.batchByDigest.get(b.digest);
      if (existing !== undefined) return { batch: b, stored: storedOf(existing, false), row: null };
      const entryId = s.insertEntry.run(b.entry).lastInsertRowid as bigint;
      const batchRow = s.insertBatch.run(
        b.digest,
        b.batchId,
        b.customer,
        b.region,
        b.policy,
        b.productVersion,
        b.createdAt,
        b.sealedKey,
        b.keyRelease,
        b.storedAtMs,
        b.events.length,
        entryId,
      ).lastInsertRowid as bigint;
      insertEvents(batchRow * EVENTS_PER_BATCH_KEY, b.events);
      const stored = {
        created: true,
        entryId,
        entry: b.entry,
        logIndex: null,
        events: b.events.length,
      };
      return { batch: b, stored, row: batchRow };
    };
    // Writes the pending counts into the facts table, in hash order, and moves the watermark;
    // the caller clears `#pending` once the transaction has committed.
    const foldPending = (): void => {
      for (const f of this.#pending.deltas()) {
        s.upsertFacts.run(f.hash, f.firstSeen, f.malicious, f.suspicious, f.reports);
      }
      s.setFoldedThrough.run(this.#pendingThrough);
    };
    // The store that finds enough counts pending folds them in its own transaction.
    const storeAll = db.transaction((batches: readonly BatchToStore[]) => {
      const folds = this.#pending.events >= this.#foldEvents;
      if (folds) foldPending();
      return { folds, results: batches.map(storeOne) };
    });
    const storeCommitted = (batches: readonly BatchToStore[]): StoredBatch[] => {
      const { folds, results } = storeAll.immediate(batches);
      if (folds) this.#pending.clear();
      return results.map((r) => this.#committed(r));
    };
    this.#stores = new GroupCommit(
      (batches) => {
        if (this.#closed) throw new TelemetryError('CLOSED', 'the storage is closed');
        return storeCommitted(batches);
      },
      (batch) =>
        this.#run(() => {
          const [stored] = storeCommitted([batch]);
          if (stored === undefined) throw new TelemetryError('STORAGE_FAILED', 'nothing stored');
          return stored;
        }),
    );

    const markAll = (marks: readonly { id: bigint; index: bigint }[]): void => {
      for (const m of marks) {
        const row = s.entryIndex.get(m.id);
        if (row === undefined) {
          throw new TelemetryError('STORAGE_CORRUPT', 'no stored entry with this id', {
            evidence: { id: m.id.toString() },
          });
        }
        if (row.log_index !== null) {
          if (row.log_index !== m.index) throw indexConflict(m, row.log_index);
          continue;
        }
        s.setIndex.run(m.index, m.id);
      }
    };
    this.#mark = db.transaction(markAll);
    const markGroup = db.transaction(
      (groups: readonly (readonly { id: bigint; index: bigint }[])[]) => groups.map(markAll),
    );
    this.#marks = new GroupCommit(
      (groups) => {
        if (this.#closed) throw new TelemetryError('CLOSED', 'the storage is closed');
        return markGroup.immediate(groups);
      },
      (marks) =>
        this.#run(() => {
          this.#mark.immediate(marks);
        }),
    );

    this.#delete = db.transaction(
      (olderThanMs: number, limit: number, entryFor: (d: readonly string[]) => Uint8Array) => {
        const rows = s.expired.all(olderThanMs, limit);
        if (rows.length === 0) return { digests: [], entry: null };
        // The events about to go may not be counted in the facts table yet.
        if (this.#pending.events > 0) foldPending();
        const digests = rows.map((r) => r.digest);
        const entry = entryFor(digests);
        const id = s.insertEntry.run(entry).lastInsertRowid as bigint;
        for (const r of rows) {
          const base = r.id * EVENTS_PER_BATCH_KEY;
          s.deleteEvents.run(base, base + EVENTS_PER_BATCH_KEY);
          s.markDeleted.run(id, r.id);
        }
        return { digests, entry: { id, entry } };
      },
    );

    // One read transaction for a batch of lookups instead of one per statement
    // (about a tenth of the lookup time of a 10,000-hash batch).
    const scratch = Buffer.alloc(32);
    this.#lookup = db.transaction((hashes: readonly string[]) =>
      hashes.map((h) => {
        // Bound blobs are copied by SQLite, so one scratch buffer serves every hash;
        // anything but 64 hex digits matches no stored hash.
        const whole = h.length === 64 && scratch.write(h, 'hex') === 32;
        const row = whole ? s.facts.get(scratch) : undefined;
        return withPending(factsFromValues(h, row), this.#pending.get(h));
      }),
    );

    this.#import = db.transaction((verdicts: readonly VerdictToImport[]) => {
      for (const v of verdicts) {
        s.importVerdict.run(hashBytes(v.sha256), LIST_VERDICT_CODE[v.verdict]);
      }
    });

    this.#loadPending();
  }

  /** Counts the events stored after the facts table's watermark (a restart, a crash). */
  #loadPending(): void {
    const s = this.#s;
    const through = s.foldedThrough.get()?.through_batch ?? 0n;
    this.#pendingThrough = through;
    for (const r of s.unfoldedEvents.iterate((through + 1n) * EVENTS_PER_BATCH_KEY)) {
      const verdict = verdictOfCode(Number(r.verdict));
      if (verdict === undefined) {
        throw new TelemetryError('STORAGE_CORRUPT', 'an event has an unknown verdict code', {
          evidence: { verdict: Number(r.verdict) },
        });
      }
      this.#pending.add([{ sha256: r.sha256.toString('hex'), verdict, timeBucket: r.time_bucket }]);
      const batchRow = r.id / EVENTS_PER_BATCH_KEY;
      if (batchRow > this.#pendingThrough) this.#pendingThrough = batchRow;
    }
  }

  /** After a batch's transaction committed: its events count from now on. */
  #committed(o: StoreOutcome): StoredBatch {
    if (o.row !== null) {
      this.#pending.add(o.batch.events);
      this.#pendingThrough = o.row;
    }
    return o.stored;
  }

  /**
   * Group commit: stores requested in the same turn of the event loop share
   * one transaction (one fsync). If the group fails, each batch is retried
   * in its own transaction so one bad batch cannot fail the others.
   */
  storeBatch(batch: BatchToStore): Promise<StoredBatch> {
    if (this.#closed) return Promise.reject(new TelemetryError('CLOSED', 'the storage is closed'));
    return this.#stores.submit(batch);
  }

  batch(digest: string): Promise<StoredBatch | null> {
    return this.#run(() => {
      const row = this.#s.batchByDigest.get(digest);
      return row === undefined ? null : storedOf(row, false);
    });
  }

  unlogged(limit: number): Promise<UnloggedEntry[]> {
    return this.#run(() =>
      this.#s.unlogged.all(limit).map((r) => ({ id: r.id, entry: toBytes(r.entry) })),
    );
  }

  /** Group commit as for `storeBatch`: the marks of one event-loop turn share a transaction. */
  markLogged(marks: readonly { id: bigint; index: bigint }[]): Promise<void> {
    if (this.#closed) return Promise.reject(new TelemetryError('CLOSED', 'the storage is closed'));
    return this.#marks.submit(marks);
  }

  deleteOlderThan(
    olderThanMs: number,
    limit: number,
    entryFor: (digests: readonly string[]) => Uint8Array,
  ): Promise<DeleteResult> {
    return this.#run(() => {
      const result = this.#delete.immediate(olderThanMs, limit, entryFor);
      // A deletion folds what is pending in its transaction first.
      if (result.entry !== null) this.#pending.clear();
      return result;
    });
  }

  /** The digests `deleteOlderThan(olderThanMs, limit, …)` would delete now (nothing is changed). */
  expiredDigests(olderThanMs: number, limit: number): Promise<string[]> {
    return this.#run(() => this.#s.expired.all(olderThanMs, limit).map((r) => r.digest));
  }

  readBatches(customer: string, scope: ReadScope, limit: number): Promise<StoredBatchContent[]> {
    return this.#run(() => {
      const s = this.#s;
      let rows: ContentRow[];
      if (scope.kind === 'batches') {
        rows = s.byDigests.all(customer, JSON.stringify(scope.batches), limit);
      } else {
        const { low, high } = createdAtBounds(scope.from, scope.to);
        rows = s.byTime.all(customer, low, high, limit);
      }
      return rows.map((r) => {
        const base = r.id * EVENTS_PER_BATCH_KEY;
        const events = s.eventsOf.all(base, base + EVENTS_PER_BATCH_KEY).map(eventOf);
        return {
          digest: r.digest,
          batchId: r.batch_id,
          customer: r.customer,
          region: r.region,
          productVersion: r.product_version,
          createdAt: r.created_at,
          sealedKey: toBytes(r.sealed_key),
          keyRelease: r.key_release,
          events,
        };
      });
    });
  }

  reputation(hashes: readonly string[]): Promise<HashFacts[]> {
    return this.#run(() => this.reputationSync(hashes));
  }

  /** The same lookups without a promise per call (the site's hot read path). */
  reputationSync(hashes: readonly string[]): HashFacts[] {
    const [h] = hashes;
    if (hashes.length === 1 && h !== undefined) {
      // One statement is its own transaction; BEGIN and COMMIT around it would only add two.
      const row = this.#s.facts.get(hashBytes(h));
      return [withPending(factsFromValues(h, row), this.#pending.get(h))];
    }
    return this.#lookup.deferred(hashes);
  }

  importVerdicts(verdicts: readonly VerdictToImport[]): Promise<void> {
    return this.#run(() => {
      this.#import.immediate(verdicts);
    });
  }

  summary(): Promise<SiteSummary> {
    return this.#run(() => {
      const c = this.#s.counts.get();
      return {
        regions: this.#s.regions.all().map((r) => r.region),
        batches: Number(c?.batches ?? 0n),
        events: Number(c?.events ?? 0n),
        deletedBatches: Number(c?.deleted ?? 0n),
      };
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      // Writes already requested are committed first, then nothing more.
      this.#stores.flush();
      this.#marks.flush();
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #run<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new TelemetryError('CLOSED', 'the storage is closed'));
    try {
      return Promise.resolve(fn());
    } catch (cause) {
      if (cause instanceof TelemetryError) return Promise.reject(cause);
      return Promise.reject(new TelemetryError('STORAGE_FAILED', 'site storage failed', { cause }));
    }
  }
}

const CONTENT_COLUMNS =
  'id, digest, batch_id, customer, region, product_version, created_at, sealed_key, key_release';

function eventOf(r: EventRow): StoredEvent {
  const verdict = verdictOfCode(Number(r.verdict));
  if (verdict === undefined) {
    throw new TelemetryError('STORAGE_CORRUPT', 'an event has an unknown verdict code', {
      evidence: { verdict: Number(r.verdict) },
    });
  }
  return {
    sha256: r.sha256.toString('hex'),
    rule: r.rule,
    verdict,
    timeBucket: r.time_bucket,
    personal: toBytes(r.personal),
  };
}

function storedOf(row: BatchRow, created: boolean): StoredBatch {
  return {
    created,
    entryId: row.entry_id,
    entry: toBytes(row.entry),
    logIndex: row.log_index,
    events: row.deleted !== 0n ? 0 : Number(row.events),
  };
}

function toBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function indexConflict(m: { id: bigint; index: bigint }, stored: bigint): TelemetryError {
  return new TelemetryError('STORAGE_CORRUPT', 'the entry already has another log index', {
    evidence: { id: m.id.toString(), stored: stored.toString(), index: m.index.toString() },
  });
}
