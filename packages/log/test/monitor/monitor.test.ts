import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '@glasshouse/log';
import { hashLeaf, tilePath, tilesToWrite } from '@glasshouse/tlog';
import type { FastifyInstance } from 'fastify';
import {
  FileMirrorStore,
  MIRROR_DIR,
  MemoryAlertSink,
  type MonitorProgress,
  SqliteMonitorStateStore,
  buildMirrorServer,
  createMonitor,
  listMirroredTiles,
} from '@glasshouse/witness';
import { SpecClient } from '../tiles-client.js';
import { type TestLog, entries, listen, makeTestLog, tempDir } from './monitor-fixtures.js';

describe('monitor: catching up with a growing log', () => {
  let log: TestLog;
  let server: FastifyInstance;
  let url: string;
  let stateDir: string;

  beforeAll(async () => {
    log = await makeTestLog();
    server = buildServer({ log: log.log });
    url = await listen(server);
    stateDir = await tempDir('glasshouse-monitor-');
  });
  afterAll(async () => {
    await server.close();
    await log.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  const open = async (alerts: MemoryAlertSink, events: MonitorProgress[] = []) => {
    const state = SqliteMonitorStateStore.open(stateDir);
    const mirror = await FileMirrorStore.open(join(stateDir, MIRROR_DIR));
    const monitor = createMonitor({
      url,
      logVerifier: log.verifierKey,
      state,
      mirror,
      alerts,
      onProgress: (e) => events.push(e),
    });
    return { monitor, state };
  };

  it('verifies every entry over several runs, resumes, and mirrors byte-identical tiles', async () => {
    const alerts = new MemoryAlertSink();
    const events: MonitorProgress[] = [];
    const first = await open(alerts, events);
    // The empty tree, then growth across full and partial tiles, a level-1
    // tile, and entries of 4 KB.
    expect((await first.monitor.runOnce()).outcome).toBe('advanced');
    let cp = await log.add(entries(0, 300));
    let r = await first.monitor.runOnce();
    expect(r).toMatchObject({ outcome: 'advanced', oldSize: 0n, size: cp.checkpoint.size });
    cp = await log.add(entries(300, 1700));
    r = await first.monitor.runOnce();
    expect(r).toMatchObject({ outcome: 'advanced', size: 2000n, entries: 1700n });
    cp = await log.add(entries(2000, 1000));
    expect((await first.monitor.runOnce()).size).toBe(3000n);
    expect((await first.monitor.runOnce()).outcome).toBe('up-to-date');
    // A second monitor cannot share the directory.
    expect(() => SqliteMonitorStateStore.open(stateDir)).toThrow(
      expect.objectContaining({ code: 'MONITOR_STATE_LOCKED' }) as Error,
    );
    await first.state.close();

    // Resume from the persisted state: only the new entries are fetched.
    const second = await open(alerts, events);
    cp = await log.add(entries(3000, 7));
    r = await second.monitor.runOnce();
    expect(r).toMatchObject({ outcome: 'advanced', oldSize: 3000n, size: 3007n, entries: 7n });
    const saved = await second.state.load();
    expect(saved?.size).toBe(3007n);
    expect(Buffer.from(saved?.root ?? [])).toEqual(Buffer.from(cp.checkpoint.rootHash));
    expect(saved?.checkpoint).toBe(cp.note);
    await second.state.close();
    expect(alerts.alerts).toEqual([]);
    expect(events.some((e) => e.phase === 'entries')).toBe(true);

    // The mirror: the verified checkpoint and every tile of the tree, byte for byte the log's.
    const mirrorDir = join(stateDir, MIRROR_DIR);
    const mirrored = await listMirroredTiles(mirrorDir);
    for (const ref of tilesToWrite(0n, 3007n)) expect(mirrored).toContain(tilePath(ref));
    expect(mirrored).toContain('tile/1/000.p/11');
    const app = buildMirrorServer({ dir: mirrorDir });
    const mirrorUrl = await listen(app);
    try {
      for (const path of mirrored) {
        const [a, b] = await Promise.all([
          fetch(new URL(path, mirrorUrl)).then((res) => res.arrayBuffer()),
          fetch(new URL(path, url)).then((res) => res.arrayBuffer()),
        ]);
        expect(Buffer.from(a).equals(Buffer.from(b)), path).toBe(true);
      }
      const [mc, lc] = await Promise.all([
        fetch(new URL('checkpoint', mirrorUrl)),
        fetch(new URL('checkpoint', url)),
      ]);
      expect(mc.headers.get('cache-control')).toBe('no-cache');
      expect(await mc.text()).toBe(await lc.text());
      const bundle = await fetch(new URL('tile/entries/011.p/191', mirrorUrl), {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(bundle.headers.get('content-encoding')).toBe('gzip');
      expect(bundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await fetch(new URL('tile/0/x999/000', mirrorUrl))).status).toBe(404);
      expect((await fetch(new URL('tile/0/..%2F..%2Fmonitor.db', mirrorUrl))).status).toBe(400);

      // A client written from the specs verifies entries against the mirror alone.
      const client = new SpecClient(mirrorUrl, log.verifierKey);
      const checkpoint = await client.checkpoint();
      expect(checkpoint.size).toBe(3007n);
      await client.verifyRoot(checkpoint);
      const all = await client.entries(checkpoint.size);
      expect(Buffer.from(hashLeaf(all[2999]!))).toEqual(
        Buffer.from(hashLeaf(entries(2999, 1)[0]!)),
      );
      for (let i = 0; i < all.length; i += 61) {
        await client.verifyIncluded(all[i]!, BigInt(i), checkpoint);
      }
      await client.verifyIncluded(all[3006]!, 3006n, checkpoint);
    } finally {
      await app.close();
    }
  });
});
