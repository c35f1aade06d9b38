/**
 * The load generator, run by `run.ts` as its own process (autocannon on one
 * event loop). Reads a JSON `LoadSpec` from argv, runs an uncounted warm-up
 * and then the measured run, and prints one JSON `LoadResult` line.
 */
import autocannon from 'autocannon';
import { makeBundle, makeEntry } from './entries.js';

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** What every request is. */
  readonly work:
    | { kind: 'add'; path: string; entrySize: number; distinct: number }
    | { kind: 'batch'; path: string; entries: number; entrySize: number; distinct: number }
    | { kind: 'get'; paths: readonly string[]; headers?: Record<string, string> };
}

export interface LoadResult {
  readonly ok: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
  readonly errors: number;
  readonly timeouts: number;
  readonly durationS: number;
  readonly latencyMs: { p50: number; p99: number; max: number };
  /** Response bytes read per second (mean). */
  readonly bytesPerS: number;
}

function requestsFor(work: LoadSpec['work']): autocannon.Request[] {
  switch (work.kind) {
    case 'add':
      return Array.from({ length: work.distinct }, () => ({
        method: 'POST',
        path: work.path,
        headers: { 'content-type': 'application/octet-stream' },
        body: makeEntry(work.entrySize),
      }));
    case 'batch':
      return Array.from({ length: work.distinct }, () => ({
        method: 'POST',
        path: work.path,
        headers: { 'content-type': 'application/octet-stream' },
        body: makeBundle(work.entries, work.entrySize),
      }));
    case 'get':
      return work.paths.map((path) => ({ method: 'GET', path, headers: work.headers ?? {} }));
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const requests = requestsFor(spec.work);
  const base = { url: spec.url, connections: spec.connections, requests, timeout: 30 };
  if (spec.warmupS > 0) await autocannon({ ...base, duration: spec.warmupS });
  process.stdout.write('measuring\n');
  const r = await autocannon({ ...base, duration: spec.durationS });
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
  const out: LoadResult = {
    ok: r['2xx'],
    non2xx: r.non2xx,
    statusCodes,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    bytesPerS: r.throughput.average,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
