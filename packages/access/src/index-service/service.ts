/**
 * The index service (issue 17 §6): the "map sandwich" of transparency-dev's
 * verifiable index over the access log.
 *
 * One step:
 *  1. tail the access log through its tlog-tiles API (`VerifiedTail` of
 *     @glasshouse/telemetry: the checkpoint is signed by the log and
 *     cosigned to the quorum of its c2sp.org/tlog-policy, consistent with
 *     the last verified one, and the new entries hash to its root);
 *  2. feed the new entries through the MapFn (`accessIndexKey`) into the
 *     `AccessIndex` and take its root;
 *  3. append the output-log entry {log, size, logRoot, indexRoot} (vindex
 *     README "Constructing" 5) and wait until a witnessed checkpoint of the
 *     output log covers it (`LogClient.add` with `wait`; `dedup` makes the
 *     append idempotent when a crash came between append and save);
 *  4. save the tail state, the MapFn output, the touched customers' lists
 *     and the published revision in one transaction (`IndexStore.commit`).
 *
 * Lookups are answered only from a published revision: while a step is
 * between its root and its save, a lookup waits for it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  AccessIndex,
  type IndexCustomerState,
  type LookupProof,
  accessIndexKey,
  encodeOutputEntry,
  parseOutputEntry,
  OUTPUT_ENTRY_SCHEMA,
} from '@glasshouse/access-format';
import { CodedError } from '@glasshouse/errors';
import { LogClient } from '@glasshouse/log';
import { CUSTOMER_PSEUDONYM } from '@glasshouse/residency';
import { VerifiedTail, type TailState } from '@glasshouse/telemetry';
import { CompactRange, bytesEqual, parsePolicy } from '@glasshouse/tlog';
import { AccessError } from '../errors.js';
import { nodeSha256 } from '../hash.js';
import type { CustomerPeaks, IndexStore, PublishedRevision } from './store.js';

export interface IndexServiceOptions {
  /** The access log's tlog-tiles prefix. */
  readonly accessLogUrl: string;
  /** The access log's c2sp.org/tlog-policy (its log key and the witness quorum). */
  readonly accessLogPolicy: string;
  /** The output log's prefix (its write API: `add`). */
  readonly outputLogUrl: string;
  /** The fetch that writes to the output log (e.g. an httpsig signing fetch). */
  readonly outputFetch?: typeof fetch;
  readonly store: IndexStore;
  /** Told how far a long step (a rebuild) has got. */
  readonly onProgress?: (p: { readonly indexed: bigint; readonly target: bigint }) => void;
  /**
   * The MapFn (vindex "MapFn"); default `accessIndexKey`. Fixed for the
   * life of the index: another function gives other roots.
   */
  readonly mapFn?: (entry: Uint8Array) => string | null;
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** What the service answers a customer (`GET /v1/lookup/<customer>`). */
export interface LookupAnswer {
  readonly customer: string;
  /** The published revision the answer is from. */
  readonly outputIndex: bigint;
  /** The output-log entry's bytes (`encodeOutputEntry`). */
  readonly entry: Uint8Array;
  readonly indices: readonly bigint[];
  readonly proof: LookupProof;
}

export interface StepResult {
  /** Access-log entries indexed in this step. */
  readonly indexed: number;
  /** The revision published in this step, or null when the log had not grown. */
  readonly published: PublishedRevision | null;
}

const PROGRESS_EVERY = 100_000;

export class IndexService {
  readonly #opts: IndexServiceOptions;
  readonly #tail: VerifiedTail;
  readonly #output: LogClient;
  readonly #mapFn: (entry: Uint8Array) => string | null;
  #index: AccessIndex;
  #state: TailState | null;
  #published: PublishedRevision | null;
  #stepping: Promise<StepResult> | undefined;
  #closed = false;

  private constructor(
    opts: IndexServiceOptions,
    index: AccessIndex,
    state: TailState | null,
    published: PublishedRevision | null,
  ) {
    this.#opts = opts;
    this.#index = index;
    this.#state = state;
    this.#published = published;
    this.#mapFn = opts.mapFn ?? accessIndexKey;
    this.#tail = new VerifiedTail({
      url: opts.accessLogUrl,
      policy: opts.accessLogPolicy,
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      timeoutMs: opts.timeoutMs ?? 10_000,
    });
    this.#output = new LogClient(
      opts.outputLogUrl,
      opts.outputFetch === undefined ? {} : { fetch: opts.outputFetch },
    );
  }

  /** Reopens the saved index (no replay of the access log) and checks it against its published root. */
  static async open(opts: IndexServiceOptions): Promise<IndexService> {
    try {
      if (parsePolicy(opts.accessLogPolicy).logs.length === 0) throw new Error('no log line');
    } catch (cause) {
      throw new AccessError(
        'CONFIG_INVALID',
        'the access-log policy does not parse or names no log',
        {
          cause,
        },
      );
    }
    const { index, state, published } = await restore(opts.store);
    return new IndexService(opts, index, state, published);
  }

  /** The last published revision, or null before the first. */
  get published(): PublishedRevision | null {
    return this.#published;
  }

  /** Entries indexed (the access-log size of the published revision). */
  get size(): bigint {
    return this.#index.size;
  }

  get customers(): number {
    return this.#index.customers;
  }

  /** One step (see the module comment); concurrent calls share it. */
  step(): Promise<StepResult> {
    if (this.#closed)
      return Promise.reject(new AccessError('CLOSED', 'the index service is closed'));
    this.#stepping ??= this.#step().finally(() => {
      this.#stepping = undefined;
    });
    return this.#stepping;
  }

  /** Steps every `intervalMs` until `signal` aborts; a failed step is reported and retried. */
  async run(
    signal: AbortSignal,
    intervalMs = 1_000,
    onError: (err: unknown) => void = () => undefined,
  ): Promise<void> {
    while (!signal.aborted && !this.#closed) {
      try {
        await this.step();
      } catch (err) {
        onError(err);
      }
      await delay(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The customer's list and lookup proof at the published revision. */
  async lookup(customer: string): Promise<LookupAnswer> {
    if (!CUSTOMER_PSEUDONYM.test(customer)) {
      throw new AccessError('BAD_REQUEST', 'not a customer pseudonym', {
        evidence: { customer: customer.slice(0, 40) },
      });
    }
    // Never answer from a root that is not yet published.
    await this.#stepping?.catch(() => undefined);
    const published = this.#published;
    if (published === null || this.#closed) {
      throw new AccessError('INDEX_NOT_READY', 'no index revision is published yet');
    }
    const { indices, proof } = this.#index.lookup(customer);
    return { customer, outputIndex: published.outputIndex, entry: published.entry, indices, proof };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#stepping?.catch(() => undefined);
    this.#tail.close();
    await this.#opts.store.close();
  }

  async #step(): Promise<StepResult> {
    let update;
    try {
      update = await this.#tail.step(this.#state);
    } catch (err) {
      throw tailError(err, 'access log');
    }
    const next = update.next;
    if (update.entries.length === 0 && this.#published?.size === next.size) {
      this.#state = next;
      return { indexed: 0, published: null };
    }
    const fromSize = this.#index.size;
    if (update.entries.length > 0 && update.entries[0]?.index !== fromSize) {
      throw new AccessError('INDEX_STATE_CORRUPT', 'the tail and the index disagree on the size', {
        evidence: { index: fromSize.toString(), tail: String(update.entries[0]?.index) },
      });
    }
    const keys: { index: bigint; customer: string }[] = [];
    const touched = new Set<string>();
    try {
      let n = 0;
      for (const e of update.entries) {
        const customer = this.#mapFn(e.data);
        this.#index.appendKey(customer);
        if (customer !== null) {
          keys.push({ index: e.index, customer });
          touched.add(customer);
        }
        if (++n % PROGRESS_EVERY === 0) {
          this.#opts.onProgress?.({ indexed: e.index + 1n, target: next.size });
        }
      }
      const entry = encodeOutputEntry({
        schema: OUTPUT_ENTRY_SCHEMA,
        log: next.origin,
        size: next.size,
        logRoot: new CompactRange({ size: next.size, hashes: next.compact }).root(),
        indexRoot: this.#index.root(),
      });
      let outputIndex: bigint;
      try {
        outputIndex = (await this.#output.add(entry, { wait: true, dedup: true })).index;
      } catch (cause) {
        throw new AccessError(
          'OUTPUT_APPEND_FAILED',
          'the output log did not take the revision (or no witnessed checkpoint covered it)',
          {
            cause,
            evidence: {
              url: this.#opts.outputLogUrl,
              size: next.size.toString(),
              ...(cause instanceof CodedError ? { code: cause.code } : {}),
            },
          },
        );
      }
      const published: PublishedRevision = { size: next.size, outputIndex, entry };
      const customers: CustomerPeaks[] = [...touched].map((c) => {
        const s = this.#index.customerState(c) as IndexCustomerState;
        return { customer: c, count: s.indices.length, peaks: s.peaks };
      });
      await this.#opts.store.commit({ fromSize, tail: next, keys, customers, published });
      this.#state = next;
      this.#published = published;
      if (update.entries.length >= PROGRESS_EVERY) {
        this.#opts.onProgress?.({ indexed: next.size, target: next.size });
      }
      return { indexed: update.entries.length, published };
    } catch (err) {
      // The in-memory index is ahead of what was saved: go back to the saved state.
      const saved = await restore(this.#opts.store);
      this.#index = saved.index;
      this.#state = saved.state;
      this.#published = saved.published;
      throw err;
    }
  }
}

async function restore(store: IndexStore): Promise<{
  index: AccessIndex;
  state: TailState | null;
  published: PublishedRevision | null;
}> {
  const snap = await store.load();
  let index: AccessIndex;
  try {
    index = AccessIndex.restore(snap.tail?.size ?? 0n, snap.customers, { sha256: nodeSha256 });
  } catch (cause) {
    throw new AccessError('INDEX_STATE_CORRUPT', 'the saved index does not restore', { cause });
  }
  if (snap.published !== null) {
    let root: Uint8Array;
    try {
      root = parseOutputEntry(snap.published.entry).indexRoot;
    } catch (cause) {
      throw new AccessError('INDEX_STATE_CORRUPT', 'the saved output entry does not parse', {
        cause,
      });
    }
    if (snap.published.size !== index.size || !bytesEqual(index.root(), root)) {
      throw new AccessError(
        'INDEX_STATE_CORRUPT',
        'the saved index does not give the root it published',
        { evidence: { size: index.size.toString(), published: snap.published.size.toString() } },
      );
    }
  }
  return { index, state: snap.tail, published: snap.published };
}

/** A tail step's failure as this package's code (the tail's code and evidence kept). */
export function tailError(err: unknown, what: 'access log' | 'output log'): AccessError {
  if (!(err instanceof CodedError)) throw err;
  const unreachable = err.code === 'LOG_UNREACHABLE';
  const code =
    what === 'access log'
      ? unreachable
        ? 'ACCESS_LOG_UNREACHABLE'
        : 'ACCESS_LOG_INVALID'
      : unreachable
        ? 'OUTPUT_LOG_UNREACHABLE'
        : 'OUTPUT_LOG_INVALID';
  return new AccessError(code, `${what}: ${err.message}`, {
    cause: err,
    evidence: { code: err.code, ...err.evidence },
  });
}
