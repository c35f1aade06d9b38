// Over 500 lines: one benchmark script whose phases share the same children, rows and clean-up.
/**
 * `npm run bench` in packages/log: one table, every number measured in this
 * run on this machine, next to a baseline measured the same way (a bare
 * node:http server answering a 1 KB POST, driven by the same load generator
 * with the same 256 connections), so the ratios mean something on a noisy
 * machine.
 *
 * Three kinds of process: this one (orchestration, the integration-latency
 * sampler, /proc readings), the server under test (`server.ts`, a child), and
 * the load generator (`load.ts`, autocannon, a child per phase). Every phase
 * is bounded in time; children, the temp directory and the PostgreSQL
 * database are removed on every exit path.
 */
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatTable } from '@glasshouse/bench-kit';
import Database from 'better-sqlite3';
import pg from 'pg';
import { TILE_WIDTH, formatTileIndex } from '@glasshouse/tlog';
import { IntegrationSampler, type IntegrationSamples, percentile } from './integration.js';
import {
  type ServerProcess,
  childrenStopped,
  killAllChildren,
  runLoad,
  startServer,
} from './procs.js';
import { sequenceRate } from './ceiling.js';
import { type LogStorage, openPostgresStorage, openSqliteStorage } from '../src/index.js';
import type { LoadResult, LoadSpec } from './load.js';

const CONNECTIONS = 256;
const ENTRY_SIZE = 1024;
const BATCH_ENTRIES = 256;
const BATCH_CONNECTIONS = 8;
const WARMUP_S = 2;
const ADD_S = 8;
const BATCH_S = 6;
const TILE_S = 5;
const TILE_WARMUP_S = 1;
const CEILING_S = 3;
const IDLE_S = 4;
const DRAIN_MS = 15_000;
const CATCH_UP_LIMIT_MS = 30_000;
const AUTOCANNON_VERSION = (
  createRequire(import.meta.url)('autocannon/package.json') as { version: string }
).version;
const ADMIN_URL =
  process.env.GLASSHOUSE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Row {
  what: string;
  value: string;
  unit: string;
  target: string;
  /** A function when it depends on the closing baseline. */
  verdict: string | (() => string);
  notes: string;
}

const rows: Row[] = [];
/** Bare-HTTP rates, measured first and last; ratios use their mean. */
const baselines: number[] = [];
const baseRate = (): number => baselines.reduce((a, b) => a + b, 0) / baselines.length;
const notes: string[] = [];
let failed = false;

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => (Number.isNaN(x) ? 'n/a' : x < 100 ? x.toFixed(1) : int(x));
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
const progress = (s: string): void => {
  process.stderr.write(`[bench] ${s}\n`);
};

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

function loadNotes(r: LoadResult): string {
  const bad = Object.entries(r.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${code}×${n}`);
  const parts =
    r.ok + r.non2xx === 0
      ? ['no response completed within the phase']
      : [`latency p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`];
  if (bad.length > 0) parts.push(`non-2xx ${bad.join(' ')}`);
  if (r.errors > 0) parts.push(`errors ${r.errors} (timeouts ${r.timeouts})`);
  return parts.join('; ');
}

function rate(r: LoadResult, perRequest = 1): number {
  return (r.ok * perRequest) / r.durationS;
}

// ---------------------------------------------------------------------------
// talking to a running log

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (m?.[1] === undefined) throw new Error(`/metrics has no ${name}`);
  return Number(m[1]);
}

async function checkpointSize(url: string): Promise<number> {
  const text = await (await fetch(`${url}/checkpoint`)).text();
  return Number(text.split('\n')[1]);
}

/**
 * Waits (at most CATCH_UP_LIMIT_MS) until the checkpoint covers everything
 * sequenced; returns how much was integrated meanwhile and how long it took.
 */
async function catchUp(url: string): Promise<{ entries: number; ms: number; done: boolean }> {
  const t0 = performance.now();
  const [target, from] = await Promise.all([
    metric(url, 'glasshouse_log_entries_sequenced_total'),
    checkpointSize(url),
  ]);
  let size = from;
  while (size < target && performance.now() - t0 < CATCH_UP_LIMIT_MS) {
    await sleep(20);
    size = await checkpointSize(url);
  }
  return { entries: size - from, ms: performance.now() - t0, done: size >= target };
}

interface SampledPhase {
  load: LoadResult;
  samples: IntegrationSamples;
  /** The integrator catching up from the end of the load. */
  catchUp: { entries: number; ms: number; done: boolean };
}

/**
 * Waits (at most 30 s) until the server answers GET /healthz within 50 ms,
 * so that a phase does not start while the previous one's queued requests
 * are still being served.
 */
async function settle(url: string): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < 30_000) {
    const t = performance.now();
    const ok = await fetch(`${url}/healthz`).then(
      async (r) => {
        await r.arrayBuffer();
        return r.ok;
      },
      () => false,
    );
    if (ok && performance.now() - t < 50) break;
    await sleep(100);
  }
  const waited = performance.now() - t0;
  if (waited > 1000) progress(`waited ${(waited / 1000).toFixed(1)} s for the server to settle`);
}

/** Runs a load phase with the integration sampler running during its counted part. */
async function loadWithSampler(url: string, spec: LoadSpec): Promise<SampledPhase> {
  await settle(url);
  const sampler = new IntegrationSampler(url);
  try {
    const load = await runLoad(spec, () => {
      sampler.start();
    });
    const [samples, caught] = await Promise.all([sampler.stop(DRAIN_MS), catchUp(url)]);
    return { load, samples, catchUp: caught };
  } catch (err) {
    await sampler.stop(0);
    throw err;
  }
}

/** The integration sampler alone, no other load: the latency the integrator's design gives. */
async function idleSamples(url: string): Promise<IntegrationSamples> {
  const sampler = new IntegrationSampler(url);
  sampler.start();
  await sleep(IDLE_S * 1000);
  return sampler.stop(DRAIN_MS);
}

function integrationRows(label: string, storage: string, s: IntegrationSamples): void {
  const p50 = percentile(s.latenciesMs, 50);
  const p99 = percentile(s.latenciesMs, 99);
  const extra = [
    `${s.latenciesMs.length} samples`,
    `poll round trip ${ms(s.meanPollMs)} ms`,
    ...(s.addFailures > 0 ? [`${s.addFailures} sample adds refused`] : []),
    ...(s.uncovered > 0 ? [`${s.uncovered} not covered within ${DRAIN_MS / 1000} s`] : []),
  ].join(', ');
  rows.push({
    what: `${storage}: time to integrate p50 (${label})`,
    value: ms(p50),
    unit: 'ms',
    target: '',
    verdict: '',
    notes: extra,
  });
  rows.push({
    what: `${storage}: time to integrate p99 (${label})`,
    value: ms(p99),
    unit: 'ms',
    target: '≤ 1,000 ms',
    verdict: verdict(s.uncovered === 0 && p99 <= 1000),
    notes: `max ${ms(Math.max(...s.latenciesMs))} ms`,
  });
}

// ---------------------------------------------------------------------------
// phases

async function baseline(when: string): Promise<void> {
  progress(`baseline (${when}): bare node:http server, 1 KB POST`);
  const server = await startServer(['bare']);
  try {
    const r = await runLoad({
      url: server.url,
      connections: CONNECTIONS,
      durationS: ADD_S,
      warmupS: WARMUP_S,
      work: { kind: 'add', path: '/', entrySize: ENTRY_SIZE, distinct: 32 },
    });
    const value = rate(r);
    baselines.push(value);
    rows.push({
      what: `bare node:http, 1 KB POST, ${CONNECTIONS} conns (baseline, ${when})`,
      value: int(value),
      unit: 'req/s',
      target: '',
      verdict: 'baseline',
      notes: `${loadNotes(r)}; peak RSS ${mib(server.peakRss())} MiB`,
    });
  } finally {
    await server.stop();
  }
}

/** The adapter's own sequencing rate, no HTTP, at the sequencer's batch size and at its largest call. */
async function ceiling(storageName: string, storage: LogStorage): Promise<number> {
  let at256 = 0;
  for (const perCall of [BATCH_ENTRIES, 4096]) {
    progress(
      `${storageName}: adapter alone, sequence() of ${perCall} × 1 KB per call, ${CEILING_S} s`,
    );
    const r = await sequenceRate(storage, perCall, CEILING_S);
    if (perCall === BATCH_ENTRIES) at256 = r.entriesPerS;
    rows.push({
      what: `${storageName}: adapter alone, sequence() ${perCall} × 1 KB per call`,
      value: int(r.entriesPerS),
      unit: 'entries/s',
      target: '',
      verdict: 'storage ceiling',
      notes: `in-process, no HTTP; ${r.calls} calls, ${ms(r.meanCallMs)} ms each`,
    });
  }
  return at256;
}

async function benchLog(
  storage: 'SQLite' | 'PostgreSQL',
  server: ServerProcess,
  storageCeiling: number,
): Promise<void> {
  const { url } = server;

  // The integrator's own latency: single adds, nothing else running.
  progress(`${storage}: time to integrate with no other load, ${IDLE_S} s`);
  integrationRows('no other load', storage, await idleSamples(url));

  // Single-entry adds, 256 connections, with the integration sampler alongside.
  progress(`${storage}: POST /add, 1 KB, ${CONNECTIONS} connections, ${ADD_S} s`);
  const seq0 = await metric(url, 'glasshouse_log_entries_sequenced_total');
  const add = await loadWithSampler(url, {
    url,
    connections: CONNECTIONS,
    durationS: ADD_S,
    warmupS: WARMUP_S,
    work: { kind: 'add', path: '/add', entrySize: ENTRY_SIZE, distinct: 32 },
  });
  const seq1 = await metric(url, 'glasshouse_log_entries_sequenced_total');
  const adds = rate(add.load);
  const pgFloor = storage === 'PostgreSQL' ? adds >= 5000 : true;
  rows.push({
    what: `${storage}: POST /add, 1 KB, ${CONNECTIONS} conns`,
    value: int(adds),
    unit: 'adds/s',
    target: storage === 'PostgreSQL' ? '≥ 40% of baseline; ≥ 5,000/s' : '≥ 40% of baseline',
    verdict: () => {
      const ratio = adds / baseRate();
      return `${pct(ratio)} of baseline, ${verdict(ratio >= 0.4 && pgFloor)}`;
    },
    notes: loadNotes(add.load),
  });
  integrationRows('under the /add load', storage, add.samples);
  progress(
    `${storage}: ${add.load.ok} acknowledged in the counted run; ${seq1 - seq0} sequenced in the whole phase (warm-up and samples included); integrator caught up ${add.catchUp.entries} entries in ${ms(add.catchUp.ms)} ms after the load`,
  );
  if (seq1 - seq0 < add.load.ok) {
    throw new Error(`fewer entries sequenced (${seq1 - seq0}) than acknowledged (${add.load.ok})`);
  }

  // Batches in the entry-bundle encoding, a few clients.
  progress(
    `${storage}: POST /add-batch, ${BATCH_ENTRIES} × 1 KB, ${BATCH_CONNECTIONS} connections, ${BATCH_S} s`,
  );
  const batch = await loadWithSampler(url, {
    url,
    connections: BATCH_CONNECTIONS,
    durationS: BATCH_S,
    warmupS: WARMUP_S,
    work: {
      kind: 'batch',
      path: '/add-batch',
      entries: BATCH_ENTRIES,
      entrySize: ENTRY_SIZE,
      distinct: 8,
    },
  });
  const entries = rate(batch.load, BATCH_ENTRIES);
  rows.push({
    what: `${storage}: POST /add-batch, ${BATCH_ENTRIES} × 1 KB, ${BATCH_CONNECTIONS} conns`,
    value: int(entries),
    unit: 'entries/s',
    target: storage === 'SQLite' ? '≥ 50,000 entries/s' : '',
    verdict:
      `${pct(entries / storageCeiling)} of the adapter's ${BATCH_ENTRIES}-per-call rate` +
      (storage === 'SQLite' ? `, ${verdict(entries >= 50_000)}` : ''),
    notes: `${int(rate(batch.load))} requests/s; ${loadNotes(batch.load)}`,
  });
  integrationRows('under the /add-batch load', storage, batch.samples);
  const c = batch.catchUp;
  rows.push({
    what: `${storage}: integrator catching up once the batches stop`,
    value: c.entries === 0 ? 'n/a' : int((c.entries / c.ms) * 1000),
    unit: 'entries/s',
    target: '',
    verdict: c.done ? '' : 'still behind',
    notes:
      c.entries === 0
        ? 'no backlog left when the load stopped'
        : `${int(c.entries)} entries in ${(c.ms / 1000).toFixed(1)} s`,
  });

  // Tile reads: full level-0 hash tiles, then full entry bundles (identity and gzip).
  const size = await checkpointSize(url);
  const full = Math.floor(size / TILE_WIDTH);
  if (full === 0) throw new Error('no full tile to read');
  const picks = Array.from({ length: Math.min(64, full) }, (_, i) =>
    formatTileIndex(BigInt(Math.floor((i * full) / Math.min(64, full)))),
  );
  const tilePhases = [
    { what: 'GET /tile/0/<N>, full hash tiles (8 KiB)', paths: picks.map((n) => `/tile/0/${n}`) },
    {
      what: 'GET /tile/entries/<N>, full bundles, identity',
      paths: picks.map((n) => `/tile/entries/${n}`),
    },
    {
      what: 'GET /tile/entries/<N>, full bundles, gzip',
      paths: picks.map((n) => `/tile/entries/${n}`),
      headers: { 'accept-encoding': 'gzip' },
    },
  ];
  for (const phase of tilePhases) {
    progress(`${storage}: ${phase.what}, ${CONNECTIONS} connections, ${TILE_S} s`);
    await settle(url);
    const r = await runLoad({
      url,
      connections: CONNECTIONS,
      durationS: TILE_S,
      warmupS: TILE_WARMUP_S,
      work: {
        kind: 'get',
        paths: phase.paths,
        ...(phase.headers === undefined ? {} : { headers: phase.headers }),
      },
    });
    rows.push({
      what: `${storage}: ${phase.what}, ${CONNECTIONS} conns`,
      value: int(rate(r)),
      unit: 'req/s',
      target: '',
      verdict: '',
      notes: `${(r.bytesPerS / 2 ** 20).toFixed(0)} MiB/s; ${picks.length} distinct tiles; ${loadNotes(r)}`,
    });
  }

  const failedRounds = await metric(url, 'glasshouse_log_integration_errors_total');
  rows.push({
    what: `${storage}: failed integration rounds during the run`,
    value: int(failedRounds),
    unit: 'rounds',
    target: '0',
    verdict: verdict(failedRounds === 0),
    notes: 'glasshouse_log_integration_errors_total; the server prints each new error',
  });
  rows.push({
    what: `${storage}: peak RSS of the server process`,
    value: mib(server.peakRss()),
    unit: 'MiB',
    target: '',
    verdict: '',
    notes: `VmHWM; log size at the end ${int(await checkpointSize(url))} entries`,
  });
}

function failRows(storage: string, err: unknown): void {
  failed = true;
  const message = err instanceof Error ? err.message : String(err);
  progress(`${storage}: FAILED: ${message}`);
  rows.push({
    what: `${storage}: (remaining phases)`,
    value: 'n/a',
    unit: '',
    target: '',
    verdict: 'FAILED',
    notes: message.replace(/\s+/g, ' ').slice(0, 200),
  });
}

// ---------------------------------------------------------------------------
// storages

function sqliteSettings(dir: string): string {
  // Read back what is persistent in the file; synchronous and locking mode are per connection.
  const db = new Database(join(dir, 'log.sqlite'), { readonly: true });
  try {
    const version = db.prepare('select sqlite_version() as v').get() as { v: string };
    const mode = db.pragma('journal_mode', { simple: true }) as string;
    return `SQLite ${version.v}, journal_mode=${mode} (read back), synchronous=FULL and locking_mode=EXCLUSIVE (set by the adapter on open), tiles as files under ${tmpdir()}`;
  } finally {
    db.close();
  }
}

let tempDir: string | undefined;

async function runSqlite(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-log-bench-'));
  tempDir = dir;
  let server: ServerProcess | undefined;
  try {
    const raw = await openSqliteStorage({ dir: join(dir, 'ceiling') });
    let storageCeiling: number;
    try {
      storageCeiling = await ceiling('SQLite', raw);
    } finally {
      await raw.close();
    }
    progress(`SQLite: starting the log in ${dir}/log`);
    server = await startServer(['sqlite', join(dir, 'log')]);
    await benchLog('SQLite', server, storageCeiling);
    await server.stop();
    server = undefined;
    notes.push(sqliteSettings(join(dir, 'log')));
  } catch (err) {
    failRows('SQLite', err);
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
    tempDir = undefined;
  }
}

async function admin(sql: string): Promise<pg.QueryResult> {
  if (childrenStopped() && !sql.startsWith('DROP')) throw new Error('the benchmark is stopping');
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

let dropDatabase: (() => Promise<void>) | undefined;

async function runPostgres(): Promise<void> {
  const name = `glasshouse_bench_${randomBytes(4).toString('hex')}`;
  let server: ServerProcess | undefined;
  try {
    await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    dropDatabase = async () => {
      dropDatabase = undefined;
      await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    };
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const settings = await admin(
      `SELECT name, setting, unit FROM pg_settings WHERE name IN
         ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'full_page_writes',
          'shared_buffers', 'commit_delay', 'wal_level')
       ORDER BY name`,
    );
    const kv = (settings.rows as { name: string; setting: string; unit: string | null }[]).map(
      (r) => `${r.name}=${r.setting}${r.unit === null ? '' : ` (×${r.unit})`}`,
    );
    notes.push(`PostgreSQL on ${url.host}: ${kv.join(', ')}; tiles in the tiles table; pool 10`);
    // The ceiling in a schema of its own; the log under test uses the default one.
    const raw = await openPostgresStorage(url.toString(), { schema: 'ceiling' });
    let storageCeiling: number;
    try {
      storageCeiling = await ceiling('PostgreSQL', raw);
    } finally {
      await raw.close();
    }
    progress(`PostgreSQL: starting the log in database ${name}`);
    server = await startServer(['postgres', url.toString()]);
    await benchLog('PostgreSQL', server, storageCeiling);
  } catch (err) {
    failRows('PostgreSQL', err);
  } finally {
    await server?.stop();
    await dropDatabase?.().catch((err: unknown) => {
      progress(`PostgreSQL: could not drop ${name}: ${String(err)}`);
    });
  }
}

// ---------------------------------------------------------------------------
// output

function printTable(): void {
  const cols: (keyof Row)[] = ['what', 'value', 'unit', 'target', 'verdict', 'notes'];
  const head = ['what', 'value', 'unit', 'target', 'ratio / verdict', 'notes'];
  const body = rows.map((r) =>
    cols.map((c) => {
      const cell = r[c];
      return typeof cell === 'string' ? cell : cell();
    }),
  );
  process.stdout.write(`${formatTable(head, body, [1])}\n`);
}

async function main(): Promise<void> {
  const cpu = cpus();
  const started = performance.now();
  const header = [
    `@glasshouse/log benchmark — ${new Date().toISOString()}`,
    `load average before the run: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')} (other processes on this machine skew every number, the baseline included)`,
    `node ${process.version} (V8 ${process.versions.v8}), ${process.platform} ${release()}, ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `processes: server under test and load generator (autocannon ${AUTOCANNON_VERSION}) each in their own ` +
      `child process, sharing the ${cpu.length} cores; the baseline runs the same way, before and after ` +
      `everything else, and ratios use the mean of the two runs`,
    `service: buildServer + openLog with the defaults of \`glasshouse log serve\` ` +
      `(sequencer 256 entries / 100 ms, integrator every 250 ms, ≤ 4,096 entries per round)`,
    `entries: ${ENTRY_SIZE}-byte printable entries; phases: ${WARMUP_S} s warm-up (not counted) + ` +
      `${ADD_S} s adds / ${BATCH_S} s batches / ${TILE_S} s per tile read phase`,
    `time to integrate: a sample of single adds (one every 20 ms, ≤ 8 in flight) sent during the load; ` +
      `from the 200 of POST /add to the first polled GET /checkpoint covering the index ` +
      `(polled back to back, 5 ms pause, so each sample includes one poll's round trip)`,
    `storage ceiling: the adapter's sequence() called back to back in the bench process (no HTTP, no ` +
      `sequencer); batch rates are also given as a share of it`,
  ];
  process.stdout.write(`${header.join('\n')}\n`);
  await baseline('before');
  await runSqlite();
  await runPostgres();
  await baseline('after');
  process.stdout.write(`storage: ${notes.join('\n         ')}\n\n`);
  printTable();
  process.stdout.write(
    `\n(total ${((performance.now() - started) / 1000).toFixed(0)} s; load average after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')})\n`,
  );
}

async function cleanup(): Promise<void> {
  killAllChildren();
  if (tempDir !== undefined) {
    await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
  }
  await dropDatabase?.().catch(() => undefined);
}

const done = main().then(
  () => {
    process.exitCode = failed ? 1 : 0;
  },
  async (err: unknown) => {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    progress(childrenStopped() ? 'stopped' : `failed: ${detail}`);
    await cleanup();
    process.exitCode = 1;
  },
);

process.on('exit', killAllChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping; removing children, the temp directory and the database`);
    // Killing the children makes every phase fail fast; their finally blocks clean up.
    killAllChildren();
    const force = setTimeout(() => process.exit(130), 30_000);
    void done.then(cleanup).finally(() => {
      clearTimeout(force);
      process.exit(130);
    });
  });
}
