/**
 * `npm run bench` in packages/telemetry: one table, every number measured in
 * this run on this machine, next to its baseline measured the same way.
 *
 * - Ingestion: batches of 500 events (about 1 KB each) POSTed, RFC 9421
 *   signed, to a data site in a child process, which checks, stores, logs
 *   and answers with a receipt against a witnessed checkpoint; beside it the
 *   site's storage adapter inserting the same batches directly (the
 *   baseline). SQLite and PostgreSQL.
 * - Reputation: lookups over HTTP against a table of 1,000,000 hashes,
 *   single (`GET /reputation/<sha256>`) and batched (`POST /reputation`,
 *   10,000 hashes a request); beside them a bare fastify GET (the HTTP
 *   ceiling of the machine at that moment).
 *
 * Each phase is bounded (a fixed number of batches, or seconds); children,
 * the temp directory and the PostgreSQL database are removed on every exit
 * path.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { type Child, formatTable, startChild, withBenchDir } from '@glasshouse/bench-kit';
import { RequestSigner, rawPublicKey } from '@glasshouse/httpsig';
import {
  INGEST_LOG_SCHEMA,
  type TelemetryBatch,
  batchDigest,
  parseBatch,
} from '@glasshouse/residency';
import {
  type SiteStorage,
  type VerdictToImport,
  openPostgresSiteStorage,
  openSqliteSiteStorage,
} from '../src/index.js';
import { parseForStore, toStore } from '../src/site/batch-parser.js';
import {
  type ResidencyWorld,
  type TestWitness,
  ZURICH,
  makeBatch,
  newLogKey,
  residencyWorld,
  startTestWitness,
} from '../test/fixtures.js';
import { variants } from './batches.js';
import { startEndToEnd } from './router.js';
import type { ChildConfig } from '../test/site-child.js';

const EVENTS = 500;
/** Pads the sealed path so an event is about 1 KB of batch JSON. */
const PAD = 440;
// 400 batches: at about 50,000 events/s a run lasts 4 s, long enough that filling and
// draining the batches in flight do not decide the rate.
const BATCHES = Number(process.env.BENCH_BATCHES ?? 400);
/** Batches in flight (`BENCH_IN_FLIGHT`). */
const CONCURRENCY = Number(process.env.BENCH_IN_FLIGHT ?? 16);
const HASHES = 1_000_000;
const LOOKUP_S = 5;
const WARM_UP_S = 1;
/** `BENCH_CPU_PROF=<dir>`: each server child writes a V8 CPU profile there (for `--cpu-prof` reading). */
const CHILD_FLAGS =
  process.env.BENCH_CPU_PROF === undefined
    ? []
    : ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`];
const ADMIN_URL =
  process.env.GLASSHOUSE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Row {
  what: string;
  value: string;
  unit: string;
  note: string;
}
const rows: Row[] = [];
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

function hex(i: number, salt: string): string {
  return createHash('sha256').update(`${salt}:${i}`).digest('hex');
}

/**
 * CPU seconds (user + system) a process has used so far, or with `thread`
 * only its main thread, from /proc (null where there is none).
 */
function processCpuSeconds(pid: number, thread = false): number | null {
  try {
    // proc(5): fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised name.
    const stat = readFileSync(
      thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`,
      'utf8',
    );
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** This process's CPU seconds (user + system). */
function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The storage adapter alone: parse once, then storeBatch each batch, one after another. */
async function directInsert(
  storage: SiteStorage,
  batches: readonly Uint8Array[],
): Promise<{ rate: number; cpuUsPerEvent: number }> {
  const prepared = batches.map((bytes) => {
    const batch = parseForStore(bytes);
    const digest = batchDigest(bytes);
    const now = Date.now();
    return toStore(
      batch,
      digest,
      {
        schema: INGEST_LOG_SCHEMA,
        kind: 'stored',
        site: ZURICH,
        policy: `sha256:${'0'.repeat(64)}`,
        customer: batch.customer,
        region: batch.region,
        events: batch.sha256.length,
        batch: digest,
        storedAt: new Date(now).toISOString(),
      },
      now,
    );
  });
  const t0 = performance.now();
  const cpu0 = ownCpuSeconds();
  for (const b of prepared) await storage.storeBatch(b);
  const events = prepared.length * EVENTS;
  return {
    rate: events / ((performance.now() - t0) / 1000),
    cpuUsPerEvent: ((ownCpuSeconds() - cpu0) * 1e6) / events,
  };
}

interface PathRun {
  readonly eventsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Answers other than 200, by status. */
  readonly failures: ReadonlyMap<number, number>;
  /** CPU µs per acknowledged event of each child process named, and of its main thread alone. */
  readonly cpuUs: ReadonlyMap<string, { process: number | null; main: number | null }>;
  /** The same for this process (client, witness, residency log). */
  readonly clientCpuUs: number;
}

/** Sends a signed POST and answers its status once the whole answer is read. */
type SignedPost = (url: URL, headers: Record<string, string>, body: Uint8Array) => Promise<number>;

/**
 * RFC 9421 signed POSTs (the same signature and bytes as httpsig's
 * signedFetch) over node:http keep-alive sockets. The client shares the two
 * cores with the site under test, and fetch spent about four times the CPU
 * of node:http on each 500 KB body.
 */
function signedPoster(signer: RequestSigner): { post: SignedPost; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const post: SignedPost = (url, headers, body) => {
    const signed = { ...headers, ...signer.sign({ method: 'POST', url: url.href, headers, body }) };
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { ...signed, 'content-length': String(body.length) } },
        (res) => {
          res.on('error', reject);
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
          });
          res.resume();
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
  return {
    post,
    close: () => {
      agent.destroy();
    },
  };
}

/**
 * Sends every batch with `send`, CONCURRENCY at a time: events/s, ack
 * latency, and the CPU each process named in `pids` spent per event.
 */
async function drive(
  send: (bytes: Uint8Array) => Promise<number>,
  batches: readonly Uint8Array[],
  pids: ReadonlyMap<string, number>,
): Promise<PathRun> {
  const latencies: number[] = [];
  const failures = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const bytes = batches[next++]!;
      const t0 = performance.now();
      const status = await send(bytes);
      if (status === 200) latencies.push(performance.now() - t0);
      else failures.set(status, (failures.get(status) ?? 0) + 1);
    }
  };
  const cpu = (): Map<string, { process: number | null; main: number | null }> =>
    new Map(
      [...pids].map(([name, pid]) => [
        name,
        { process: processCpuSeconds(pid), main: processCpuSeconds(pid, true) },
      ]),
    );
  const t0 = performance.now();
  const before = cpu();
  const own0 = ownCpuSeconds();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const after = cpu();
  const acked = latencies.length * EVENTS;
  const perEvent = (a: number | null, b: number | null | undefined): number | null =>
    a === null || b === null || b === undefined ? null : ((a - b) * 1e6) / Math.max(1, acked);
  latencies.sort((a, b) => a - b);
  return {
    eventsPerSecond: acked / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
    cpuUs: new Map(
      [...after].map(([name, c]) => [
        name,
        {
          process: perEvent(c.process, before.get(name)?.process),
          main: perEvent(c.main, before.get(name)?.main),
        },
      ]),
    ),
    clientCpuUs: ((ownCpuSeconds() - own0) * 1e6) / Math.max(1, acked),
  };
}

/** "site 26.1 (main thread 7.5), router 9.8 (main thread 8.0), client 4.6" */
function cpuText(run: PathRun): string {
  const us = (x: number | null): string => x?.toFixed(1) ?? 'n/a';
  const parts = [...run.cpuUs].map(
    ([name, c]) => `${name} ${us(c.process)} (main thread ${us(c.main)})`,
  );
  return `CPU µs/event: ${parts.join(', ')}, this process (client, witness, residency log) ${run.clientCpuUs.toFixed(1)}`;
}

function failureText(run: PathRun): string {
  if (run.failures.size === 0) return '';
  return `; NOT 200: ${[...run.failures].map(([status, n]) => `${n} × ${status}`).join(', ')}`;
}

interface Setup {
  readonly dir: string;
  readonly world: ResidencyWorld;
  readonly router: ReturnType<typeof generateKeyPairSync>;
  readonly template: TelemetryBatch;
}

async function startSite(
  s: Setup,
  name: string,
  postgres: string | undefined,
): Promise<{ child: Child<{ url: string }>; witness: TestWitness }> {
  const logKey = newLogKey(ZURICH);
  const witness = await startTestWitness([logKey.verifierKey]);
  const config: ChildConfig = {
    dir: join(s.dir, name),
    ...(postgres === undefined ? {} : { postgres }),
    siteId: ZURICH,
    logSignerKey: logKey.signerKey,
    witnessPolicy: witness.policyText(logKey.verifierKey),
    vendorKey: Buffer.from(s.world.keys.vendorKey).toString('base64'),
    supervisorKey: Buffer.from(s.world.keys.supervisorKey).toString('base64'),
    entries: s.world.entries.map((e) => Buffer.from(e).toString('base64')),
    routerKey: Buffer.from(rawPublicKey(s.router.publicKey)).toString('base64'),
  };
  const file = join(s.dir, `${name}.json`);
  await writeFile(file, JSON.stringify(config));
  // The kill -9 test's site child, on the built package (`npx tsc -b` first).
  const child = await startChild<{ url: string }>(
    new URL('../test/site-child.ts', import.meta.url),
    [file],
    60_000,
    CHILD_FLAGS,
  );
  return { child, witness };
}

async function ingestion(s: Setup, kind: 'SQLite' | 'PostgreSQL', pgUrl?: string): Promise<void> {
  process.stderr.write(`bench: ${kind}: preparing ${BATCHES} batches for the direct insert\n`);
  const directBatches = variants(s.template, BATCHES, `${kind}-direct`);
  // The adapter on the caller's thread: the insert's own cost, no thread hop.
  const storage =
    pgUrl === undefined
      ? await openSqliteSiteStorage({ dir: join(s.dir, `direct-${kind}`), thread: false })
      : await openPostgresSiteStorage(pgUrl, { schema: 'direct_insert' });
  let direct: { rate: number; cpuUsPerEvent: number };
  try {
    process.stderr.write(`bench: ${kind}: direct insert\n`);
    direct = await directInsert(storage, directBatches);
  } finally {
    await storage.close();
  }
  process.stderr.write(
    `bench: ${kind}: starting the site and the router, each in its own process\n`,
  );
  const e = await startEndToEnd({
    dir: join(s.dir, `e2e-${kind}`),
    postgres: pgUrl,
    devices: CONCURRENCY,
    events: EVENTS,
    pad: PAD,
    childFlags: CHILD_FLAGS,
  });
  const siteOnly = signedPoster(e.routerSigner);
  const devices = e.devices.map((d) => signedPoster(d.signer));
  let site: PathRun;
  let routed: PathRun;
  try {
    const toSite = (bytes: Uint8Array): Promise<number> =>
      siteOnly.post(
        new URL('v1/batches', e.site.ready.url),
        { 'content-type': 'application/json', 'glasshouse-policy': e.policy },
        bytes,
      );
    let turn = 0;
    const viaRouter = (bytes: Uint8Array): Promise<number> =>
      (devices[turn++ % devices.length] as (typeof devices)[number]).post(
        new URL('v1/batches', e.router.ready.url),
        { 'content-type': 'application/json' },
        bytes,
      );
    const pids = new Map([
      ['site', e.site.pid],
      ['router', e.router.pid],
    ]);
    process.stderr.write(`bench: ${kind}: preparing ${BATCHES * 2} batches\n`);
    const siteBatches = e.batches(BATCHES, `${kind}-site`);
    const routerBatches = e.batches(BATCHES, `${kind}-router`);
    // Warm-up of both paths: connections, JIT, the witness.
    await drive(toSite, e.batches(4, `${kind}-warm-site`), pids);
    await drive(viaRouter, e.batches(CONCURRENCY, `${kind}-warm-router`), pids);
    process.stderr.write(`bench: ${kind}: signed POST → site\n`);
    site = await drive(toSite, siteBatches, new Map([['site', e.site.pid]]));
    process.stderr.write(`bench: ${kind}: device-signed POST → router → site\n`);
    routed = await drive(viaRouter, routerBatches, pids);
  } finally {
    siteOnly.close();
    for (const d of devices) d.close();
    await e.close();
  }
  const share = routed.p50 > 0 ? Math.max(0, 1 - site.p50 / routed.p50) : 0;
  rows.push(
    {
      what: `direct insert, ${kind} storage adapter (baseline)`,
      value: fmt(direct.rate),
      unit: 'events/s',
      note: `${BATCHES} batches of ${EVENTS}, one at a time; CPU ${direct.cpuUsPerEvent.toFixed(1)} µs/event`,
    },
    {
      what: `signed POST → site → stored + ingest log + witnessed receipt, ${kind} (site only)`,
      value: fmt(site.eventsPerSecond),
      unit: 'events/s',
      note: `${Math.round((site.eventsPerSecond / direct.rate) * 100)}% of direct; ack p50 ${fmt(site.p50)} ms, p99 ${fmt(site.p99)} ms; ${CONCURRENCY} in flight; ${cpuText(site)}${failureText(site)}`,
    },
    {
      what: `device-signed POST → router → site → receipt, ${kind}, each in its own process (end to end)`,
      value: fmt(routed.eventsPerSecond),
      unit: 'events/s',
      note: `${Math.round((routed.eventsPerSecond / direct.rate) * 100)}% of direct; router share of ack p50 ${Math.round(share * 100)}%; ack p50 ${fmt(routed.p50)} ms, p99 ${fmt(routed.p99)} ms; ${CONCURRENCY} in flight from ${CONCURRENCY} devices; ${cpuText(routed)}${failureText(routed)}${kind === 'SQLite' ? '; target ≥ 50,000 and ≥ 50%' : ''}`,
    },
  );
}

async function reputation(s: Setup): Promise<void> {
  process.stderr.write(`bench: reputation: ${HASHES.toLocaleString('en-US')} hashes\n`);
  const hashes = Array.from({ length: HASHES }, (_, i) => hex(i, 'reputation')).sort();
  const storage = await openSqliteSiteStorage({ dir: join(s.dir, 'site-reputation') });
  try {
    for (let i = 0; i < hashes.length; i += 10_000) {
      const chunk: VerdictToImport[] = hashes
        .slice(i, i + 10_000)
        .map((sha256, j) => ({ sha256, verdict: (i + j) % 2 === 0 ? 'known-bad' : 'known-good' }));
      await storage.importVerdicts(chunk);
    }
  } finally {
    await storage.close();
  }
  const { child, witness } = await startSite(s, 'site-reputation', undefined);
  try {
    const sample = Array.from({ length: 2_000 }, (_, i) => hashes[(i * 7919) % hashes.length]!);
    const getRun = (url: string, duration: number): Promise<autocannon.Result> =>
      autocannon({
        url,
        connections: 32,
        duration,
        requests: sample.map((h) => ({ method: 'GET' as const, path: `/reputation/${h}` })),
      });
    // Both servers get the same warm-up (JIT, and the site's page cache) before the measured run.
    const gets = async (url: string, pid: number): Promise<Measured> => {
      await getRun(url, WARM_UP_S);
      return withCpu(pid, () => getRun(url, LOOKUP_S));
    };
    process.stderr.write('bench: reputation: bare fastify GET (baseline)\n');
    const bareChild = await startChild<{ url: string }>(
      new URL('bare-server.ts', import.meta.url),
      [],
      60_000,
      CHILD_FLAGS,
    );
    let bare: Measured;
    try {
      bare = await gets(bareChild.ready.url, bareChild.pid);
    } finally {
      await bareChild.stop();
    }
    process.stderr.write('bench: reputation: single and batched lookups\n');
    const single = await gets(child.ready.url, child.pid);
    const perRequest = 10_000;
    const body = (k: number): string =>
      JSON.stringify({
        sha256: Array.from(
          { length: perRequest },
          (_, j) => hashes[(k * perRequest + j * 97) % hashes.length],
        ),
      });
    const batched = await withCpu(child.pid, () =>
      autocannon({
        url: child.ready.url,
        connections: 4,
        duration: LOOKUP_S,
        requests: [0, 1, 2, 3].map((k) => ({
          method: 'POST' as const,
          path: '/reputation',
          headers: { 'content-type': 'application/json' },
          body: body(k),
        })),
      }),
    );
    rows.push({
      what: 'bare fastify GET, constant answer, own process (baseline of the lookup rows)',
      value: fmt(bare.result.requests.average),
      unit: 'requests/s',
      note: `p50 ${bare.result.latency.p50} ms, p99 ${bare.result.latency.p99} ms; 32 connections; the ceiling of HTTP on this machine now; ${cpuNote(bare, 1, 'request')}`,
    });
    rows.push({
      what: 'reputation GET /reputation/<sha256>, 1,000,000 hashes (SQLite)',
      value: fmt(single.result.requests.average),
      unit: 'lookups/s',
      note: `${Math.round((single.result.requests.average / bare.result.requests.average) * 100)}% of bare; p50 ${single.result.latency.p50} ms, p99 ${single.result.latency.p99} ms; 32 connections; ${single.result.non2xx} non-2xx; ${cpuNote(single, 1, 'lookup')}; target ≥ 20,000`,
    });
    rows.push({
      what: 'reputation POST /reputation, 10,000 hashes a request (SQLite)',
      value: fmt(batched.result.requests.average * perRequest),
      unit: 'hashes/s',
      note: `p50 ${batched.result.latency.p50} ms a request; 4 connections; ${batched.result.non2xx} non-2xx; ${cpuNote(batched, perRequest, 'hash')}; target ≥ 200,000`,
    });
  } finally {
    await child.stop();
    await witness.close();
  }
}

/** An autocannon run with the CPU time the server and this process (the client) spent in it. */
interface Measured {
  readonly result: autocannon.Result;
  readonly serverCpuSeconds: number | null;
  readonly clientCpuSeconds: number;
}

async function withCpu(pid: number, run: () => Promise<autocannon.Result>): Promise<Measured> {
  const server0 = processCpuSeconds(pid);
  const client0 = ownCpuSeconds();
  const result = await run();
  const server1 = processCpuSeconds(pid);
  return {
    result,
    serverCpuSeconds: server0 === null || server1 === null ? null : server1 - server0,
    clientCpuSeconds: ownCpuSeconds() - client0,
  };
}

/** CPU µs per `unit` (a request holds `perRequest` of them): the server's, and the client's. */
function cpuNote(m: Measured, perRequest: number, unit: string): string {
  const units = Math.max(1, m.result.requests.total * perRequest);
  const us = (seconds: number): string => ((seconds * 1e6) / units).toFixed(perRequest > 1 ? 2 : 1);
  const server = m.serverCpuSeconds === null ? 'n/a' : us(m.serverCpuSeconds);
  return `CPU µs/${unit}: server ${server}, client ${us(m.clientCpuSeconds)}`;
}

async function main(): Promise<void> {
  await withBenchDir('glasshouse-telemetry-bench-', async (dir) => {
    const world = await residencyWorld({
      zurich: newLogKey(ZURICH).verifierKey,
      other: newLogKey('us-iad').verifierKey,
    });
    const router = generateKeyPairSync('ed25519');
    const sealed = await makeBatch(world, {
      customer: world.euCustomer,
      region: 'EU',
      n: EVENTS,
      pad: PAD,
    });
    const template = parseBatch(sealed);
    const s: Setup = { dir, world, router, template };
    const only = process.argv[2];
    if (only === undefined || only === 'sqlite') await ingestion(s, 'SQLite');
    if (only === undefined || only === 'postgres') {
      const db = `glasshouse_telemetry_bench_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${db}`);
      try {
        const url = new URL(ADMIN_URL);
        url.pathname = `/${db}`;
        await ingestion(s, 'PostgreSQL', url.href);
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        await admin.end();
      }
    }
    if (only === undefined || only === 'reputation') await reputation(s);
    const eventBytes = Math.round(sealed.length / EVENTS);
    process.stdout.write(
      `${formatTable(
        ['measurement', 'value', 'unit', 'note'],
        rows.map((r) => [r.what, r.value, r.unit, r.note]),
      )}\n\n${EVENTS} events a batch, ${eventBytes} bytes an event in the batch JSON; ` +
        `${cpus().length} cores, load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')} at the end (shared machine)\n`,
    );
  });
}

await main();
