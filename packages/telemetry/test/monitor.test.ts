/**
 * The residency monitor against real sites and a real residency log: clean
 * traffic gives a clean status; a batch of another region written straight
 * into a site's storage through its adapter (a rogue operator bypassing the
 * site's check, with its ingest-log entry) is caught with the evidence, once,
 * also across a restart of the monitor; a policy entry with one signature is
 * caught too.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INGEST_LOG_SCHEMA,
  batchDigest,
  encodeIngestLogEntry,
  fromBase64,
  parseBatch,
} from '@glasshouse/residency';
import { type Alert, MemoryAlertSink } from '@glasshouse/witness';
import { ResidencyMonitor, readResidencyStatus } from '../src/monitor/monitor.js';
import {
  type RunningRouter,
  type World,
  append,
  enrollAgent,
  policyEntry,
  startRouter,
  startWorld,
} from './router-world.js';

let w: World;
let r: RunningRouter;
let dir: string;

beforeAll(async () => {
  w = await startWorld();
  r = await startRouter(w);
  dir = await w.tempDir('monitor');
}, 30_000);

afterAll(async () => {
  await r.router.close();
  await w.close();
});

function openMonitor(sink: MemoryAlertSink): ResidencyMonitor {
  return ResidencyMonitor.open({
    residencyLogUrl: w.residency.url,
    residencyLogPolicy: w.residency.policy,
    keys: { vendorKey: w.keys.vendor.publicKey, supervisorKey: w.keys.supervisor.publicKey },
    dir,
    alerts: sink,
  });
}

describe('residency monitor', () => {
  it('catches a batch of another region written into a site through its adapter', async () => {
    const eu = await enrollAgent(w, r.url, 'EU');
    const latam = await enrollAgent(w, r.url, 'LATAM');
    expect((await eu.send(await eu.batch(2))).status).toBe(200);
    expect((await latam.send(await latam.batch(3))).status).toBe(200);

    const sink = new MemoryAlertSink();
    let monitor = openMonitor(sink);
    const clean = await monitor.runOnce();
    expect(clean.alerts).toEqual([]);
    const zurich = clean.status.sites.find((s) => s.site === 'ch-zrh');
    const other = clean.status.sites.find((s) => s.site === 'us-iad');
    expect(zurich).toMatchObject({ batches: 1, events: 2, verification: 'ok', violations: 0 });
    expect(zurich?.regionsHeld).toEqual({ EU: 1 });
    expect(other).toMatchObject({ batches: 1, events: 3, verification: 'ok' });
    expect(other?.regionsHeld).toEqual({ LATAM: 1 });
    expect(zurich?.designated).toContain('EU');
    expect(zurich?.checkpoint).toContain('— witness.example/w1 ');
    // What `glasshouse residency status` reads while the monitor runs.
    const written = await readResidencyStatus(dir);
    expect(written?.sites.map((x) => x.site)).toEqual(['ch-zrh', 'us-iad']);

    // The rogue operator: a LATAM batch into Zurich's storage, with its ingest-log entry.
    const bytes = await latam.batch(4);
    const batch = parseBatch(bytes);
    const digest = batchDigest(bytes);
    const policy = r.router.view.currentPolicy().digest;
    const entry = encodeIngestLogEntry({
      schema: INGEST_LOG_SCHEMA,
      kind: 'stored',
      site: 'ch-zrh',
      policy,
      customer: batch.customer,
      region: batch.region,
      events: batch.events.length,
      batch: digest,
      storedAt: '2026-12-04T17:00:00Z',
    });
    const site = w.sites.zurich.site;
    await site.storage.storeBatch({
      digest,
      batchId: batch.batchId,
      customer: batch.customer,
      region: batch.region,
      policy,
      productVersion: batch.productVersion,
      createdAt: batch.createdAt,
      sealedKey: fromBase64(batch.sealedKey) ?? new Uint8Array(),
      keyRelease: batch.keyRelease,
      storedAtMs: Date.now(),
      events: batch.events.map((e) => ({
        sha256: e.sha256,
        rule: e.rule,
        verdict: e.verdict,
        timeBucket: e.timeBucket,
        personal: fromBase64(e.personal) ?? new Uint8Array(),
      })),
      entry,
    });
    // The site's own recovery appends what storage holds unlogged: the rogue entry too.
    await site.ingest.recover();
    let caught = await monitor.runOnce();
    for (let i = 0; i < 50 && caught.alerts.length === 0; i++) {
      // Until a witnessed checkpoint of the ingest log covers the rogue entry.
      await new Promise((resolve) => setTimeout(resolve, 100));
      caught = await monitor.runOnce();
    }
    const violation = caught.alerts.find((a: Alert) => a.code === 'REGION_NOT_DESIGNATED_HERE');
    expect(violation?.kind).toBe('entry-rejected');
    const evidence = violation?.evidence as {
      site: string;
      entry: string;
      checkpoint: string;
      error: { designated: string; entry: { region: string; batch: string } };
    };
    expect(evidence.site).toBe('ch-zrh');
    expect(evidence.error.designated).toBe('us-iad');
    expect(evidence.error.entry.batch).toBe(digest);
    expect(JSON.parse(evidence.entry)).toMatchObject({ region: 'LATAM', site: 'ch-zrh' });
    expect(evidence.checkpoint).toContain('— witness.example/w1 ');
    expect(sink.alerts.filter((a) => a.code === 'REGION_NOT_DESIGNATED_HERE').length).toBe(1);
    const status = caught.status.sites.find((s) => s.site === 'ch-zrh');
    expect(status).toMatchObject({ violations: 1, batches: 2 });
    expect(status?.regionsHeld).toEqual({ EU: 1, LATAM: 1 });

    // Once per piece of evidence, across a restart too.
    await monitor.close();
    monitor = openMonitor(sink);
    try {
      await monitor.runOnce();
      expect(sink.alerts.filter((a) => a.code === 'REGION_NOT_DESIGNATED_HERE').length).toBe(1);

      // A policy entry with one signature is an alert of the residency log.
      await append(w.residency.log, policyEntry(w.policy, [w.keys.supervisor]));
      const run = await monitor.runOnce();
      const refused = run.alerts.find((a) => a.code === 'POLICY_SIGNATURE_MISSING');
      expect(refused?.kind).toBe('entry-rejected');
      expect(run.status.residencyLog.refusedEntries).toBe(1);
    } finally {
      await monitor.close();
    }
  }, 20_000);

  it('alerts once when a log stays unreachable past the threshold, and again after a recovery', async () => {
    let clock = Date.now();
    const now = (): Date => new Date(clock);
    // The residency log's outage: its URL refuses connections, as a blocked network path does.
    let residencyDown = false;
    const fetchThrough: typeof fetch = (input, init) =>
      residencyDown &&
      String(input instanceof Request ? input.url : input).startsWith(w.residency.url)
        ? Promise.reject(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }))
        : fetch(input, init);
    const sink = new MemoryAlertSink();
    const outageDir = await w.tempDir('monitor-outage');
    const open = (): ResidencyMonitor =>
      ResidencyMonitor.open({
        residencyLogUrl: w.residency.url,
        residencyLogPolicy: w.residency.policy,
        keys: { vendorKey: w.keys.vendor.publicKey, supervisorKey: w.keys.supervisor.publicKey },
        dir: outageDir,
        alerts: sink,
        now,
        fetch: fetchThrough,
        timeoutMs: 1_000,
        retries: 0,
        unreachableAlertMs: 60_000,
      });
    const outages = (): Alert[] => sink.alerts.filter((a) => a.kind === 'fetch-failed');
    const other = w.sites.other;
    const otherLog = new URL('log/', other.url).href;
    let monitor = open();
    try {
      // (The first test's evidence is alerted again by this fresh monitor: only outages count here.)
      await monitor.runOnce();
      expect(outages()).toEqual([]);

      // The other site's ingest log goes away: nothing before the threshold.
      await other.stop();
      const first = await monitor.runOnce();
      expect(outages()).toEqual([]);
      const down = first.status.sites.find((s) => s.site === 'us-iad');
      expect(down?.verification).toBe('LOG_UNREACHABLE');
      expect(down?.unreachableSince).toBe(now().toISOString());
      clock += 30_000;
      await monitor.runOnce();
      expect(outages()).toEqual([]);
      // Past it: one alert, naming the log and when the outage began ...
      clock += 40_000;
      await monitor.runOnce();
      expect(outages()).toHaveLength(1);
      expect(outages()[0]).toMatchObject({
        log: otherLog,
        code: 'LOG_UNREACHABLE',
        evidence: { url: otherLog, unreachableSince: down?.unreachableSince },
      });
      // ... sent once, also across a restart of the monitor.
      clock += 60_000;
      await monitor.runOnce();
      await monitor.close();
      monitor = open();
      await monitor.runOnce();
      expect(outages()).toHaveLength(1);

      // Back: the outage clears; the next one is a new outage with its own alert.
      await other.start();
      const back = await monitor.runOnce();
      expect(back.status.sites.find((s) => s.site === 'us-iad')).toMatchObject({
        verification: 'ok',
        unreachableSince: null,
      });
      await other.stop();
      await monitor.runOnce();
      clock += 61_000;
      await monitor.runOnce();
      expect(outages()).toHaveLength(2);
      expect(outages()[1]?.evidence.unreachableSince).not.toBe(down?.unreachableSince);
      await other.start();

      // The residency log the same way.
      residencyDown = true;
      const cut = await monitor.runOnce();
      expect(cut.status.residencyLog.unreachableSince).toBe(now().toISOString());
      clock += 61_000;
      await monitor.runOnce();
      const residencyOutage = outages().filter((a) => a.log === w.residency.url);
      expect(residencyOutage).toHaveLength(1);
      expect(residencyOutage[0]?.code).toBe('LOG_UNREACHABLE');
      residencyDown = false;
      expect((await monitor.runOnce()).status.residencyLog).toMatchObject({
        verification: 'ok',
        unreachableSince: null,
      });
    } finally {
      residencyDown = false;
      await other.start().catch(() => undefined);
      await monitor.close();
    }
  }, 30_000);

  it('runs pass after pass without leaving a listener on its signal per wait, and stops on abort', async () => {
    const monitor = ResidencyMonitor.open({
      residencyLogUrl: w.residency.url,
      residencyLogPolicy: w.residency.policy,
      keys: { vendorKey: w.keys.vendor.publicKey, supervisorKey: w.keys.supervisor.publicKey },
      dir: await w.tempDir('monitor-loop'),
      alerts: new MemoryAlertSink(),
    });
    const stop = new AbortController();
    const listeners: number[] = [];
    let passes = 0;
    let enough: () => void = () => undefined;
    const twelve = new Promise<void>((resolve) => (enough = resolve));
    const running = monitor.run(stop.signal, 1, () => {
      // Seen from inside a pass: what the previous waits left on the signal.
      listeners.push(getEventListeners(stop.signal, 'abort').length);
      if (++passes === 12) enough();
    });
    try {
      await twelve;
      expect(listeners).toEqual(new Array<number>(12).fill(0));
    } finally {
      stop.abort();
      await running;
      await monitor.close();
    }
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  }, 30_000);
});
