/**
 * The site's SQLite storage on a thread of its own (`sqlite-thread-worker`).
 *
 * better-sqlite3 is synchronous: on the site's event loop every commit, and
 * the fsync it waits for, stops HTTP for its whole length, and the inserts
 * take as much CPU as everything else a batch costs. On its own thread they
 * run beside the event loop on the other core. Batches are also parsed
 * there (`writer`): the bytes go over once, the columns never come back,
 * only the customer, region and event count the site checks before it
 * stores. Every call resolves once the thread answered, i.e. after the
 * commit, so the storage contract is the same as on one thread.
 */
import { ThreadChannel, type WireError } from '@glasshouse/db';
import type { BatchSummary, StoredEntry } from '@glasshouse/residency';
import { TelemetryError, type TelemetryErrorCode } from '../errors.js';
import { type SqliteSiteStorageOptions, openSqliteSiteStorageHere } from './sqlite-storage.js';
import { LIST_VERDICT_CODE, factsFromValues } from './storage-rows.js';
import type {
  BatchToStore,
  BatchWriter,
  ParsedForStore,
  DeleteResult,
  HashFacts,
  ReadScope,
  SiteStorage,
  SiteSummary,
  StoredBatch,
  StoredBatchContent,
  UnloggedEntry,
  VerdictToImport,
} from './storage.js';

export interface OpenSqliteSiteStorageOptions extends SqliteSiteStorageOptions {
  /** Run on a thread of its own (default true); false keeps it on the caller's thread. */
  readonly thread?: boolean;
}

export type ThreadInit = SqliteSiteStorageOptions;

export type ThreadRequest = { readonly id: number } & (
  | {
      readonly op: 'prepare';
      readonly bytes: Uint8Array;
      readonly digest: string;
      readonly parse: boolean;
    }
  | {
      readonly op: 'store';
      readonly held: number;
      readonly digest: string;
      readonly entry: StoredEntry;
      readonly storedAtMs: number;
    }
  | {
      readonly op: 'delete';
      readonly olderThanMs: number;
      readonly limit: number;
      readonly digests: readonly string[];
      readonly entry: Uint8Array;
    }
  | { readonly op: 'batch'; readonly digest: string }
  | { readonly op: 'storeBatch'; readonly batch: BatchToStore }
  | { readonly op: 'unlogged'; readonly limit: number }
  | { readonly op: 'markLogged'; readonly marks: readonly { id: bigint; index: bigint }[] }
  | { readonly op: 'expired'; readonly olderThanMs: number; readonly limit: number }
  | {
      readonly op: 'readBatches';
      readonly customer: string;
      readonly scope: ReadScope;
      readonly limit: number;
    }
  | { readonly op: 'reputation'; readonly hashes: readonly string[] }
  | { readonly op: 'importVerdicts'; readonly verdicts: readonly VerdictToImport[] }
  | { readonly op: 'summary' }
  | { readonly op: 'close' }
);

/**
 * Lookups as the thread answers them: columns, not one object per hash (a
 * batch of 10,000 objects cost more to copy between threads than to look up).
 */
export interface FactsColumns {
  readonly firstSeen: readonly (string | null)[];
  /** malicious, suspicious, reports for each hash in turn. */
  readonly counts: Float64Array;
  /** LIST_VERDICT_CODE of each hash's list verdict, 0 for none. */
  readonly list: Uint8Array;
}

/** `HashFacts[]` as columns (the thread's side). */
export function factsColumns(facts: readonly HashFacts[]): FactsColumns {
  const counts = new Float64Array(facts.length * 3);
  const list = new Uint8Array(facts.length);
  const firstSeen = facts.map((f, i) => {
    counts[3 * i] = f.malicious;
    counts[3 * i + 1] = f.suspicious;
    counts[3 * i + 2] = f.reports;
    list[i] = f.listVerdict === null ? 0 : LIST_VERDICT_CODE[f.listVerdict];
    return f.firstSeen;
  });
  return { firstSeen, counts, list };
}

/** What the thread answers to `prepare`. */
export type PrepareAnswer =
  { readonly stored: StoredBatch } | { readonly summary: BatchSummary } | 'unparsed';

/** Times `deleteOlderThan` asks again when the expired batches changed between its two steps. */
const DELETE_ATTEMPTS = 3;

/**
 * Opens (creating or migrating) the site storage in `dir`, on a thread of
 * its own unless `thread: false`. Codes as the storage's: STORAGE_FAILED,
 * STORAGE_CORRUPT (a newer schema), DATA_DIR_LOCKED-style SQLITE_BUSY as
 * STORAGE_FAILED with its cause.
 */
export async function openSqliteSiteStorage(
  opts: OpenSqliteSiteStorageOptions,
): Promise<SiteStorage> {
  const { thread = true, ...init } = opts;
  if (!thread) return openSqliteSiteStorageHere(init);
  return ThreadedSiteStorage.start(init);
}

class ThreadedSiteStorage implements SiteStorage {
  readonly #thread: ThreadChannel<ThreadRequest>;
  readonly writer: BatchWriter;

  private constructor(thread: ThreadChannel<ThreadRequest>) {
    this.#thread = thread;
    this.writer = {
      // One round trip: the thread looks the digest up, then parses and holds the batch
      // under this request's id.
      prepare: async (bytes, digest, parse) => {
        const id = this.#thread.nextId;
        const found = await this.#thread.call<PrepareAnswer>({
          op: 'prepare',
          bytes,
          digest,
          parse,
        });
        if (found === 'unparsed' || 'stored' in found) return found;
        return { parsed: this.#held(id, found.summary) };
      },
      // The thread is the storage's: close() stops it.
      close: () => Promise.resolve(),
    };
  }

  /** Starts the thread; resolves once it opened the database. */
  static async start(init: ThreadInit): Promise<ThreadedSiteStorage> {
    const thread = await ThreadChannel.start<ThreadRequest>(
      import.meta.url,
      'sqlite-thread-worker',
      init,
      {
        startFailed: (cause) =>
          new TelemetryError('STORAGE_FAILED', 'the storage thread failed to start', { cause }),
        notReady: fromWire,
        refused: fromWire,
        stopped: (cause) =>
          new TelemetryError('STORAGE_FAILED', 'the storage thread stopped', { cause }),
        closed: () => new TelemetryError('CLOSED', 'the storage is closed'),
      },
    );
    return new ThreadedSiteStorage(thread);
  }

  #held(id: number, summary: BatchSummary): ParsedForStore {
    let settled = false;
    return {
      ...summary,
      store: (digest, entry, storedAtMs) => {
        settled = true;
        return this.#thread.call<StoredBatch>({ op: 'store', held: id, digest, entry, storedAtMs });
      },
      drop: () => {
        if (settled) return;
        settled = true;
        this.#thread.post({ op: 'drop', held: id });
      },
    };
  }

  failure(): Error | undefined {
    return this.#thread.failure;
  }

  storeBatch(batch: BatchToStore): Promise<StoredBatch> {
    return this.#thread.call({ op: 'storeBatch', batch });
  }

  batch(digest: string): Promise<StoredBatch | null> {
    return this.#thread.call({ op: 'batch', digest });
  }

  unlogged(limit: number): Promise<UnloggedEntry[]> {
    return this.#thread.call({ op: 'unlogged', limit });
  }

  markLogged(marks: readonly { id: bigint; index: bigint }[]): Promise<void> {
    return this.#thread.call({ op: 'markLogged', marks });
  }

  /**
   * `entryFor` runs here, so the deletion takes two steps: the thread names
   * the expired batches, then deletes them with their entry in one
   * transaction only if they are still exactly those (else it asks again).
   */
  async deleteOlderThan(
    olderThanMs: number,
    limit: number,
    entryFor: (digests: readonly string[]) => Uint8Array,
  ): Promise<DeleteResult> {
    for (let attempt = 1; ; attempt++) {
      const digests = await this.#thread.call<string[]>({ op: 'expired', olderThanMs, limit });
      if (digests.length === 0) return { digests: [], entry: null };
      const entry = entryFor(digests);
      try {
        return await this.#thread.call<DeleteResult>({
          op: 'delete',
          olderThanMs,
          limit,
          digests,
          entry,
        });
      } catch (err) {
        const changed = err instanceof TelemetryError && err.evidence?.expiredChanged === true;
        if (!changed || attempt >= DELETE_ATTEMPTS) throw err;
      }
    }
  }

  readBatches(customer: string, scope: ReadScope, limit: number): Promise<StoredBatchContent[]> {
    return this.#thread.call({ op: 'readBatches', customer, scope, limit });
  }

  async reputation(hashes: readonly string[]): Promise<HashFacts[]> {
    const c = await this.#thread.call<FactsColumns>({ op: 'reputation', hashes });
    return hashes.map((sha256, i) =>
      factsFromValues(sha256, [
        c.firstSeen[i] ?? null,
        c.counts[3 * i] ?? 0,
        c.counts[3 * i + 1] ?? 0,
        c.counts[3 * i + 2] ?? 0,
        c.list[i] ?? 0,
      ]),
    );
  }

  importVerdicts(verdicts: readonly VerdictToImport[]): Promise<void> {
    return this.#thread.call({ op: 'importVerdicts', verdicts });
  }

  summary(): Promise<SiteSummary> {
    return this.#thread.call({ op: 'summary' });
  }

  async close(): Promise<void> {
    if (this.#thread.failure !== undefined) return;
    try {
      // Writes already requested are committed first (SqliteSiteStorage.close).
      await this.#thread.call({ op: 'close' });
    } finally {
      await this.#thread.stop();
    }
  }
}

/** The thread's error as this package's coded error (uncoded ones are STORAGE_FAILED). */
function fromWire(e: WireError): TelemetryError {
  const evidence = e.evidence === undefined ? {} : { evidence: e.evidence };
  if (e.code !== undefined) {
    return new TelemetryError(e.code as TelemetryErrorCode, e.message, evidence);
  }
  return new TelemetryError('STORAGE_FAILED', 'site storage failed', {
    cause: new Error(e.message),
  });
}
