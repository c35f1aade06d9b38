/**
 * Test logs for the monitor: real `@glasshouse/log` instances on real SQLite
 * and files, served over loopback HTTP either by the log's own server or by
 * a small switchboard the test controls (to show a monitor two histories).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  type Log,
  type SignedCheckpoint,
  type SqliteStorage,
  initLog,
  openLog,
  openSqliteStorage,
} from '@glasshouse/log';
import { generateSignerKey } from '@glasshouse/tlog';

export const ORIGIN = 'example.org/monitored-log';

export interface TestLog {
  readonly dir: string;
  readonly storage: SqliteStorage;
  readonly log: Log;
  readonly signerKey: string;
  readonly verifierKey: string;
  /** Adds the entries and resolves with the first checkpoint covering them all. */
  add(entries: readonly Uint8Array[]): Promise<SignedCheckpoint>;
  close(): Promise<void>;
}

/** A fresh log in a temp dir; pass `signerKey` to make a second log with the same key. */
export async function makeTestLog(signerKey?: string): Promise<TestLog> {
  const dir = await tempDir('glasshouse-monitored-log-');
  const storage = await openSqliteStorage({ dir });
  const key = signerKey ?? generateSignerKey(ORIGIN).signerKey;
  const { verifierKey } = await initLog({ origin: ORIGIN, signerKey: key, storage });
  const log = await openLog({
    storage,
    signerKey: key,
    sequencer: { batchDelayMs: 5 },
    integrator: { intervalMs: 20 },
  });
  return {
    dir,
    storage,
    log,
    signerKey: key,
    verifierKey,
    add: async (entries) => {
      let last = -1n;
      for (let i = 0; i < entries.length; i += 4096) {
        const results = await log.addBatch(entries.slice(i, i + 4096));
        for (const r of results) if (r.index > last) last = r.index;
      }
      return log.waitForCheckpoint(last, 20_000);
    },
    close: async () => {
      await log.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Entries `from`..`from+count-1`, of varying lengths (some large). */
export function entries(from: number, count: number, tag = 'entry'): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = from; i < from + count; i++) {
    const text = `${tag} ${i} ${'x'.repeat(i % 97)}`;
    const pad = i % 500 === 7 ? 4000 : 0;
    const e = new Uint8Array(text.length + pad);
    e.set(new TextEncoder().encode(text));
    out.push(e);
  }
  return out;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Listens on a free loopback port; returns the prefix URL with a final slash. */
export async function listen(app: FastifyInstance): Promise<string> {
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return `${address}/`;
}

/**
 * A tlog-tiles server that shows whichever log (and, optionally, whichever
 * checkpoint note) the test chooses at the moment.
 */
export interface Switchboard {
  readonly app: FastifyInstance;
  show(log: Log, note?: string): void;
}

export function switchboard(): Switchboard {
  let current: { log: Log; note: string | undefined } | undefined;
  const app = Fastify();
  app.get('/checkpoint', async (_req, reply) => {
    if (current === undefined) return reply.code(404).send('nothing to show');
    const note = current.note ?? (await current.log.latest()).note;
    return reply.header('content-type', 'text/plain; charset=utf-8').send(note);
  });
  app.get('/tile/*', async (req, reply) => {
    if (current === undefined) return reply.code(404).send('nothing to show');
    const data = await current.log.readTile(`tile/${(req.params as { '*': string })['*']}`);
    if (data === null) return reply.code(404).send('no such tile');
    return reply.header('content-type', 'application/octet-stream').send(Buffer.from(data));
  });
  return {
    app,
    show: (log, note) => {
      current = { log, note };
    },
  };
}
