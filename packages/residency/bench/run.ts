/**
 * `npm run bench` in packages/residency: how fast the endpoint seals and the
 * data path checks telemetry batches, next to the baseline measured in the
 * same run — WebCrypto AES-256-GCM over the same personal fields without
 * anything else — so the ratio means something on a noisy machine.
 * Batches of 500 events, as in the throughput target.
 */
import { printRateTable, type RateRow } from '@glasshouse/bench-kit';
import {
  canonicalJson,
  generateKeyReleaseKeyPair,
  openBatchKey,
  openAllPersonal,
  parseBatch,
  sealBatch,
  type BatchInput,
} from '../src/index.js';

const EVENTS = 500;
const MIN_MS = 1500;

/**
 * Runs `fn` until `MIN_MS` passed; returns units per wall-clock second and
 * per CPU second of this process (WebCrypto's worker threads included), the
 * latter less disturbed by other load on a shared machine.
 */
async function rate(
  fn: () => Promise<unknown>,
  units: number,
): Promise<{ wall: number; cpu: number }> {
  await fn(); // warm-up
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < MIN_MS) {
    await fn();
    calls++;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    wall: (calls * units * 1000) / ms,
    cpu: (calls * units * 1e6) / (cpu.user + cpu.system),
  };
}

const perCpu = (r: { cpu: number }): string =>
  `${Math.round(r.cpu).toLocaleString('en-US')} per CPU-s`;

function input(): BatchInput {
  return {
    customer: `c-${'5'.repeat(32)}`,
    region: 'EU',
    productVersion: '1.4.0',
    createdAt: '2026-12-04T17:10:00.000Z',
    events: Array.from({ length: EVENTS }, (_, i) => ({
      sha256: i.toString(16).padStart(64, '0'),
      rule: i % 3 ? 'Demo_malware_rule' : null,
      verdict: i % 3 ? 'malicious' : 'unknown',
      timeBucket: '2026-12-04T17:00:00Z',
      personal: {
        device: `d-${'7'.repeat(32)}`,
        host: `workstation-${i}.corp.example`,
        user: `user${i}`,
        path: `C:\\Users\\user${i}\\AppData\\Local\\Temp\\download-${i}.exe`,
      },
    })),
  };
}

async function main(): Promise<void> {
  const keyRelease = await generateKeyReleaseKeyPair();
  const batchInput = input();
  const rows: RateRow[] = [];

  // Baseline: AES-256-GCM of each event's personal fields, nothing else.
  const subtle = globalThis.crypto.subtle;
  const plain = batchInput.events.map((e) =>
    new TextEncoder().encode(canonicalJson({ ...e.personal })),
  );
  const key = await subtle.importKey('raw', new Uint8Array(32), { name: 'AES-GCM' }, false, [
    'encrypt',
  ]);
  const iv = new Uint8Array(12);
  const baseline = await rate(
    () => Promise.all(plain.map((p) => subtle.encrypt({ name: 'AES-GCM', iv }, key, p))),
    EVENTS,
  );
  rows.push({
    what: 'AES-256-GCM of the personal fields only (baseline)',
    rate: baseline.wall,
    unit: 'events/s',
    note: `WebCrypto; ${perCpu(baseline)}`,
  });

  const sealRate = await rate(() => sealBatch(batchInput, keyRelease.publicKey), EVENTS);
  rows.push({
    what: `sealBatch, ${EVENTS} events`,
    rate: sealRate.wall,
    unit: 'events/s',
    note: `${((sealRate.cpu / baseline.cpu) * 100).toFixed(0)}% of baseline per CPU-s; ${perCpu(sealRate)}`,
  });

  const { batch, bytes } = await sealBatch(batchInput, keyRelease.publicKey);
  const parseRate = await rate(() => Promise.resolve(parseBatch(bytes)), EVENTS);
  rows.push({
    what: `parseBatch, ${EVENTS} events (${(bytes.length / 1024).toFixed(0)} KiB)`,
    rate: parseRate.wall,
    unit: 'events/s',
    note: `schema + canonical check (router and site); ${perCpu(parseRate)}`,
  });

  const openKeyRate = await rate(() => openBatchKey(batch, keyRelease.privateKey), 1);
  rows.push({
    what: 'openBatchKey (HPKE open)',
    rate: openKeyRate.wall,
    unit: 'batches/s',
    note: `key release side; ${perCpu(openKeyRate)}`,
  });

  const dataKey = await openBatchKey(batch, keyRelease.privateKey);
  const openRate = await rate(() => openAllPersonal(batch, dataKey), EVENTS);
  rows.push({
    what: `openAllPersonal, ${EVENTS} events`,
    rate: openRate.wall,
    unit: 'events/s',
    note: `AES-GCM open + JSON check; ${perCpu(openRate)}`,
  });

  printRateTable(rows);
}

await main();
