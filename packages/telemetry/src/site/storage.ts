/**
 * The storage port of a data site. The site service (ingest, retention,
 * reputation, summary) talks to its database only through this interface;
 * the SQLite adapter (`sqlite-storage.ts`, the default) and the PostgreSQL
 * adapter (`postgres-storage.ts`, several site frontends sharing one
 * database) implement it and pass one contract suite
 * (`test/storage.contract.ts`).
 *
 * Words: MUST / SHOULD as in RFC 2119.
 *
 * Crash safety of ingestion rests on the order of two durable steps: the
 * batch and its ingest-log entry bytes are stored first (`storeBatch`), the
 * entry is appended to the ingest log second (deduplicated by its bytes),
 * and the log index is recorded last (`markLogged`). Whatever dies between
 * the steps, the next start (or any frontend's sweep) finds the entry among
 * `unlogged()` and appends it again with the same bytes, which the log
 * answers with the original index: every batch is stored once and logged
 * once.
 */
import type { ListVerdict, Verdict as VerdictToImport } from '@glasshouse/release-format';
import type { StoredEntry } from '@glasshouse/residency';

/** Verdicts an agent reports (`glasshouse.telemetry-batch/v1`). */
export type EventVerdict = 'malicious' | 'suspicious' | 'clean' | 'unknown';

/** One event as the site stores it: clear processing fields, personal fields as ciphertext only. */
export interface StoredEvent {
  /** File SHA-256, 64 lowercase hex. */
  readonly sha256: string;
  readonly rule: string | null;
  readonly verdict: EventVerdict;
  /** RFC 3339, truncated to the hour. */
  readonly timeBucket: string;
  /** 12-byte nonce ‖ AES-256-GCM ciphertext of the personal fields (never opened here). */
  readonly personal: Uint8Array;
}

/** What `storeBatch` stores: the batch's clear header, its events and its ingest-log entry. */
export interface BatchToStore {
  /** `sha256:<hex>` of the exact batch bytes (the idempotency key). */
  readonly digest: string;
  /** The agent's random batch id (32 hex): the AAD of the personal fields. */
  readonly batchId: string;
  readonly customer: string;
  readonly region: string;
  /** `sha256:<hex>` of the policy version the batch was routed under. */
  readonly policy: string;
  readonly productVersion: string;
  readonly createdAt: string;
  /** HPKE-sealed batch data key (enc ‖ ciphertext), as sent. */
  readonly sealedKey: Uint8Array;
  readonly keyRelease: string;
  /** Milliseconds since the epoch; retention compares against it. */
  readonly storedAtMs: number;
  readonly events: readonly StoredEvent[];
  /** The canonical `stored` ingest-log entry for this batch. */
  readonly entry: Uint8Array;
}

/** The result of `storeBatch`: what is stored under the digest now. */
export interface StoredBatch {
  /** False when the digest was already stored (nothing was written). */
  readonly created: boolean;
  /** The storage's id of the stored ingest-log entry (for `markLogged`). */
  readonly entryId: bigint;
  /** The ingest-log entry stored with the FIRST store of this digest. */
  readonly entry: Uint8Array;
  /** The entry's index in the ingest log, once recorded. */
  readonly logIndex: bigint | null;
  /** Events stored under this digest (0 after retention deleted them). */
  readonly events: number;
}

/** An ingest-log entry stored but not yet known to be in the log. */
export interface UnloggedEntry {
  /** The storage's own id of the entry (opaque to callers). */
  readonly id: bigint;
  readonly entry: Uint8Array;
}

/** A vendor verdict on a file (from a verdict-list release, release-format's format). */
export type { ListVerdict, VerdictToImport };

/** The stored facts about one hash, for the pure reputation rule (`reputation.ts`). */
export interface HashFacts {
  readonly sha256: string;
  /** Earliest time bucket the hash was reported in, or null. */
  readonly firstSeen: string | null;
  readonly malicious: number;
  readonly suspicious: number;
  readonly reports: number;
  /** The latest imported list verdict, if any. */
  readonly listVerdict: ListVerdict | null;
}

export interface SiteSummary {
  /** Regions with at least one batch stored (deleted ones included), sorted. */
  readonly regions: readonly string[];
  /** Batches stored (not deleted by retention). */
  readonly batches: number;
  /** Events stored (not deleted by retention). */
  readonly events: number;
  /** Batches deleted by retention. */
  readonly deletedBatches: number;
}

export interface DeleteResult {
  /** Digests whose events were deleted, oldest first. */
  readonly digests: readonly string[];
  /** The `deleted` ingest-log entry recorded with them (null when nothing was deleted). */
  readonly entry: UnloggedEntry | null;
}

/** What the access gateway asks the site for: batches by digest, or a time range of `createdAt`. */
export type ReadScope =
  | { readonly kind: 'batches'; readonly batches: readonly string[] }
  | { readonly kind: 'time-range'; readonly from: string; readonly to: string };

/** A stored batch as it was received: the clear header, the sealed key and the sealed events. */
export interface StoredBatchContent {
  readonly digest: string;
  readonly batchId: string;
  readonly customer: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  readonly sealedKey: Uint8Array;
  readonly keyRelease: string;
  readonly events: readonly StoredEvent[];
}

export interface SiteStorage {
  /**
   * Parses and stores batches where the storage runs (the SQLite adapter's
   * own thread); without it the site parses and calls `storeBatch`.
   */
  readonly writer?: BatchWriter;
  /**
   * Why the storage can serve no call any more (its thread stopped, it was
   * closed), or undefined while it can: `/healthz` reports it. Adapters
   * without a thread of their own leave it out.
   */
  failure?(): Error | undefined;
  /**
   * Stores a batch, its events and its ingest-log entry.
   *
   * - MUST be atomic: the batch row, every event and the entry, or nothing.
   * - MUST be idempotent by `digest`, also across processes sharing this
   *   storage: when the digest is already stored it MUST NOT write anything
   *   and MUST return the stored entry (the first one) and its log index.
   * - MUST be durable when the promise resolves (committed, fsync'd).
   * - MUST count each event in the reputation facts of its hash (reports,
   *   malicious/suspicious counts, first seen) in what `reputation()`
   *   answers once the promise resolves, exactly once, also across a crash.
   *   An adapter may write the counts to its facts table later and in bulk
   *   (the SQLite adapter does), as long as it counts the events it has not
   *   written yet from the stored events themselves.
   */
  storeBatch(batch: BatchToStore): Promise<StoredBatch>;

  /** What is stored under `digest`, or null. */
  batch(digest: string): Promise<StoredBatch | null>;

  /**
   * Entries stored (by `storeBatch` or `deleteOlderThan`) whose log index is
   * not recorded yet, in the order they were stored, at most `limit`.
   */
  unlogged(limit: number): Promise<UnloggedEntry[]>;

  /**
   * Records the ingest-log index of stored entries. MUST be durable when it
   * resolves. Recording the same index again MUST succeed; a different index
   * for an entry that has one MUST be refused (STORAGE_CORRUPT): the log
   * deduplicates, so an entry has exactly one index.
   */
  markLogged(marks: readonly { id: bigint; index: bigint }[]): Promise<void>;

  /**
   * Deletes the events of up to `limit` batches stored before `olderThanMs`
   * (oldest first) and records, in the same transaction, the `deleted`
   * ingest-log entry that `entryFor(digests)` builds for them.
   *
   * - MUST be atomic: the deletion and its entry, or neither.
   * - MUST be durable when it resolves.
   * - MUST keep the batch rows (marked deleted, with their log entries) so
   *   that a re-sent batch stays idempotent and is not stored again.
   * - Reputation facts are aggregates without personal fields; they MUST stay.
   * - Several processes deleting at once MUST NOT delete a batch twice.
   */
  deleteOlderThan(
    olderThanMs: number,
    limit: number,
    entryFor: (digests: readonly string[]) => Uint8Array,
  ): Promise<DeleteResult>;

  /**
   * The stored batches of `customer` in `scope` (the access gateway's read,
   * `read.ts`), in store order, at most `limit`. Batches whose events
   * retention deleted and batches of other customers MUST NOT be returned.
   * A time range matches `createdAt` in [from, to) at the precision of the
   * stored text (whole seconds); the caller re-checks exactly.
   */
  readBatches(customer: string, scope: ReadScope, limit: number): Promise<StoredBatchContent[]>;

  /** Stored facts of each hash (in the order given; unknown hashes have zero counts). */
  reputation(hashes: readonly string[]): Promise<HashFacts[]>;

  /**
   * Imports vendor verdicts (a published verdict list). MUST be atomic and
   * durable on resolve; a later verdict for the same hash replaces the
   * earlier one.
   */
  importVerdicts(verdicts: readonly VerdictToImport[]): Promise<void>;

  summary(): Promise<SiteSummary>;

  close(): Promise<void>;
}

/**
 * A parsed batch waiting to be stored: what the site checks before it
 * stores (customer, region, event count), and the store itself. Where the
 * columns live (this thread, or the storage's thread) is the writer's
 * business; exactly one of `store` or `drop` is called.
 */
export interface ParsedForStore {
  readonly customer: string;
  readonly region: string;
  readonly events: number;
  /** Stores the batch with its `stored` ingest-log entry (SiteStorage.storeBatch). */
  store(digest: string, entry: StoredEntry, storedAtMs: number): Promise<StoredBatch>;
  /** The batch will not be stored (a check refused it). */
  drop(): void;
}

/**
 * What `prepare` found: the batch stored before under this digest; else the
 * batch parsed and waiting, or 'unparsed' when the caller said not to parse.
 */
export type Prepared =
  { readonly stored: StoredBatch } | { readonly parsed: ParsedForStore } | 'unparsed';

/** Parses batches for storage (BATCH_TOO_LARGE / BATCH_INVALID / PARSER_FAILED). */
export interface BatchWriter {
  /** The stored batch `digest` names, else (when `parse`) the bytes parsed for storing. */
  prepare(bytes: Uint8Array, digest: string, parse: boolean): Promise<Prepared>;
  close(): Promise<void>;
}
