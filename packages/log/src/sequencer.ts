import { MAX_ENTRY_SIZE, hashLeaf } from '@glasshouse/tlog';
import { LogError } from './errors.js';
import type { LogMetrics } from './metrics.js';
import type { LogStorage, PendingEntry } from './storage.js';

export interface SequencerOptions {
  /** Flush as soon as this many entries wait. Default 256. */
  batchSize?: number;
  /** Flush at most this long after the oldest waiting entry arrived. Default 100 ms. */
  batchDelayMs?: number;
  /** Most entries in one `storage.sequence` call. Default 4,096. */
  maxCallEntries?: number;
  /** Waiting entries beyond which adds fail with QUEUE_FULL. Default 65,536. */
  maxQueueEntries?: number;
  /** Waiting bytes beyond which adds fail with QUEUE_FULL. Default 64 MiB. */
  maxQueueBytes?: number;
  /** Dedup when a request does not say. Default false. */
  dedup?: boolean;
  metrics?: LogMetrics;
}

export interface SequencedResult {
  readonly index: bigint;
  readonly leafHash: Uint8Array;
}

interface Waiting {
  readonly entry: PendingEntry;
  readonly dedup: boolean;
  readonly enqueuedAt: number;
  resolve(r: SequencedResult): void;
  reject(err: unknown): void;
}

/** Checks one entry against c2sp.org/tlog-tiles limits: 1 to 65,535 bytes. */
export function checkEntry(data: Uint8Array, position?: number): void {
  const evidence = position === undefined ? {} : { position };
  if (data.length === 0) {
    throw new LogError('ENTRY_EMPTY', 'an entry must not be empty', { evidence });
  }
  // c2sp.org/tlog-tiles: entries carry a big-endian uint16 length prefix.
  if (data.length > MAX_ENTRY_SIZE) {
    throw new LogError('ENTRY_TOO_LARGE', `an entry is at most ${MAX_ENTRY_SIZE} bytes`, {
      evidence: { ...evidence, length: data.length },
    });
  }
}

/**
 * Collects adds into batches (by size and by time) and sequences each batch
 * with one storage call. A request resolves only once its batch is durable,
 * so its index may be acknowledged. The queue is bounded: beyond it, adds
 * fail fast with QUEUE_FULL instead of growing memory.
 */
export class Sequencer {
  readonly #storage: LogStorage;
  readonly #batchSize: number;
  readonly #batchDelayMs: number;
  readonly #maxCallEntries: number;
  readonly #maxQueueEntries: number;
  readonly #maxQueueBytes: number;
  readonly #dedup: boolean;
  readonly #metrics: LogMetrics | undefined;

  #queue: Waiting[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(storage: LogStorage, opts: SequencerOptions = {}) {
    this.#storage = storage;
    this.#batchSize = opts.batchSize ?? 256;
    this.#batchDelayMs = opts.batchDelayMs ?? 100;
    this.#maxCallEntries = Math.max(opts.maxCallEntries ?? 4096, this.#batchSize);
    this.#maxQueueEntries = opts.maxQueueEntries ?? 65_536;
    this.#maxQueueBytes = opts.maxQueueBytes ?? 64 * 1024 * 1024;
    this.#dedup = opts.dedup ?? false;
    this.#metrics = opts.metrics;
  }

  /** Entries waiting to be sequenced. */
  get queueDepth(): number {
    return this.#queue.length;
  }

  /** Sequences one entry; resolves once it is durable. */
  async add(data: Uint8Array, opts: { dedup?: boolean } = {}): Promise<SequencedResult> {
    const [result] = await this.addBatch([data], opts);
    return result as SequencedResult;
  }

  /**
   * Sequences several entries (admitted to the queue all or none); resolves
   * once all are durable. Their indices need not be consecutive.
   */
  addBatch(
    entries: readonly Uint8Array[],
    opts: { dedup?: boolean } = {},
  ): Promise<SequencedResult[]> {
    try {
      if (this.#closed) throw new LogError('CLOSED', 'the log is shutting down');
      let bytes = 0;
      entries.forEach((e, i) => {
        checkEntry(e, entries.length > 1 ? i : undefined);
        bytes += e.length;
      });
      if (
        this.#queue.length + entries.length > this.#maxQueueEntries ||
        this.#queuedBytes + bytes > this.#maxQueueBytes
      ) {
        throw new LogError('QUEUE_FULL', 'the sequencing queue is full; retry later', {
          evidence: { queued: this.#queue.length, maxQueueEntries: this.#maxQueueEntries },
        });
      }
      const dedup = opts.dedup ?? this.#dedup;
      const now = performance.now();
      const promises = entries.map(
        (data) =>
          new Promise<SequencedResult>((resolve, reject) => {
            this.#queue.push({
              entry: { data, leafHash: hashLeaf(data) },
              dedup,
              enqueuedAt: now,
              resolve,
              reject,
            });
          }),
      );
      this.#queuedBytes += bytes;
      this.#metrics?.queueDepth.set(this.#queue.length);
      this.#schedule();
      return Promise.all(promises);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Stops accepting adds and resolves once everything queued is sequenced (or failed). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#kick();
    while (this.#draining !== undefined) await this.#draining;
  }

  #schedule(): void {
    if (this.#queue.length >= this.#batchSize) {
      this.#kick();
    } else if (this.#timer === undefined && this.#draining === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, this.#batchDelayMs);
    }
  }

  #kick(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#draining !== undefined || this.#queue.length === 0) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      // Whatever arrived during the last call waits for its own deadline.
      if (this.#queue.length > 0) this.#scheduleRest();
    });
  }

  #scheduleRest(): void {
    const oldest = this.#queue[0];
    if (oldest === undefined) return;
    const wait = oldest.enqueuedAt + this.#batchDelayMs - performance.now();
    if (this.#closed || this.#queue.length >= this.#batchSize || wait <= 0) {
      this.#kick();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, wait);
    }
  }

  async #drain(): Promise<void> {
    for (;;) {
      const oldest = this.#queue[0];
      if (oldest === undefined) return;
      const due = oldest.enqueuedAt + this.#batchDelayMs <= performance.now();
      if (!due && !this.#closed && this.#queue.length < this.#batchSize) return;
      const batch = this.#queue.splice(0, this.#maxCallEntries);
      for (const w of batch) this.#queuedBytes -= w.entry.data.length;
      this.#metrics?.queueDepth.set(this.#queue.length);
      await this.#sequence(batch);
    }
  }

  async #sequence(batch: Waiting[]): Promise<void> {
    // One storage call per dedup mode (almost always a single call).
    for (const dedup of [false, true]) {
      const group = batch.filter((w) => w.dedup === dedup);
      if (group.length === 0) continue;
      let indices: bigint[];
      try {
        indices = await this.#storage.sequence(
          group.map((w) => w.entry),
          { dedup },
        );
        if (indices.length !== group.length) {
          throw new LogError('STORAGE_FAILED', 'storage returned the wrong number of indices', {
            evidence: { entries: group.length, indices: indices.length },
          });
        }
      } catch (cause) {
        const err =
          cause instanceof LogError
            ? cause
            : new LogError('STORAGE_FAILED', 'sequencing failed', { cause });
        for (const w of group) w.reject(err);
        continue;
      }
      const now = performance.now();
      group.forEach((w, i) => {
        const index = indices[i] as bigint;
        this.#metrics?.addLatency.observe((now - w.enqueuedAt) / 1000);
        w.resolve({ index, leafHash: w.entry.leafHash });
      });
      this.#metrics?.entriesSequenced.inc(group.length);
    }
  }
}
