/**
 * The storage ceiling: a storage adapter's `sequence()` called back to back
 * in this process, no HTTP and no sequencer, one call at a time (as the
 * sequencer makes them). What the service could reach at best on this disk.
 */
import { hashLeaf } from '@glasshouse/tlog';
import type { LogStorage, PendingEntry } from '../src/index.js';
import { makeEntry } from './entries.js';

export async function sequenceRate(
  storage: LogStorage,
  perCall: number,
  seconds: number,
): Promise<{ entriesPerS: number; calls: number; meanCallMs: number }> {
  const batch: PendingEntry[] = Array.from({ length: perCall }, () => {
    const data = makeEntry(1024);
    return { data, leafHash: hashLeaf(data) };
  });
  // One untimed call: table creation, statement caches, connection warm-up.
  await storage.sequence(batch, { dedup: false });
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await storage.sequence(batch, { dedup: false });
    calls++;
  }
  const ms = performance.now() - t0;
  return { entriesPerS: (calls * perCall * 1000) / ms, calls, meanCallMs: ms / calls };
}
