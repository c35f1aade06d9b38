/**
 * The data site's write path: check a batch, store it with its ingest-log
 * entry, append the entry to the site's own log, answer with a receipt once
 * a witnessed checkpoint covers it. Retention deletes old batches the same
 * way (deletion and its entry in one transaction, then the log).
 *
 * Order, so that kill -9 at any point loses no acknowledged batch and
 * stores none twice (see storage.ts):
 *   1. storeBatch(batch + entry bytes)    — atomic, idempotent by digest
 *   2. log.add(entry bytes, dedup)        — same bytes, same index
 *   3. markLogged(entry id, index), while
 *   4. waiting for a witnessed checkpoint; answer with the receipt once both are done
 * A crash after 1 leaves the entry in `unlogged()`; `recover()` (at start
 * and on a timer) does 2–3 for it. A re-sent batch finds step 1 done and
 * continues from there.
 */
import { hasCode } from '@glasshouse/errors';
import type { Log } from '@glasshouse/log';
import {
  batchDigest,
  DIGEST,
  MAX_DELETED_PER_ENTRY,
  INGEST_LOG_SCHEMA,
  ResidencyError,
  type ResidencyState,
  type StoredEntry,
  checkStoredEntry,
  encodeIngestLogEntry,
} from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import { inlineBatchParser, parseThenStore } from './batch-parser.js';
import type { SiteMetrics } from './metrics.js';
import type { BatchWriter, ParsedForStore, SiteStorage, StoredBatch } from './storage.js';

/**
 * The site's verified view of the residency log (policies and enrollments),
 * as of the latest witnessed checkpoint it has verified. The telemetry
 * package's residency view (`src/view/`) provides it; tests may fold the
 * entries themselves.
 */
export interface ResidencyLookup {
  current(): ResidencyState;
}

export interface IngestResult {
  /** `sha256:<hex>` of the batch bytes. */
  readonly batch: string;
  /** Index of the batch's `stored` entry in the site's ingest log. */
  readonly index: bigint;
  /** c2sp.org/tlog-proof@v1 receipt of that entry against a witnessed checkpoint. */
  readonly receipt: string;
}

export interface IngestOptions {
  readonly siteId: string;
  readonly storage: SiteStorage;
  readonly log: Log;
  readonly residency: ResidencyLookup;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** How long a request waits for a witnessed checkpoint. Default 30 s. */
  readonly receiptTimeoutMs?: number;
  readonly metrics?: SiteMetrics;
  /** Parses and stores batches (default: parsed inline, `storage.storeBatch`). */
  readonly writer?: BatchWriter;
}

/** Entries `recover()` appends per round. */
const RECOVER_CHUNK = 1_000;

export class SiteIngest {
  readonly siteId: string;
  readonly #storage: SiteStorage;
  readonly #log: Log;
  readonly #residency: ResidencyLookup;
  readonly #now: () => number;
  readonly #receiptTimeoutMs: number;
  readonly #metrics: SiteMetrics | undefined;
  readonly #writer: BatchWriter;

  constructor(opts: IngestOptions) {
    this.#writer = opts.writer ?? parseThenStore(inlineBatchParser, opts.storage);
    this.siteId = opts.siteId;
    this.#storage = opts.storage;
    this.#log = opts.log;
    this.#residency = opts.residency;
    this.#now = opts.now ?? Date.now;
    this.#receiptTimeoutMs = opts.receiptTimeoutMs ?? 30_000;
    this.#metrics = opts.metrics;
  }

  /**
   * Ingests the exact batch bytes the router forwarded under the policy
   * `policyDigest` (the `Glasshouse-Policy` header). Idempotent by the
   * bytes' digest: a second call answers the first result. `sha256`: the
   * bytes' SHA-256 when the caller has it (the signed Content-Digest checked it).
   */
  async ingest(
    bytes: Uint8Array,
    policyDigest: string | undefined,
    sha256?: Uint8Array,
  ): Promise<IngestResult> {
    const digest = batchDigest(bytes, sha256);
    // A batch stored before answers its first result, whatever its header says now.
    const policy = validPolicyHeader(policyDigest);
    const prepared = await this.#writer.prepare(bytes, digest, policy !== undefined);
    if (prepared === 'unparsed') throw policyHeaderInvalid(policyDigest);
    const stored =
      'stored' in prepared
        ? prepared.stored
        : await this.#storeNew(prepared.parsed, digest, policy, policyDigest);
    if (stored.logIndex !== null) {
      return {
        batch: digest,
        index: stored.logIndex,
        receipt: await this.#receipt(stored.logIndex),
      };
    }
    const index = await this.#sequence(stored.entry);
    // Recording the index is off the answer's path: the receipt is what the router waits
    // for, and a lost record only means recover() appends the same bytes again (same index).
    const [receipt] = await Promise.all([
      this.#receipt(index),
      this.#storage.markLogged([{ id: stored.entryId, index }]),
    ]);
    return { batch: digest, index, receipt };
  }

  /**
   * A batch not stored before: its `stored` entry, the residency check, then
   * the store; a batch refused here is dropped where it was parsed.
   */
  async #storeNew(
    batch: ParsedForStore,
    digest: string,
    policy: string | undefined,
    header: string | undefined,
  ): Promise<StoredBatch> {
    const storedAtMs = this.#now();
    let entry: StoredEntry;
    try {
      // The writer parses only under a well-formed header.
      if (policy === undefined) throw policyHeaderInvalid(header);
      entry = {
        schema: INGEST_LOG_SCHEMA,
        kind: 'stored',
        site: this.siteId,
        policy,
        customer: batch.customer,
        region: batch.region,
        events: batch.events,
        batch: digest,
        storedAt: new Date(storedAtMs).toISOString(),
      };
      this.#checkResidency(entry);
    } catch (err) {
      batch.drop();
      throw err;
    }
    const stored = await batch.store(digest, entry, storedAtMs);
    if (stored.created) this.#metrics?.stored(batch.region, batch.events);
    return stored;
  }

  /** Defence in depth: the site re-checks what the router decided (issue 16 §5). */
  #checkResidency(entry: StoredEntry): void {
    const state = this.#residency.current();
    try {
      checkStoredEntry(state, this.siteId, entry);
    } catch (cause) {
      if (!(cause instanceof ResidencyError)) throw cause;
      const evidence = cause.evidence === undefined ? {} : { ...cause.evidence };
      const code = cause.code;
      if (code === 'REGION_NOT_DESIGNATED_HERE' || code === 'POLICY_UNKNOWN') {
        throw new TelemetryError(code, cause.message, { cause, evidence });
      }
      if (code === 'ENROLLMENT_MISMATCH') {
        if (state.enrollment(entry.customer) === undefined) {
          throw new TelemetryError(
            'CUSTOMER_NOT_ENROLLED',
            'the customer has no logged enrollment',
            {
              cause,
              evidence,
            },
          );
        }
        throw new TelemetryError(code, cause.message, { cause, evidence });
      }
      throw new TelemetryError('BATCH_INVALID', cause.message, { cause, evidence });
    }
  }

  async #append(entryId: bigint, entry: Uint8Array): Promise<bigint> {
    const index = await this.#sequence(entry);
    await this.#storage.markLogged([{ id: entryId, index }]);
    return index;
  }

  async #sequence(entry: Uint8Array): Promise<bigint> {
    try {
      // Same bytes, same index: the log deduplicates (LogStorage.sequence).
      return (await this.#log.add(entry, { dedup: true })).index;
    } catch (cause) {
      throw new TelemetryError('INGEST_LOG_FAILED', 'the ingest log did not take the entry', {
        cause,
      });
    }
  }

  async #receipt(index: bigint): Promise<string> {
    try {
      const cp = await this.#log.waitForCheckpoint(index, this.#receiptTimeoutMs);
      return await this.#log.receipt(index, cp);
    } catch (cause) {
      if (hasCode(cause, 'WAIT_TIMEOUT')) {
        throw new TelemetryError(
          'RECEIPT_TIMEOUT',
          'no witnessed checkpoint covered the entry in time; the batch is stored, re-send it for the receipt',
          { cause, evidence: { index: index.toString() } },
        );
      }
      if (hasCode(cause, 'CLOSED'))
        throw new TelemetryError('CLOSED', 'the site is closing', { cause });
      throw new TelemetryError('INGEST_LOG_FAILED', 'cannot make the receipt', { cause });
    }
  }

  /**
   * Appends every stored entry whose log index is not recorded (a crash
   * between storing and logging, or a failed append) and records the
   * indices. Returns how many it appended.
   */
  async recover(): Promise<number> {
    let total = 0;
    for (;;) {
      const pending = await this.#storage.unlogged(RECOVER_CHUNK);
      if (pending.length === 0) return total;
      let results;
      try {
        results = await this.#log.addBatch(
          pending.map((p) => p.entry),
          { dedup: true },
        );
      } catch (cause) {
        throw new TelemetryError('INGEST_LOG_FAILED', 'recovery could not append', { cause });
      }
      await this.#storage.markLogged(
        pending.map((p, i) => ({ id: p.id, index: (results[i] as { index: bigint }).index })),
      );
      total += pending.length;
      if (pending.length < RECOVER_CHUNK) return total;
    }
  }

  /**
   * Deletes batches stored more than `periodMs` ago, in chunks of at most
   * 500 (one `deleted` ingest-log entry each), and appends those entries.
   * Returns the deleted digests.
   */
  async retain(periodMs: number): Promise<string[]> {
    const nowMs = this.#now();
    const olderThanMs = nowMs - periodMs;
    const olderThan = new Date(olderThanMs).toISOString();
    const deletedAt = new Date(nowMs).toISOString();
    const deleted: string[] = [];
    for (;;) {
      const result = await this.#storage.deleteOlderThan(
        olderThanMs,
        MAX_DELETED_PER_ENTRY,
        (batches) =>
          encodeIngestLogEntry({
            schema: INGEST_LOG_SCHEMA,
            kind: 'deleted',
            site: this.siteId,
            batches,
            olderThan,
            deletedAt,
          }),
      );
      if (result.entry === null) break;
      deleted.push(...result.digests);
      this.#metrics?.deleted(result.digests.length);
      await this.#append(result.entry.id, result.entry.entry);
      if (result.digests.length < MAX_DELETED_PER_ENTRY) break;
    }
    return deleted;
  }
}

/** The policy version the router routed under (`Glasshouse-Policy: sha256:<hex>`), if well-formed. */
function validPolicyHeader(value: string | undefined): string | undefined {
  return value !== undefined && DIGEST.test(value) ? value : undefined;
}

function policyHeaderInvalid(value: string | undefined): TelemetryError {
  return new TelemetryError('POLICY_HEADER_INVALID', 'Glasshouse-Policy must be sha256:<64 hex>', {
    evidence: { value: value?.slice(0, 80) ?? null },
  });
}
