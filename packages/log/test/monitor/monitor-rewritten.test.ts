import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '@glasshouse/log';
import type { FastifyInstance } from 'fastify';
import {
  type Alert,
  FileMirrorStore,
  MIRROR_DIR,
  MemoryAlertSink,
  SqliteMonitorStateStore,
  createMonitor,
  listMirroredTiles,
} from '@glasshouse/witness';
import { type TestLog, entries, listen, makeTestLog, tempDir } from './monitor-fixtures.js';

/** History rewritten on the log's disk after checkpoints were signed. */
describe('monitor: rewritten history', () => {
  let log: TestLog;
  let server: FastifyInstance;
  let url: string;
  const dirs: string[] = [];
  const restore: { file: string; data: Buffer }[] = [];

  beforeAll(async () => {
    log = await makeTestLog();
    server = buildServer({ log: log.log });
    url = await listen(server);
    await log.add(entries(0, 600));
  });
  afterEach(async () => {
    for (const { file, data } of restore.splice(0)) await writeFile(file, data);
    await restartServer();
  });
  afterAll(async () => {
    await server.close();
    await log.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** Changes one byte of a tile or bundle file on the log's disk (undone after the test). */
  const tamper = async (path: string, at: number): Promise<void> => {
    const file = join(log.dir, 'tiles', path);
    const data = await readFile(file);
    restore.push({ file, data: Buffer.from(data) });
    const changed = Buffer.from(data);
    changed[at] = (changed[at] ?? 0) ^ 0x01;
    await writeFile(file, changed);
    await restartServer();
  };

  /**
   * The log caches immutable bundles in memory, so a rewrite on disk shows
   * only once the server restarts — as it would for an operator rewriting
   * history. Same port, so monitors keep their URL.
   */
  const restartServer = async (): Promise<void> => {
    const { port } = new URL(url);
    await server.close();
    server = buildServer({ log: log.log });
    await server.listen({ host: '127.0.0.1', port: Number(port) });
  };

  const newMonitor = async () => {
    const dir = await tempDir('glasshouse-monitor-');
    dirs.push(dir);
    const state = SqliteMonitorStateStore.open(dir);
    const mirror = await FileMirrorStore.open(join(dir, MIRROR_DIR));
    const alerts = new MemoryAlertSink();
    const monitor = createMonitor({ url, logVerifier: log.verifierKey, state, mirror, alerts });
    return { monitor, state, mirror, alerts, dir };
  };

  const kinds = (alerts: readonly Alert[]) => alerts.map((a) => a.kind);

  it('a hash tile that does not match the entries: tiles-mismatch, the root still matches', async () => {
    const m = await newMonitor();
    await tamper('tile/0/001', 32 * 5 + 3);
    await tamper('tile/1/000.p/2', 32 + 7);
    const r = await m.monitor.runOnce();
    expect(r.outcome).toBe('alert');
    expect(kinds(r.alerts)).toEqual(['tiles-mismatch', 'tiles-mismatch']);
    const [low, high] = r.alerts;
    expect(low?.evidence).toMatchObject({ tile: 'tile/0/001', position: 5 });
    expect(high?.evidence).toMatchObject({ tile: 'tile/1/000.p/2', position: 1 });
    expect(low?.evidence.expected).not.toBe(low?.evidence.actual);
    expect(low?.evidence.checkpoint).toBe((await log.log.latest()).note);
    expect(m.alerts.alerts).toEqual(r.alerts);
    // Fail closed: no state, nothing published in the mirror.
    expect(await m.state.load()).toBeNull();
    expect(await m.mirror.readCheckpoint()).toBeNull();
    expect(await listMirroredTiles(join(m.dir, MIRROR_DIR))).toEqual([]);
    await m.state.close();
  });

  it('a rewritten entry bundle: the root no longer matches the entries', async () => {
    const m = await newMonitor();
    // Inside the first entry of bundle 1 (after its 2-byte length).
    await tamper('tile/entries/001', 4);
    const r = await m.monitor.runOnce();
    // The entry no longer hashes to the level-0 tile, its subtree no longer to
    // the level-1 tile, and the tree no longer to the signed root.
    expect(kinds(r.alerts)).toEqual(['tiles-mismatch', 'tiles-mismatch', 'root-mismatch']);
    expect(r.alerts[1]?.evidence).toMatchObject({ tile: 'tile/1/000.p/2', position: 1 });
    const root = r.alerts[2];
    const cp = (await log.log.latest()).checkpoint;
    expect(root?.evidence).toMatchObject({ size: cp.size.toString() });
    expect(root?.evidence.expected).toBe(Buffer.from(cp.rootHash).toString('base64'));
    expect(root?.evidence.actual).not.toBe(root?.evidence.expected);
    expect(r.alerts[0]?.evidence).toMatchObject({ tile: 'tile/0/001', position: 0 });
    expect(await m.state.load()).toBeNull();
    await m.state.close();
  });

  it('entries verified earlier and rewritten later: caught when the bundle grows', async () => {
    const m = await newMonitor();
    expect((await m.monitor.runOnce()).size).toBe(600n);
    await log.add(entries(600, 400));
    // Entry 520 was verified in the partial bundle at 600; the full bundle now changes it.
    const bundle = await readFile(join(log.dir, 'tiles', 'tile/entries/002'));
    let at = 0;
    for (let i = 512; i < 520; i++) at += 2 + bundle.readUInt16BE(at);
    await tamper('tile/entries/002', at + 2);
    const r = await m.monitor.runOnce();
    expect(r).toMatchObject({ outcome: 'alert', size: 600n });
    // The bundle contradicts what was verified, and its level-0 tile; the
    // recomputed tree keeps the verified entry, so the root itself matches.
    expect(kinds(r.alerts)).toEqual(['tiles-mismatch', 'tiles-mismatch']);
    expect(r.alerts[0]?.evidence).toMatchObject({ tile: 'tile/entries/002', index: '520' });
    expect(r.alerts[1]?.evidence).toMatchObject({ tile: 'tile/0/002', position: 8 });
    expect(typeof r.alerts[0]?.evidence.entry).toBe('string');
    expect((await m.state.load())?.size).toBe(600n);
    // Once the log serves its real history again, the monitor moves on.
    for (const { file, data } of restore.splice(0)) await writeFile(file, data);
    await restartServer();
    expect(await m.monitor.runOnce()).toMatchObject({ outcome: 'advanced', size: 1000n });
    await m.state.close();
  });
});
