import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedCheckpoint } from '@glasshouse/log';
import { cosignCheckpoint, generateCosignerKey } from '@glasshouse/tlog';
import {
  type AlertKind,
  FileMirrorStore,
  MIRROR_DIR,
  MemoryAlertSink,
  type MonitorOptions,
  SqliteMonitorStateStore,
  basicEntryChecker,
  createMonitor,
} from '@glasshouse/witness';
import {
  type Switchboard,
  type TestLog,
  entries,
  listen,
  makeTestLog,
  switchboard,
  tempDir,
} from './monitor-fixtures.js';

/**
 * Two logs with the same origin and signing key but different entries: the
 * real signer signing two histories. A switchboard shows the monitor one,
 * then the other.
 */
describe('monitor: split views, rollbacks, bad signatures, rejected entries', () => {
  let a: TestLog;
  let b: TestLog;
  let board: Switchboard;
  let url: string;
  let a5: SignedCheckpoint;
  let a10: SignedCheckpoint;
  let b10: SignedCheckpoint;
  const dirs: string[] = [];

  beforeAll(async () => {
    a = await makeTestLog();
    b = await makeTestLog(a.signerKey);
    a5 = await a.add(entries(0, 5, 'a'));
    // Entry 7 is not UTF-8 (for the entry checker).
    a10 = await a.add([...entries(5, 2, 'a'), Uint8Array.of(0xff, 0xfe, 0x00), ...entries(8, 2)]);
    b10 = await b.add(entries(0, 10, 'b'));
    expect([a5.checkpoint.size, a10.checkpoint.size, b10.checkpoint.size]).toEqual([5n, 10n, 10n]);
    board = switchboard();
    url = await listen(board.app);
  });
  afterAll(async () => {
    await board.app.close();
    await a.close();
    await b.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const newMonitor = async (extra: Partial<MonitorOptions> = {}) => {
    const dir = await tempDir('glasshouse-monitor-');
    dirs.push(dir);
    const state = SqliteMonitorStateStore.open(dir);
    const mirror = await FileMirrorStore.open(join(dir, MIRROR_DIR));
    const alerts = new MemoryAlertSink();
    const monitor = createMonitor({
      url,
      logVerifier: a.verifierKey,
      state,
      mirror,
      alerts,
      retries: 0,
      ...extra,
    });
    const runKinds = async (): Promise<AlertKind[]> =>
      (await monitor.runOnce()).alerts.map((x) => x.kind);
    return { monitor, state, mirror, alerts, runKinds };
  };

  it('raises split-view, inconsistent-checkpoint, rollback and checkpoint-signature, and keeps its state', async () => {
    const m = await newMonitor();
    board.show(a.log, a10.note);
    expect(await m.runKinds()).toEqual([]);
    expect((await m.state.load())?.size).toBe(10n);

    // The same size, another root, both signed by the log's key.
    board.show(b.log, b10.note);
    expect(await m.runKinds()).toEqual(['split-view']);
    const split = m.alerts.alerts.at(-1);
    expect(split?.evidence).toMatchObject({
      previous: a10.note,
      checkpoint: b10.note,
      size: '10',
      previousRoot: Buffer.from(a10.checkpoint.rootHash).toString('base64'),
      root: Buffer.from(b10.checkpoint.rootHash).toString('base64'),
    });
    expect(split?.origin).toBe(a10.checkpoint.origin);

    // The other history grows: no consistency proof from what was verified.
    const b20 = await b.add(entries(10, 10, 'b'));
    board.show(b.log, b20.note);
    expect(await m.runKinds()).toEqual(['inconsistent-checkpoint']);
    const inconsistent = m.alerts.alerts.at(-1);
    expect(inconsistent?.evidence).toMatchObject({ previous: a10.note, checkpoint: b20.note });
    expect(Array.isArray(inconsistent?.evidence.proof)).toBe(true);
    expect((inconsistent?.evidence.proof as unknown[]).length).toBeGreaterThan(0);

    // An older checkpoint of the right log.
    board.show(a.log, a5.note);
    expect(await m.runKinds()).toEqual(['rollback']);
    expect(m.alerts.alerts.at(-1)?.evidence).toMatchObject({
      previous: a10.note,
      checkpoint: a5.note,
      previousSize: '10',
      size: '5',
    });

    // The right checkpoint with a broken signature.
    board.show(a.log, breakSignature(a10.note));
    expect(await m.runKinds()).toEqual(['checkpoint-signature']);
    expect(m.alerts.alerts.at(-1)?.code).toBe('NOTE_SIGNATURE_INVALID');

    // Through all of it the verified state and the mirror stayed at A's 10.
    const saved = await m.state.load();
    expect(saved?.checkpoint).toBe(a10.note);
    expect(await m.mirror.readCheckpoint()).toBe(a10.note);
    board.show(a.log, a10.note);
    expect(await m.runKinds()).toEqual([]);
    await m.state.close();
  });

  it('raises entry-rejected with the entry when the checker refuses it', async () => {
    const m = await newMonitor({ checker: basicEntryChecker({ utf8: true }) });
    board.show(a.log, a10.note);
    const r = await m.monitor.runOnce();
    expect(r.alerts.map((x) => x.kind)).toEqual(['entry-rejected']);
    expect(r.alerts[0]).toMatchObject({
      code: 'ENTRY_REJECTED',
      evidence: { index: '7', entry: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') },
    });
    expect(await m.state.load()).toBeNull();
    await m.state.close();
  });

  it('run: one alert per problem, and fetch-failed only once an outage outlasts the grace', async () => {
    const m = await newMonitor({ intervalMs: 20 });
    board.show(a.log, a10.note);
    const stop = new AbortController();
    let running = m.monitor.run(stop.signal);
    await until(async () => (await m.mirror.readCheckpoint()) === a10.note);
    board.show(b.log, b10.note);
    await until(() => m.alerts.alerts.length > 0);
    await new Promise((r) => setTimeout(r, 200)); // ten more intervals
    stop.abort();
    await running;
    expect(m.alerts.alerts.map((x) => x.kind)).toEqual(['split-view']);
    await m.state.close();

    // Nothing listens there: runOnce alerts at once, run only after the grace period.
    const probe = switchboard().app;
    const dead = await listen(probe);
    await probe.close();
    const once = await newMonitor({ url: dead });
    expect(await once.runKinds()).toEqual(['fetch-failed']);
    expect(once.alerts.alerts[0]?.code).toBe('FETCH_FAILED');
    await once.state.close();
    const looping = await newMonitor({ url: dead, intervalMs: 20, fetchFailureGraceMs: 150 });
    const stop2 = new AbortController();
    running = looping.monitor.run(stop2.signal);
    await new Promise((r) => setTimeout(r, 100));
    expect(looping.alerts.alerts).toEqual([]);
    await until(() => looping.alerts.alerts.length > 0);
    await new Promise((r) => setTimeout(r, 150));
    stop2.abort();
    await running;
    expect(looping.alerts.alerts.map((x) => x.kind)).toEqual(['fetch-failed']);
    await looping.state.close();
  });

  it('raises quorum when the policy wants a witness that did not cosign', async () => {
    const witness = generateCosignerKey('witness.example.org');
    const policy = `log ${a.verifierKey}\nwitness w1 ${witness.verifierKey}\nquorum w1\n`;
    const m = await newMonitor({ policy });
    board.show(a.log, a5.note);
    expect(await m.runKinds()).toEqual(['quorum']);
    expect(m.alerts.alerts[0]?.code).toBe('POLICY_QUORUM_NOT_MET');
    // Cosigned by the witness: accepted.
    const body = a5.note.slice(0, a5.note.indexOf('\n\n') + 1);
    const ts = Math.floor(Date.now() / 1000);
    board.show(a.log, a5.note + cosignCheckpoint(body, witness.signerKey, ts));
    expect(await m.runKinds()).toEqual([]);
    expect((await m.state.load())?.size).toBe(5n);
    await m.state.close();
  });
});

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const began = Date.now();
  while (!(await cond())) {
    if (Date.now() - began > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Flips one bit of the log's Ed25519 signature, keeping the note well-formed. */
function breakSignature(note: string): string {
  const lines = note.split('\n');
  const i = lines.findIndex((l) => l.startsWith('\u2014 '));
  const [dash, name, b64] = (lines[i] ?? '').split(' ');
  const sig = Buffer.from(b64 ?? '', 'base64');
  sig[10] = (sig[10] ?? 0) ^ 0x01;
  lines[i] = `${dash} ${name} ${sig.toString('base64')}`;
  return lines.join('\n');
}
