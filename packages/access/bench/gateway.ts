/**
 * The access path's latency and throughput (issue 17 benchmark): an access
 * (request → record stored and appended → checkpoint meeting the witness
 * quorum → receipt verified → sealed batch read from the site → data key
 * released against the record → decrypted and answered) beside the access
 * log's own add-and-wait-for-witnessed-checkpoint (the baseline), measured
 * alternately in the same run against the same log, witness and machine.
 * Everything real and on loopback: in this process, or (`processes`) with the
 * access log, the key release and the gateway each in its own process.
 */
import { randomBytes } from 'node:crypto';
import { LogClient } from '@glasshouse/log';
import { signedFetch } from '@glasshouse/httpsig';
import { ACCESS_PHASES, type AccessTiming, parseServerTiming } from '../src/index.js';
import { accessProcesses } from '../test/access-processes.js';
import { SITE, signer, startAccessWorld } from '../test/access-world.js';

export interface BenchRow {
  readonly what: string;
  readonly value: string;
  readonly unit: string;
  readonly note: string;
}

export interface GatewayBenchOptions {
  /** Sequential samples of each (access, baseline). Default 100. */
  readonly samples?: number;
  /** Requests in flight in the throughput phase. Default 16. */
  readonly concurrency?: number;
  /** Requests per throughput phase. Default 200. */
  readonly requests?: number;
  readonly progress?: (line: string) => void;
  /**
   * The access log, the key release and the gateway each in its own process,
   * as deployed (test/access-processes.ts); default all in this process.
   */
  readonly processes?: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (x: number): string => x.toFixed(1);

export async function benchGateway(opts: GatewayBenchOptions = {}): Promise<BenchRow[]> {
  const samples = opts.samples ?? 100;
  const concurrency = opts.concurrency ?? 16;
  const requests = opts.requests ?? 200;
  const say = opts.progress ?? (() => undefined);
  say('starting witness, residency log, site, access log, key release, gateway …');
  const w = await startAccessWorld();
  const p = opts.processes === true ? await accessProcesses(w, 'localhost/glasshouse/bench') : null;
  const where = p === null ? '' : ', one process per service';
  try {
    if (p !== null) {
      for (const role of ['log', 'keyrelease', 'gateway'] as const) await p.start(role);
    }
    const log = new LogClient(p?.logUrl ?? w.accessLog.url);
    const gatewayUrl = p?.gatewayUrl ?? w.gatewayUrl;
    const f = signedFetch(signer(w.principals.analyst.key));
    const timings: AccessTiming[] = [];
    const access = async (n: number): Promise<void> => {
      const res = await f(new URL('v1/access', gatewayUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          site: SITE,
          customer: w.customer.id,
          dataClass: 'telemetry-events',
          scope: { kind: 'batches', batches: [w.batches[n % 3]] },
          justification: { code: 'THREAT_INVESTIGATION', detail: `bench ${n}` },
        }),
      });
      const text = await res.text();
      if (res.status !== 200)
        throw new Error(`access answered ${res.status}: ${text.slice(0, 200)}`);
      timings.push(parseServerTiming(res.headers.get('server-timing')));
    };
    // About the size of an access record, random so that dedup never answers.
    const baseline = async (): Promise<void> => {
      await log.add(new TextEncoder().encode(randomBytes(240).toString('base64')), { wait: true });
    };
    const timed = async (fn: () => Promise<void>): Promise<number> => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    // Warm-up (JIT, connections, the witness's first cosignatures).
    for (let i = 0; i < 5; i++) {
      await baseline();
      await access(i);
    }
    const a: number[] = [];
    const b: number[] = [];
    timings.length = 0;
    for (let i = 0; i < samples; i++) {
      b.push(await timed(baseline));
      a.push(await timed(() => access(i)));
      if ((i + 1) % 25 === 0) say(`latency: ${i + 1}/${samples} pairs`);
    }
    a.sort((x, y) => x - y);
    b.sort((x, y) => x - y);
    const sampled = timings.splice(0); // the sequential accesses only
    const phaseP50 = (phase: (typeof ACCESS_PHASES)[number]): number =>
      percentile(
        sampled.flatMap((t) => (t[phase] === undefined ? [] : [t[phase]])).sort((x, y) => x - y),
        50,
      );
    const phases = ACCESS_PHASES.filter((p) => p !== 'total')
      .map((p) => `${p} ${ms(phaseP50(p))}`)
      .join(', ');
    const rate = async (fn: (n: number) => Promise<void>): Promise<number> => {
      let next = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < requests) await fn(next++);
        }),
      );
      return (requests / (performance.now() - t)) * 1000;
    };
    say(`throughput: ${requests} log adds, ${concurrency} in flight …`);
    const baseRate = await rate(() => baseline());
    say(`throughput: ${requests} accesses, ${concurrency} in flight …`);
    const accessRate = await rate((n) => access(n));
    const ratio = (percentile(a, 50) / percentile(b, 50)).toFixed(2);
    return [
      {
        what: `log add + wait for witnessed checkpoint (baseline), p50${where}`,
        value: ms(percentile(b, 50)),
        unit: 'ms',
        note: `p99 ${ms(percentile(b, 99))} ms; ${samples} sequential, alternating with the accesses`,
      },
      {
        what: `access: request → record witnessed → key released → data served, p50${where}`,
        value: ms(percentile(a, 50)),
        unit: 'ms',
        note: `p99 ${ms(percentile(a, 99))} ms; ${ratio}× the baseline p50 (target ≤ 1.5×); 1 batch of 2 events`,
      },
      {
        what: `access at the gateway (its Server-Timing), p50${where}`,
        value: ms(phaseP50('total')),
        unit: 'ms',
        note: `per phase, ms: ${phases}; read and prepare overlap the log wait; the rest of the access is the principal's request and answer`,
      },
      {
        what: `log add + wait for witnessed checkpoint (baseline), concurrent${where}`,
        value: baseRate.toFixed(0),
        unit: 'adds/s',
        note: `${requests} adds, ${concurrency} in flight`,
      },
      {
        what: `accesses served, concurrent${where}`,
        value: accessRate.toFixed(0),
        unit: 'accesses/s',
        note: `${requests} accesses, ${concurrency} in flight, one customer (its counter lock serialises store + sequence)`,
      },
    ];
  } finally {
    await p?.close();
    await w.close();
  }
}
