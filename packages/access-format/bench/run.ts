/**
 * `npm run bench` in packages/access-format: the verifiable index's build
 * rate and one customer's lookup-and-verify time, beside the raw SHA-256
 * rate measured in the same run (baseline). Issue 17 targets: build
 * ≥ 50,000 records/s with 1,000,000 records over 10,000 customers; one
 * customer's lookup and verification < 50 ms.
 *
 *   npm run bench                      # 1,000,000 records, 10,000 customers
 *   npm run bench -- --records 100000  # a quick run
 *   options: --records N --customers N --revision N (records per index revision)
 */
import * as crypto from 'node:crypto';
import { printRateTable, rawSha256Rate, type RateRow } from '@glasshouse/bench-kit';
import { sha256 as nobleSha } from '@noble/hashes/sha2.js';
import {
  AccessIndex,
  encodeAccessRecord,
  verifyLookup,
  type AccessRecord,
  type Sha256,
} from '../src/index.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i < 0 ? undefined : Number(process.argv[i + 1]);
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`--${name} takes a positive integer`);
  return value;
}

const RECORDS = option('records', 1_000_000);
const CUSTOMERS = option('customers', 10_000);
const REVISION = option('revision', 10_000);

const nodeSha256: Sha256 = (d) => crypto.hash('sha256', d, 'buffer');

const customers = Array.from(
  { length: CUSTOMERS },
  (_, i) =>
    `c-${crypto.createHash('sha256').update(`bench customer ${i}`).digest('hex').slice(0, 32)}`,
);

// A fixed pseudo-random log: entry i concerns customer owner[i] (xorshift, seeded).
const owners = new Uint32Array(RECORDS);
let seed = 0x9e3779b9;
for (let i = 0; i < RECORDS; i++) {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  owners[i] = (seed >>> 0) % CUSTOMERS;
}

function record(customer: string): AccessRecord {
  return {
    schema: 'glasshouse.access-record/v1',
    site: 'ch-zrh',
    customer,
    dataClass: 'personal-fields',
    scope: { kind: 'time-range', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' },
    accessor: {
      principal: `p-${'1'.repeat(32)}`,
      entity: 'Vendor AG',
      country: 'CH',
      role: 'analyst',
    },
    justification: { code: 'THREAT_INVESTIGATION', detail: 'campaign review' },
    approval: null,
    time: '2026-12-04T10:00:00Z',
    counter: 1,
  };
}

/** Builds the index over the first `count` entries, one root per REVISION records; returns records/s. */
function build(
  feed: (index: AccessIndex, i: number) => void,
  sha256: Sha256,
  count = RECORDS,
): { rate: number; wallRate: number; index: AccessIndex; revisions: number } {
  const index = new AccessIndex({ sha256 });
  let revisions = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    feed(index, i);
    if ((i + 1) % REVISION === 0 || i === count - 1) {
      index.root();
      revisions += 1;
    }
  }
  const wallRate = (count / (performance.now() - t0)) * 1000;
  return { rate: count / cpuSeconds(c0), wallRate, index, revisions };
}

/** CPU seconds of this process since `c0`: robust to other processes sharing the cores. */
function cpuSeconds(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

/** Hashes of a 65-byte input per CPU second. */
function hashRate(hash: (d: Uint8Array) => unknown): number {
  const input = new Uint8Array(65);
  const n = 300_000;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) hash(input);
  return n / cpuSeconds(c0);
}

function main(): void {
  const rows: RateRow[] = [];
  // Rates are per CPU second of this process (the cores are shared); the
  // bench-kit wall-clock baseline is printed beside them.
  const { rate: wallBaseline, how } = rawSha256Rate();
  const rawRate = hashRate((d) => crypto.hash('sha256', d, 'buffer'));
  rows.push({
    what: 'raw SHA-256, 65-byte input (baseline)',
    rate: rawRate,
    unit: 'hashes/CPU-s',
    note: `${how}; wall clock ${Math.round(wallBaseline).toLocaleString('en-US')}/s`,
  });
  const nobleRate = hashRate((d) => nobleSha(d));
  rows.push({
    what: 'SHA-256, 65-byte input, @noble/hashes',
    rate: nobleRate,
    unit: 'hashes/CPU-s',
    note: 'the pure default',
  });

  const scale = `${RECORDS.toLocaleString('en-US')} records, ${CUSTOMERS.toLocaleString('en-US')} customers, a root every ${REVISION.toLocaleString('en-US')}`;
  const byKey = (index: AccessIndex, i: number): void => {
    index.appendKey(customers[owners[i]!]!);
  };
  // The server's configuration (node:crypto) over the whole log; the pure
  // default and the full MapFn (strict record parsing) over a prefix only,
  // to keep the run short on shared cores.
  const fast = build(byKey, nodeSha256);
  const perRecord = (rate: number): string =>
    `${(rawRate / rate).toFixed(1)} baseline hashes per record`;
  rows.push({
    what: 'index build from MapFn keys, node:crypto SHA-256',
    rate: fast.rate,
    unit: 'records/CPU-s',
    note: `${scale}; ${perRecord(fast.rate)}; wall clock ${Math.round(fast.wallRate).toLocaleString('en-US')}/s; target ≥ 50,000`,
  });
  const prefix = Math.min(RECORDS, 100_000);
  const noble = build(byKey, (d) => nobleSha(d), prefix);
  rows.push({
    what: 'index build from MapFn keys, @noble SHA-256 (pure default)',
    rate: noble.rate,
    unit: 'records/CPU-s',
    note: `first ${prefix.toLocaleString('en-US')} records`,
  });
  const entries = customers.map((c) => encodeAccessRecord(record(c)));
  const parsed = build((index, i) => index.appendEntry(entries[owners[i]!]!), nodeSha256, prefix);
  rows.push({
    what: 'index build from record bytes (parse + index), node:crypto',
    rate: parsed.rate,
    unit: 'records/CPU-s',
    note: `first ${prefix.toLocaleString('en-US')} records of ${entries[0]!.length} bytes`,
  });

  // One customer's lookup (server) and verification (customer, @noble) against the root.
  const index = fast.index;
  const root = index.root();
  const times: number[] = [];
  for (let k = 0; k < 200; k++) {
    const customer = customers[(k * 7919) % CUSTOMERS]!;
    const c0 = process.cpuUsage();
    const { indices, proof } = index.lookup(customer);
    verifyLookup(root, customer, indices, proof);
    times.push(cpuSeconds(c0) * 1000);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)]!;
  const p99 = times[Math.floor(times.length * 0.99)]!;
  const listed = index.lookup(customers[0]!).indices.length;
  rows.push({
    what: "one customer's lookup + verify (p50, CPU time), @noble",
    rate: p50 * 1000,
    unit: 'µs',
    note: `p99 ${(p99 * 1000).toFixed(0)} µs over 200 customers, ~${listed} indices each; target < 50 ms`,
  });

  process.stdout.write(`\nverifiable index: ${scale} (${fast.revisions} revisions)\n\n`);
  printRateTable(rows);
}

main();
