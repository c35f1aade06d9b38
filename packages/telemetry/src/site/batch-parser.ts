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
import { ResidencyError, parseBatch } from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import type { EventVerdict } from './storage.js';

/** A batch as parsed, with its events in columns and the sealed fields' bytes in one buffer. */
export interface ParsedBatch {
  readonly batchId: string;
  readonly customer: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  readonly keyRelease: string;
  readonly sealedKey: Uint8Array;
  readonly sha256: readonly string[];
  readonly rule: readonly (string | null)[];
  readonly verdict: readonly EventVerdict[];
  readonly timeBucket: readonly string[];
  /** Every event's decoded `personal`, one after another; event i is [offsets[i], offsets[i+1]). */
  readonly personal: Uint8Array;
  readonly offsets: Uint32Array;
}

export interface BatchParser {
  parse(bytes: Uint8Array): Promise<ParsedBatch>;
  close(): Promise<void>;
}

/** parseBatch and the decoding of its base64 fields (BATCH_TOO_LARGE / BATCH_INVALID). */
export function parseForStore(bytes: Uint8Array): ParsedBatch {
  let batch;
  try {
    batch = parseBatch(bytes);
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
  const n = batch.events.length;
  // parseBatch checked strict base64 and each decoded length (batch.ts).
  const decoded = batch.events.map((e) => Buffer.from(e.personal, 'base64'));
  const offsets = new Uint32Array(n + 1);
  decoded.forEach((d, i) => {
    offsets[i + 1] = (offsets[i] ?? 0) + d.length;
  });
  return {
    batchId: batch.batchId,
    customer: batch.customer,
    region: batch.region,
    productVersion: batch.productVersion,
    createdAt: batch.createdAt,
    keyRelease: batch.keyRelease,
    sealedKey: Buffer.from(batch.sealedKey, 'base64'),
    sha256: batch.events.map((e) => e.sha256),
    rule: batch.events.map((e) => e.rule),
    verdict: batch.events.map((e) => e.verdict),
    timeBucket: batch.events.map((e) => e.timeBucket),
    personal: Buffer.concat(decoded, offsets[n]),
    offsets,
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

const WORKER_FILE = new URL('./parse-worker.js', import.meta.url);

/**
 * The worker parser when the compiled worker file is there (a build);
 * running from the TypeScript sources has none, and parses inline.
 */
export function defaultBatchParser(): BatchParser {
  return existsSync(fileURLToPath(WORKER_FILE)) ? new WorkerBatchParser() : inlineBatchParser;
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
  constructor(file: URL = WORKER_FILE) {
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
