import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSignerKey } from '@glasshouse/tlog';
import { initLog, openLog, type Log, type OpenLogOptions } from '../src/log.js';
import { openSqliteStorage, type SqliteStorage } from '../src/sqlite.js';

export const ORIGIN = 'example.org/glasshouse-test';

export interface TestLog {
  dir: string;
  storage: SqliteStorage;
  log: Log;
  signerKey: string;
  verifierKey: string;
  close(): Promise<void>;
}

/** A fresh log on real SQLite in a temp dir, with fast batching and integration. */
export async function makeTestLog(
  opts: Partial<Omit<OpenLogOptions, 'storage' | 'signerKey'>> = {},
): Promise<TestLog> {
  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-log-'));
  const storage = await openSqliteStorage({ dir });
  const { signerKey, verifierKey } = generateSignerKey(ORIGIN);
  await initLog({ origin: ORIGIN, signerKey, storage });
  const log = await openLog({
    ...opts,
    storage,
    signerKey,
    sequencer: { batchDelayMs: 5, ...opts.sequencer },
    integrator: { intervalMs: 20, ...opts.integrator },
  });
  return {
    dir,
    storage,
    log,
    signerKey,
    verifierKey,
    close: async () => {
      await log.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
