/**
 * The verifiable index's benchmark (issue 17): build rate and one
 * customer's lookup-and-verify time with 1,000,000 access records over
 * 10,000 customers, beside the raw SHA-256 rate measured in the same run
 * (the baseline: the build is hash-bound). Rates are per CPU second of this
 * process (the machine is shared); wall-clock rates are in the notes.
 *
 * - build, one revision: the index service's rebuild or catch-up (one
 *   access-log checkpoint covering every new entry, one root at the end);
 * - build, a root every 10,000 / 1,000 records: steady state, one
 *   output-log revision per access-log checkpoint of that many records;
 * - restart: `AccessIndex.restore` from the saved lists (what the service
 *   does instead of replaying the log);
 * - lookup + verify: the service's lookup (node:crypto) and the customer's
 *   `verifyLookup` (the pure default, @noble) against the root.
 *
 * `npx tsx bench/index.ts [--records N] [--customers N]` runs it alone;
 * `npm run bench` runs it after the gateway bench.
 */
import * as crypto from 'node:crypto';
import { AccessIndex, verifyLookup } from '@glasshouse/access-format';
import { nodeSha256 } from '../src/hash.js';
import type { BenchRow } from './gateway.js';

export interface IndexBenchOptions {
  readonly records?: number;
  readonly customers?: number;
  readonly progress?: (line: string) => void;
}

function option(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

function cpuSeconds(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function benchIndex(opts: IndexBenchOptions = {}): Promise<BenchRow[]> {
  const records = opts.records ?? option('records') ?? 1_000_000;
  const customerCount = opts.customers ?? option('customers') ?? 10_000;
  const progress = opts.progress ?? ((line: string) => process.stderr.write(`bench: ${line}\n`));
  const customers = Array.from(
    { length: customerCount },
    (_, i) =>
      `c-${crypto.createHash('sha256').update(`bench customer ${i}`).digest('hex').slice(0, 32)}`,
  );
  // A fixed pseudo-random log: entry i concerns customer owners[i] (xorshift, seeded).
  const owners = new Uint32Array(records);
  let seed = 0x9e3779b9;
  for (let i = 0; i < records; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    owners[i] = (seed >>> 0) % customerCount;
  }
  const rows: BenchRow[] = [];
  const scale = `${fmt(records)} records, ${fmt(customerCount)} customers`;

  // Baseline: raw one-shot SHA-256 of a 65-byte input (a prefix-tree node).
  const input = new Uint8Array(65);
  const n = 300_000;
  let c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) nodeSha256(input);
  const hashRate = n / cpuSeconds(c0);
  rows.push({
    what: 'raw SHA-256, 65-byte input (baseline)',
    value: fmt(hashRate),
    unit: 'hashes/CPU-s',
    note: 'node:crypto one-shot, same run',
  });

  const build = (every: number): { index: AccessIndex; cpu: number; wall: number } => {
    const index = new AccessIndex({ sha256: nodeSha256 });
    const t0 = performance.now();
    const c = process.cpuUsage();
    for (let i = 0; i < records; i++) {
      index.appendKey(customers[owners[i] as number] as string);
      if ((i + 1) % every === 0) index.root();
    }
    index.root();
    return { index, cpu: cpuSeconds(c), wall: (performance.now() - t0) / 1000 };
  };
  for (const [every, label] of [
    [records, 'one revision (rebuild or catch-up)'],
    [10_000, 'a root every 10,000 records'],
    [1_000, 'a root every 1,000 records'],
  ] as const) {
    progress(`index build, ${label}`);
    const b = build(every);
    rows.push({
      what: `index build, ${label}`,
      value: fmt(records / b.cpu),
      unit: 'records/CPU-s',
      note: `${scale}; ${(hashRate / (records / b.cpu)).toFixed(1)} baseline hashes per record; wall clock ${fmt(records / b.wall)}/s; target ≥ 50,000`,
    });
  }

  progress('restart from saved lists');
  const built = build(records).index;
  const saved = customers.map((c) => built.customerState(c)).filter((s) => s !== undefined);
  c0 = process.cpuUsage();
  const t0 = performance.now();
  const restored = AccessIndex.restore(built.size, saved, { sha256: nodeSha256 });
  const root = restored.root();
  rows.push({
    what: 'restart: reopen the saved index (no replay)',
    value: (cpuSeconds(c0) * 1000).toFixed(0),
    unit: 'CPU-ms',
    note: `${scale}; wall ${(performance.now() - t0).toFixed(0)} ms; same root as the build: ${Buffer.from(root).equals(Buffer.from(built.root()))}`,
  });

  progress("one customer's lookup + verify");
  const times: number[] = [];
  for (let k = 0; k < 200; k++) {
    const customer = customers[(k * 7919) % customerCount] as string;
    const c = process.cpuUsage();
    const { indices, proof } = restored.lookup(customer);
    verifyLookup(root, customer, indices, proof);
    times.push(cpuSeconds(c) * 1000);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)] as number;
  const p99 = times[Math.floor(times.length * 0.99)] as number;
  rows.push({
    what: "one customer's lookup + verify (p50)",
    value: p50.toFixed(2),
    unit: 'CPU-ms',
    note: `p99 ${p99.toFixed(2)} ms over 200 customers of ~${fmt(records / customerCount)} records each; verify with @noble (the customer's pure default); target < 50 ms`,
  });
  return Promise.resolve(rows);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const { formatTable } = await import('@glasshouse/bench-kit');
  const { cpus, loadavg } = await import('node:os');
  const rows = await benchIndex();
  process.stdout.write(
    `${formatTable(
      ['measurement', 'value', 'unit', 'note'],
      rows.map((r) => [r.what, r.value, r.unit, r.note]),
    )}\n\n${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end (shared machine)\n`,
  );
}
