import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogMetrics } from '../src/metrics.js';
import { Sequencer } from '../src/sequencer.js';
import { openSqliteStorage, type SqliteStorage } from '../src/sqlite.js';
import type { LogStorage, PendingEntry } from '../src/storage.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Real SQLite storage that records the size of every sequence call. */
function counting(storage: LogStorage): { storage: LogStorage; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    storage: new Proxy(storage, {
      get(target, prop, receiver) {
        if (prop === 'sequence') {
          return (entries: readonly PendingEntry[], opts: { dedup: boolean }) => {
            calls.push(entries.length);
            return target.sequence(entries, opts);
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }),
  };
}

let dir: string;
let sqlite: SqliteStorage;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-seq-'));
  sqlite = await openSqliteStorage({ dir });
});
afterEach(async () => {
  await sqlite.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Sequencer', () => {
  it('flushes a full batch at once, in one storage call', async () => {
    const { storage, calls } = counting(sqlite);
    const seq = new Sequencer(storage, { batchSize: 16, batchDelayMs: 10_000 });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => seq.add(utf8(`e${i}`))));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(calls).toEqual([16]);
    expect(new Set(results.map((r) => r.index)).size).toBe(16);
    await seq.close();
  });

  it('flushes a partial batch after the delay', async () => {
    const { storage, calls } = counting(sqlite);
    const seq = new Sequencer(storage, { batchSize: 256, batchDelayMs: 30 });
    const started = performance.now();
    const [a, b] = await Promise.all([seq.add(utf8('a')), seq.add(utf8('b'))]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect([a.index, b.index]).toEqual([0n, 1n]);
    expect(calls).toEqual([2]);
    // Resolved means durable: the entries are in storage.
    expect(await sqlite.sequencedSize()).toBe(2n);
    await seq.close();
  });

  it('refuses empty and oversize entries', async () => {
    const seq = new Sequencer(sqlite);
    await expect(seq.add(new Uint8Array(0))).rejects.toMatchObject({ code: 'ENTRY_EMPTY' });
    await expect(seq.add(new Uint8Array(65_536))).rejects.toMatchObject({
      code: 'ENTRY_TOO_LARGE',
    });
    await expect(seq.addBatch([utf8('ok'), new Uint8Array(0)])).rejects.toMatchObject({
      code: 'ENTRY_EMPTY',
      evidence: { position: 1 },
    });
    expect((await seq.add(new Uint8Array(65_535).fill(1))).index).toBe(0n);
    await seq.close();
  });

  it('fails fast with QUEUE_FULL instead of growing without bound', async () => {
    const metrics = new LogMetrics();
    const seq = new Sequencer(sqlite, {
      batchSize: 1000,
      batchDelayMs: 50,
      maxQueueEntries: 4,
      metrics,
    });
    const admitted = [1, 2, 3, 4].map((i) => seq.add(utf8(`q${i}`)));
    expect(seq.queueDepth).toBe(4);
    await expect(seq.add(utf8('one too many'))).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await expect(seq.addBatch([utf8('x'), utf8('y')])).rejects.toMatchObject({
      code: 'QUEUE_FULL',
    });
    expect((await Promise.all(admitted)).map((r) => r.index)).toEqual([0n, 1n, 2n, 3n]);
    expect(seq.queueDepth).toBe(0);
    expect((await seq.add(utf8('room again'))).index).toBe(4n);
    expect(await metrics.metricsText()).toContain('glasshouse_log_entries_sequenced_total 5');
    await seq.close();
  });

  it('dedups per request or by default', async () => {
    const seq = new Sequencer(sqlite, { batchDelayMs: 1 });
    const a = await seq.add(utf8('same'));
    expect((await seq.add(utf8('same'), { dedup: true })).index).toBe(a.index);
    expect((await seq.add(utf8('same'))).index).toBe(a.index + 1n);
    const dd = new Sequencer(sqlite, { batchDelayMs: 1, dedup: true });
    expect((await dd.add(utf8('same'))).index).toBe(a.index);
    await seq.close();
    await dd.close();
  });

  it('sequences everything queued on close, then refuses adds', async () => {
    const seq = new Sequencer(sqlite, { batchSize: 1000, batchDelayMs: 60_000 });
    const pending = Promise.all([seq.add(utf8('x')), seq.add(utf8('y'))]);
    await seq.close();
    expect((await pending).map((r) => r.index)).toEqual([0n, 1n]);
    await expect(seq.add(utf8('late'))).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('rejects every request of a batch whose storage call fails, and keeps going', async () => {
    let fail = true;
    const flaky = new Proxy(sqlite, {
      get(target, prop, receiver) {
        if (prop === 'sequence') {
          return (entries: readonly PendingEntry[], opts: { dedup: boolean }) => {
            if (fail) return Promise.reject(new Error('disk on fire'));
            return target.sequence(entries, opts);
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const seq = new Sequencer(flaky, { batchDelayMs: 1 });
    const failed = await Promise.allSettled([seq.add(utf8('a')), seq.add(utf8('b'))]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_FAILED' });
    fail = false;
    expect((await seq.add(utf8('c'))).index).toBe(0n);
    await seq.close();
  });
});
