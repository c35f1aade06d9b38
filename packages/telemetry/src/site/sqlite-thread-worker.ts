// The site's SQLite storage on a thread of its own (sqlite-thread.ts): it
// opens the storage, parses the batches it is sent, holds them until the
// site has checked them, and stores them; every other storage call is
// answered here too. Commits and their fsync run on this thread, not on the
// site's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadAnswer, ThreadReady, WireError } from '@glasshouse/db';
import { batchSummary } from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import { type ParsedBatch, parseForStore, toStore } from './batch-parser.js';
import { type SqliteSiteStorage, openSqliteSiteStorageHere } from './sqlite-storage.js';
import {
  type PrepareAnswer,
  type ThreadInit,
  type ThreadRequest,
  factsColumns,
} from './sqlite-thread.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-thread-worker.js runs as a worker thread');

/** Parsed batches waiting for the site's checks, by the id of their parse request. */
const held = new Map<number, ParsedBatch>();
/** More held batches than this means the site stopped storing or dropping them: refuse more. */
const MAX_HELD = 4096;

function wire(err: unknown): WireError {
  const e = err as { code?: unknown; message?: unknown; evidence?: unknown };
  return {
    ...(err instanceof TelemetryError ? { code: err.code } : {}),
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(err instanceof TelemetryError && typeof e.evidence === 'object' && e.evidence !== null
      ? { evidence: e.evidence as Record<string, unknown> }
      : {}),
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function run(storage: SqliteSiteStorage, req: ThreadRequest): Promise<unknown> {
  switch (req.op) {
    case 'prepare': {
      const stored = await storage.batch(req.digest);
      if (stored !== null) return { stored } satisfies PrepareAnswer;
      if (!req.parse) return 'unparsed' satisfies PrepareAnswer;
      if (held.size >= MAX_HELD) {
        throw new TelemetryError('PARSER_FAILED', 'too many parsed batches wait for the site');
      }
      const parsed = parseForStore(req.bytes);
      held.set(req.id, parsed);
      return { summary: batchSummary(parsed) } satisfies PrepareAnswer;
    }
    case 'store': {
      const parsed = held.get(req.held);
      held.delete(req.held);
      if (parsed === undefined) {
        throw new TelemetryError('PARSER_FAILED', 'the parsed batch is no longer held');
      }
      return storage.storeBatch(toStore(parsed, req.digest, req.entry, req.storedAtMs));
    }
    case 'delete':
      // The deletion runs only if the expired batches are still the ones the entry names.
      return storage.deleteOlderThan(req.olderThanMs, req.limit, (digests) => {
        if (!sameList(digests, req.digests)) {
          throw new TelemetryError('STORAGE_FAILED', 'the expired batches changed', {
            evidence: { expiredChanged: true },
          });
        }
        return req.entry;
      });
    case 'batch':
      return storage.batch(req.digest);
    case 'storeBatch':
      return storage.storeBatch(req.batch);
    case 'unlogged':
      return storage.unlogged(req.limit);
    case 'markLogged':
      return storage.markLogged(req.marks);
    case 'expired':
      return storage.expiredDigests(req.olderThanMs, req.limit);
    case 'readBatches':
      return storage.readBatches(req.customer, req.scope, req.limit);
    case 'reputation':
      return factsColumns(await storage.reputation(req.hashes));
    case 'importVerdicts':
      return storage.importVerdicts(req.verdicts);
    case 'summary':
      return storage.summary();
    case 'close':
      held.clear();
      return storage.close();
  }
}

function serve(storage: SqliteSiteStorage): void {
  port?.on('message', (req: ThreadRequest | { op: 'drop'; held: number }) => {
    if (req.op === 'drop') {
      held.delete(req.held);
      return;
    }
    run(storage, req).then(
      (value) => {
        port.postMessage({ id: req.id, ok: true, value } satisfies ThreadAnswer);
      },
      (err: unknown) => {
        port.postMessage({ id: req.id, ok: false, error: wire(err) } satisfies ThreadAnswer);
      },
    );
  });
}

const init = workerData as ThreadInit;
openSqliteSiteStorageHere(init).then(
  (storage) => {
    serve(storage);
    port.postMessage({ ready: true } satisfies ThreadReady);
  },
  (err: unknown) => {
    port.postMessage({ ready: false, error: wire(err) } satisfies ThreadReady);
  },
);
