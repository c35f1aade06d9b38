/**
 * Parsing a batch for storage (strict UTF-8, JSON, every field, canonical
 * form, then the sealed fields base64-decoded) is a quarter of the site's
 * CPU per batch. `WorkerBatchParser` does it on a worker thread, so the
 * event loop that serves HTTP and writes SQLite runs beside it on the
 * other core; `parseForStore` is the same work inline. Both answer the
 * same value or the same coded error.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type BatchColumns,
  ResidencyError,
  batchSummary,
  type StoredEntry,
  encodeIngestLogEntry,
  parseBatchColumns,
} from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import type { BatchToStore, BatchWriter, SiteStorage, StoredEvent } from './storage.js';

/** A batch as parsed, with its events in columns and the sealed fields' bytes in one buffer. */
export type ParsedBatch = BatchColumns;

export interface BatchParser {
  parse(bytes: Uint8Array): Promise<ParsedBatch>;
  close(): Promise<void>;
}

/** residency's parseBatchColumns, its refusals as BATCH_TOO_LARGE / BATCH_INVALID. */
export function parseForStore(bytes: Uint8Array): ParsedBatch {
  try {
    return parseBatchColumns(bytes);
  } catch (cause) {
    if (cause instanceof ResidencyError) {
      const code = cause.code === 'BATCH_TOO_LARGE' ? 'BATCH_TOO_LARGE' : 'BATCH_INVALID';
      throw new TelemetryError(code, cause.message, {
        cause,
        ...(cause.evidence === undefined ? {} : { evidence: { ...cause.evidence } }),
      });
    }
    throw cause;
  }
}

/** A writer for any storage: `parser` makes the columns here, `storeBatch` stores them. */
export function parseThenStore(parser: BatchParser, storage: SiteStorage): BatchWriter {
  return {
    prepare: async (bytes, digest, parse) => {
      const stored = await storage.batch(digest);
      if (stored !== null) return { stored };
      if (!parse) return 'unparsed';
      const batch = await parser.parse(bytes);
      return {
        parsed: {
          ...batchSummary(batch),
          store: (d, entry, storedAtMs) => storage.storeBatch(toStore(batch, d, entry, storedAtMs)),
          drop: () => undefined,
        },
      };
    },
    close: () => parser.close(),
  };
}

export const inlineBatchParser: BatchParser = {
  parse: (bytes) => {
    try {
      return Promise.resolve(parseForStore(bytes));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  },
  close: () => Promise.resolve(),
};

/** What the worker answers: the parsed batch, or the coded error it threw. */
export type ParseAnswer =
  | { readonly id: number; readonly parsed: ParsedBatch }
  | {
      readonly id: number;
      readonly error: { code?: string; message: string; evidence?: Record<string, unknown> };
    };

/** The compiled worker next to this module (a function: bundled into a CommonJS thread, this module has no URL). */
const workerFile = (): URL => new URL('./parse-worker.js', import.meta.url);

/**
 * The worker parser when the compiled worker file is there (a build);
 * running from the TypeScript sources has none, and parses inline.
 */
export function defaultBatchParser(): BatchParser {
  return existsSync(fileURLToPath(workerFile())) ? new WorkerBatchParser() : inlineBatchParser;
}

export class WorkerBatchParser implements BatchParser {
  readonly #file: URL;
  #worker: Worker;
  readonly #waiting = new Map<
    number,
    { resolve: (p: ParsedBatch) => void; reject: (e: Error) => void }
  >();
  #next = 0;
  #closed = false;
  /** Whether the running thread has answered once (a thread that never does is not restarted). */
  #answered = false;

  /** `file`: the compiled worker script (default the one next to this module). */
  constructor(file: URL = workerFile()) {
    this.#file = file;
    this.#worker = this.#start();
  }

  parse(bytes: Uint8Array): Promise<ParsedBatch> {
    if (this.#closed) {
      return Promise.reject(new TelemetryError('PARSER_FAILED', 'the batch parser is not running'));
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, bytes });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker.terminate();
  }

  #start(): Worker {
    const worker = new Worker(this.#file);
    this.#answered = false;
    // Only the requests keep the process alive, not the idle worker.
    worker.unref();
    worker.on('message', (answer: ParseAnswer) => {
      this.#answer(answer);
    });
    worker.on('error', (err) => {
      this.#stopped(worker, err);
    });
    worker.on('exit', (code) => {
      this.#stopped(worker, new Error(`the batch parser exited (${code})`));
    });
    return worker;
  }

  /**
   * The batches it held fail (the router re-sends them); a new thread takes
   * the next ones if this one had worked, else every later batch fails.
   */
  #stopped(worker: Worker, err: Error): void {
    if (worker !== this.#worker) return;
    for (const w of this.#waiting.values()) {
      w.reject(new TelemetryError('PARSER_FAILED', 'the batch parser stopped', { cause: err }));
    }
    this.#waiting.clear();
    if (this.#closed) return;
    if (this.#answered) this.#worker = this.#start();
    else this.#closed = true;
  }

  #answer(answer: ParseAnswer): void {
    this.#answered = true;
    const waiting = this.#waiting.get(answer.id);
    if (waiting === undefined) return;
    this.#waiting.delete(answer.id);
    if ('parsed' in answer) {
      waiting.resolve(answer.parsed);
      return;
    }
    const { code, message, evidence } = answer.error;
    waiting.reject(
      code === 'BATCH_TOO_LARGE' || code === 'BATCH_INVALID'
        ? new TelemetryError(code, message, { evidence: evidence ?? {} })
        : new TelemetryError('PARSER_FAILED', `the batch parser failed: ${message}`),
    );
  }
}

/** The i-th value of a parsed batch's column (the parser fills every column for every event). */
function column<T>(values: ArrayLike<T>, i: number): T {
  if (i >= values.length) {
    throw new TelemetryError('PARSER_FAILED', 'a parsed batch has columns of different lengths');
  }
  return values[i] as T;
}

/** What the site stores for a parsed batch (exported for the benchmark's direct-insert baseline). */
export function toStore(
  batch: ParsedBatch,
  digest: string,
  entry: StoredEntry,
  storedAtMs: number,
): BatchToStore {
  const { personal, offsets } = batch;
  const events: StoredEvent[] = batch.sha256.map((sha256, i) => {
    const start = column(offsets, i);
    return {
      sha256,
      rule: column(batch.rule, i),
      verdict: column(batch.verdict, i),
      timeBucket: column(batch.timeBucket, i),
      personal: Buffer.from(
        personal.buffer,
        personal.byteOffset + start,
        column(offsets, i + 1) - start,
      ),
    };
  });
  return {
    digest,
    batchId: batch.batchId,
    customer: batch.customer,
    region: batch.region,
    policy: entry.policy,
    productVersion: batch.productVersion,
    createdAt: batch.createdAt,
    sealedKey: batch.sealedKey,
    keyRelease: batch.keyRelease,
    storedAtMs,
    events,
    entry: encodeIngestLogEntry(entry),
  };
}
