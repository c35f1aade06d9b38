/**
 * The site's SQLite storage on a thread of its own (`sqlite-thread-worker`).
 *
 * better-sqlite3 is synchronous: on the site's event loop every commit, and
 * the fsync it waits for, stops HTTP for its whole length, and the inserts
 * take as much CPU as everything else a batch costs. On its own thread they
 * run beside the event loop on the other core. Batches are also parsed
 * there (`batchWriter`): the bytes go over once, the columns never come back,
 * only the customer, region and event count the site checks before it
 * stores. Every call resolves once the thread answered, i.e. after the
 * commit, so the storage contract is the same as on one thread.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleThread } from '@glasshouse/db';
import type { StoredEntry } from '@glasshouse/residency';
import { TelemetryError, type TelemetryErrorCode } from '../errors.js';
import type { BatchWriter, ParsedForStore } from './batch-parser.js';
import { type SqliteSiteStorageOptions, openSqliteSiteStorageHere } from './sqlite-storage.js';
import type {
  BatchToStore,
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

export interface WireError {
  readonly code?: string;
  readonly message: string;
  readonly evidence?: Record<string, unknown>;
}

export type ThreadReady =
  { readonly ready: true } | { readonly ready: false; readonly error: WireError };

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

/** What the thread answers to `prepare`. */
export type PrepareAnswer =
  | { readonly stored: StoredBatch }
  | { readonly summary: { customer: string; region: string; events: number } }
  | 'unparsed';

export type ThreadResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

type Call = ThreadRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

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
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #next = 1;
  #dead: TelemetryError | undefined;
  readonly writer: BatchWriter;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (res: ThreadResponse) => {
      const w = this.#waiting.get(res.id);
      if (w === undefined) return;
      this.#waiting.delete(res.id);
      // An idle storage thread does not keep the process alive; a call in flight does.
      if (this.#waiting.size === 0) this.#worker.unref();
      if (res.ok) w.resolve(res.value);
      else w.reject(fromWire(res.error));
    });
    const stopped = (cause: unknown): void => {
      this.#dead ??= new TelemetryError('STORAGE_FAILED', 'the storage thread stopped', { cause });
      for (const w of this.#waiting.values()) w.reject(this.#dead);
      this.#waiting.clear();
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => {
      stopped(new Error(`exit code ${code}`));
    });
    this.writer = {
      // One round trip: the thread looks the digest up, then parses and holds the batch
      // under this request's id.
      prepare: async (bytes, digest, parse) => {
        const id = this.#next;
        const found = await this.#call<PrepareAnswer>({ op: 'prepare', bytes, digest, parse });
        if (found === 'unparsed' || 'stored' in found) return found;
        return { parsed: this.#held(id, found.summary) };
      },
      // The thread is the storage's: close() stops it.
      close: () => Promise.resolve(),
    };
  }

  /** Starts the thread; resolves once it opened the database. */
  static start(init: ThreadInit): Promise<ThreadedSiteStorage> {
    const worker = startModuleThread(import.meta.url, 'sqlite-thread-worker', init);
    return new Promise((resolve, reject) => {
      const failed = (cause: unknown): void => {
        reject(
          new TelemetryError('STORAGE_FAILED', 'the storage thread failed to start', { cause }),
        );
      };
      const exited = (code: number): void => {
        failed(new Error(`exit code ${code}`));
      };
      worker.once('error', failed);
      worker.once('exit', exited);
      worker.once('message', (msg: ThreadReady) => {
        worker.off('error', failed);
        worker.off('exit', exited);
        if (msg.ready) {
          worker.unref();
          resolve(new ThreadedSiteStorage(worker));
          return;
        }
        void worker.terminate();
        reject(fromWire(msg.error));
      });
    });
  }

  #held(id: number, summary: { customer: string; region: string; events: number }): ParsedForStore {
    let settled = false;
    return {
      ...summary,
      store: (digest, entry, storedAtMs) => {
        settled = true;
        return this.#call<StoredBatch>({ op: 'store', held: id, digest, entry, storedAtMs });
      },
      drop: () => {
        if (settled || this.#dead !== undefined) return;
        settled = true;
        this.#worker.postMessage({ op: 'drop', held: id });
      },
    };
  }

  #call<T>(call: Call): Promise<T> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref();
      this.#waiting.set(id, { resolve: resolve, reject });
      this.#worker.postMessage({ ...call, id });
    });
  }

  storeBatch(batch: BatchToStore): Promise<StoredBatch> {
    return this.#call({ op: 'storeBatch', batch });
  }

  batch(digest: string): Promise<StoredBatch | null> {
    return this.#call({ op: 'batch', digest });
  }

  unlogged(limit: number): Promise<UnloggedEntry[]> {
    return this.#call({ op: 'unlogged', limit });
  }

  markLogged(marks: readonly { id: bigint; index: bigint }[]): Promise<void> {
    return this.#call({ op: 'markLogged', marks });
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
      const digests = await this.#call<string[]>({ op: 'expired', olderThanMs, limit });
      if (digests.length === 0) return { digests: [], entry: null };
      const entry = entryFor(digests);
      try {
        return await this.#call<DeleteResult>({ op: 'delete', olderThanMs, limit, digests, entry });
      } catch (err) {
        const changed = err instanceof TelemetryError && err.evidence?.expiredChanged === true;
        if (!changed || attempt >= DELETE_ATTEMPTS) throw err;
      }
    }
  }

  readBatches(customer: string, scope: ReadScope, limit: number): Promise<StoredBatchContent[]> {
    return this.#call({ op: 'readBatches', customer, scope, limit });
  }

  reputation(hashes: readonly string[]): Promise<HashFacts[]> {
    return this.#call({ op: 'reputation', hashes });
  }

  importVerdicts(verdicts: readonly VerdictToImport[]): Promise<void> {
    return this.#call({ op: 'importVerdicts', verdicts });
  }

  summary(): Promise<SiteSummary> {
    return this.#call({ op: 'summary' });
  }

  async close(): Promise<void> {
    if (this.#dead !== undefined) return;
    try {
      // Writes already requested are committed first (SqliteSiteStorage.close).
      await this.#call({ op: 'close' });
    } finally {
      this.#dead = new TelemetryError('CLOSED', 'the storage is closed');
      await this.#worker.terminate();
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
