/**
 * The data half of `start` in-process, every part real on loopback (the
 * witness, the residency log, two sites with their ingest logs, the router,
 * the residency monitor, demo customers and agents), then the agent's side
 * of it checked from outside: receipts verified against the witnessed ingest
 * logs, a receipt of another batch refused, a residency log that misses the
 * pinned witness refused, a device of a customer that is not enrolled
 * refused, and batches kept in the outbox while the router is away.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPinnedResidency,
  enrollDevice,
  loadEnrollment,
  pinResidency,
  queueDetections,
  readResidencyView,
  sendTelemetry,
  telemetryReport,
  verifyReceipts,
  type SentRecord,
} from '@glasshouse/agent';
import type { ResidencyTrust } from '@glasshouse/release-format';
import { generateCosignerKey } from '@glasshouse/tlog';
import { newCallerKeyPem, readCallerKey } from '../src/callers.js';
import { startWitnessServer } from '../src/commands/witness.js';
import type { HalfReport, StartContext, StartOptions } from '../src/start/context.js';
import { startDataHalf } from '../src/start/data-half.js';
import { dataPaths, prepareDataHalf } from '../src/start/data-prepare.js';
import { startResidencyLog, type RunningResidencyLog } from '../src/start/data-residency-log.js';
import { Closers } from '../src/start/lifecycle.js';
import { startPaths } from '../src/start/paths.js';
import { ensureCliBuilt, runBuiltCli, spawnBuiltCliUntil } from './built-cli.js';
import { quietIo } from './cli-harness.js';

let work: string;
let ctx: StartContext;
let report: HalfReport;
let residency: RunningResidencyLog;

const ready = (): {
  routerUrl: string;
  sites: Record<string, string>;
  demoEndpoints: { region: string; dir: string; sites: string[]; verified: number }[];
} => report.ready as ReturnType<typeof ready>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'data-half-'));
  const opts = {
    data: join(work, 'data'),
    witnessName: 'localhost/glasshouse/witness',
  } as StartOptions;
  ctx = {
    opts,
    paths: startPaths(opts.data),
    closers: new Closers(),
    checkStop: () => undefined,
    say: () => undefined,
    io: quietIo,
  };
  const prepared = await prepareDataHalf(ctx);
  const witness = await startWitnessServer({
    dir: ctx.paths.witness,
    listen: '127.0.0.1:0',
    io: quietIo,
  });
  ctx.closers.add(() => witness.close());
  residency = await startResidencyLog(
    ctx,
    prepared,
    { url: witness.url, verifierKey: witness.verifierKey, dir: ctx.paths.witness },
    '127.0.0.1:0',
  );
  report = await startDataHalf(ctx, prepared, residency, {
    residencyLog: '127.0.0.1:0',
    router: '127.0.0.1:0',
    sites: { 'ch-zrh': '127.0.0.1:0', 'us-iad': '127.0.0.1:0' },
  });
}, 120_000);

afterAll(async () => {
  await ctx.closers.closeAll(quietIo);
  await rm(work, { recursive: true, force: true });
});

const endpoint = (region: string): string => {
  const e = ready().demoEndpoints.find((d) => d.region === region);
  if (e === undefined) throw new Error(`no ${region} endpoint`);
  return e.dir;
};

describe('the data half, from the agents', () => {
  it('stores each region at its designated site, with a receipt each agent verified', () => {
    expect(ready().demoEndpoints.map((e) => `${e.region}:${e.sites.join()}:${e.verified}`)).toEqual(
      [
        'EU:ch-zrh:1',
        'NA:ch-zrh:1',
        'AU:ch-zrh:1',
        'KR:ch-zrh:1',
        'JP:ch-zrh:1',
        'SG:ch-zrh:1',
        'LATAM:us-iad:1',
        'MEA:us-iad:1',
      ],
    );
  });

  it('refuses a receipt of another batch: AGENT_RECEIPT_INVALID', async () => {
    const eu = endpoint('EU');
    const na = endpoint('NA');
    const sentFile = async (dir: string): Promise<string> =>
      join(dir, 'telemetry', 'sent', (await readdir(join(dir, 'telemetry', 'sent')))[0]!);
    const euRecord = JSON.parse(await readFile(await sentFile(eu), 'utf8')) as SentRecord;
    const naRecord = JSON.parse(await readFile(await sentFile(na), 'utf8')) as SentRecord;
    await writeFile(await sentFile(eu), JSON.stringify({ ...euRecord, receipt: naRecord.receipt }));
    const [checked] = await verifyReceipts({ dir: eu, now: () => new Date() });
    expect(checked?.verification).toMatchObject({
      result: 'failed',
      code: 'AGENT_RECEIPT_INVALID',
    });
    // Its own receipt verifies again.
    await writeFile(await sentFile(eu), JSON.stringify(euRecord));
    const [again] = await verifyReceipts({ dir: eu, now: () => new Date() });
    expect(again?.verification?.result).toBe('verified');
  });

  it('refuses a residency log whose checkpoints miss the pinned witness: AGENT_RESIDENCY_LOG_INVALID', async () => {
    const other = generateCosignerKey('localhost/other-witness').verifierKey;
    const trust = residency.trust;
    const forged: ResidencyTrust = {
      ...trust,
      logPolicy: trust.logPolicy.replace(/^witness (\S+) \S+/m, `witness $1 ${other}`),
    };
    await expect(readResidencyView(checkPinnedResidency(forged))).rejects.toMatchObject({
      code: 'AGENT_RESIDENCY_LOG_INVALID',
    });
  });

  it('refuses a residency log that does not extend the tree the agent saw: AGENT_RESIDENCY_LOG_INVALID', async () => {
    const dir = endpoint('KR');
    const seenFile = join(dir, 'telemetry', 'residency-checkpoint.json');
    const seen = await readFile(seenFile, 'utf8');
    const { size } = JSON.parse(seen) as { size: string };
    const forked = JSON.stringify({ size, rootHash: Buffer.alloc(32).toString('base64') });
    const rolledBack = JSON.stringify({
      size: String(BigInt(size) + 1000n),
      rootHash: Buffer.alloc(32).toString('base64'),
    });
    for (const bad of [forked, rolledBack]) {
      await writeFile(seenFile, bad);
      await expect(verifyReceipts({ dir, now: () => new Date() })).rejects.toMatchObject({
        code: 'AGENT_RESIDENCY_LOG_INVALID',
      });
    }
    await writeFile(seenFile, seen);
    const [ok] = await verifyReceipts({ dir, now: () => new Date() });
    expect(ok?.verification?.result).toBe('verified');
  });

  it('refuses a device of a customer that is not enrolled: AGENT_CUSTOMER_NOT_ENROLLED', async () => {
    const dir = join(work, 'stray-endpoint');
    await pinResidency(dir, residency.trust);
    const keyFile = join(work, 'stray-customer.key');
    await writeFile(keyFile, newCallerKeyPem());
    await expect(
      enrollDevice({
        dir,
        customerKey: await readCallerKey(keyFile),
        routerUrl: ready().routerUrl,
        now: new Date(),
      }),
    ).rejects.toMatchObject({ code: 'AGENT_CUSTOMER_NOT_ENROLLED' });
  });

  it('keeps sealed batches in the outbox while the router is away, and sends them later', async () => {
    const dir = endpoint('JP');
    const enrollment = await loadEnrollment(dir);
    await queueDetections(dir, enrollment, [
      {
        sha256: 'cd'.repeat(32),
        rule: null,
        verdict: 'suspicious',
        seenAt: new Date(),
        host: 'h',
        user: 'u',
        path: '/p',
      },
    ]);
    const away = await sendTelemetry({
      dir,
      productVersion: 'test-1',
      now: () => new Date(),
      fetch: () => Promise.reject(new Error('the router is away')),
    });
    expect(away).toMatchObject({ sealed: 1, stored: 0, retry: 1 });
    expect((await telemetryReport(dir)).outbox).toHaveLength(1);
    const back = await sendTelemetry({ dir, productVersion: 'test-1', now: () => new Date() });
    expect(back).toMatchObject({ sealed: 0, stored: 1, verified: 1 });
    expect((await telemetryReport(dir)).outbox).toHaveLength(0);
  });
});

describe('glasshouse residency monitor (the supervisor running it on its own)', () => {
  const trustFile = (): string => dataPaths(ctx.opts.data).residencyTrust;

  /** Runs the built command until its `pass 1` line; returns that line and what it wrote. */
  async function onePass(
    trustFile: string,
    extra: readonly string[],
  ): Promise<{ line: string; alerts: string; stderr: string }> {
    ensureCliBuilt();
    const state = await mkdtemp(join(work, 'monitor-'));
    const started = await spawnBuiltCliUntil(
      ['residency', 'monitor', '--trust', trustFile, '--state', state, '--interval', '1', ...extra],
      (out) => /^pass 1: .*$/m.exec(out)?.[0],
      { timeoutMs: 60_000 },
    );
    started.child.kill('SIGTERM');
    expect(await started.exited).toEqual({ code: 0, signal: null });
    const alerts = await readFile(join(state, 'alerts.jsonl'), 'utf8').catch(() => '');
    return { line: started.value, alerts, stderr: started.stderr() };
  }

  it('checks the residency log and both sites each pass, without alerts; SIGTERM stops it', async () => {
    const pass = await onePass(trustFile(), []);
    expect(pass.line).toMatch(
      /^pass 1: residency log size \d+ ok; ch-zrh size \d+ ok; us-iad size \d+ ok$/,
    );
    expect(pass.alerts).toBe('');
  });

  it('alerts when the residency log is unreachable for --unreachable-alert seconds', async () => {
    const trust = await readFile(trustFile(), 'utf8');
    const logUrl = residency.log.url.replace(/\/$/, '');
    expect(trust).toContain(logUrl);
    const dead = join(work, 'dead-trust.json');
    // Port 9 (discard) on loopback: nothing answers there.
    await writeFile(dead, trust.split(logUrl).join('http://127.0.0.1:9'));
    const pass = await onePass(dead, ['--unreachable-alert', '0']);
    expect(pass.line).toMatch(/^pass 1: residency log size 0 LOG_UNREACHABLE/);
    expect(pass.alerts).toContain('http://127.0.0.1:9');
    expect(pass.stderr).toMatch(/^ALERT /m);
  });

  it('refuses bad numbers before it starts, as usage errors', () => {
    for (const [flag, value] of [
      ['--interval', '0'],
      ['--interval', '1.5'],
      ['--unreachable-alert', '-1'],
    ] as const) {
      expect(() =>
        runBuiltCli([
          'residency',
          'monitor',
          '--trust',
          trustFile(),
          '--state',
          join(work, 'never'),
          flag,
          value,
        ]),
      ).toThrow(new RegExp(`${flag} wants a whole number`));
    }
  });
});
