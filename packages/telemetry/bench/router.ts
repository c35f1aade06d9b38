/**
 * The router phase of `npm run bench`: the whole data path in this process
 * (witness, residency log, two sites with their views, the ingest router),
 * an enrolled agent sending device-signed batches through the router, and
 * the same kind of batches sent straight to the Zurich site (the site-only
 * path, measured in the same process) to show the router's share.
 */
import { createHash } from 'node:crypto';
import {
  encodeBatch,
  generateEd25519KeyPair,
  parseBatch,
  sealBatch,
  type TelemetryBatch,
} from '@glasshouse/residency';
import {
  agentOf,
  enrollAgent,
  registerDevice,
  startRouter,
  startWorld,
} from '../test/router-world.js';

export interface PathRun {
  readonly eventsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
  /** CPU µs per acknowledged event of this whole process, its threads included. */
  readonly cpuUsPerEvent: number;
}

export interface RouterPhase {
  readonly viaRouter: PathRun;
  readonly siteOnly: PathRun;
}

type Send = (bytes: Uint8Array) => Promise<number>;

async function drive(
  batches: readonly Uint8Array[],
  events: number,
  concurrency: number,
  send: Send,
): Promise<PathRun> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const bytes = batches[next++]!;
      const t0 = performance.now();
      const status = await send(bytes);
      if (status === 200) latencies.push(performance.now() - t0);
      else failures += 1;
    }
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const pick = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return {
    eventsPerSecond: (latencies.length * events) / seconds,
    p50: pick(50),
    p99: pick(99),
    failures,
    cpuUsPerEvent: (cpu.user + cpu.system) / Math.max(1, latencies.length * events),
  };
}

function variants(template: TelemetryBatch, count: number, salt: string): Uint8Array[] {
  return Array.from({ length: count }, (_, v) =>
    encodeBatch({
      ...template,
      createdAt: `2026-12-04T16:31:${String(Math.floor(v / 1000) % 60).padStart(2, '0')}.${String(v % 1000).padStart(3, '0')}Z`,
      events: template.events.map((e, i) => ({
        ...e,
        sha256: createHash('sha256').update(`${salt}:${v}:${i}`).digest('hex'),
      })),
    }),
  );
}

export async function routerPhase(opts: {
  batches: number;
  events: number;
  pad: number;
  concurrency: number;
}): Promise<RouterPhase> {
  const world = await startWorld();
  try {
    const router = await startRouter(world);
    try {
      const agent = await enrollAgent(world, router.url, 'EU');
      const sealed = await sealBatch(
        {
          customer: agent.customer.id,
          region: 'EU',
          productVersion: '1.4.0',
          createdAt: '2026-12-04T16:30:00Z',
          events: Array.from({ length: opts.events }, (_, i) => ({
            sha256: i.toString(16).padStart(64, '0'),
            rule: 'demo:evil_marker',
            verdict: 'malicious' as const,
            timeBucket: '2026-12-04T16:00:00Z',
            personal: {
              device: agent.device,
              host: 'workstation-17.corp.example',
              user: 'jdoe',
              path: `/home/jdoe/Downloads/${'x'.repeat(opts.pad)}`,
            },
          })),
        },
        world.keyRelease.publicKey,
      );
      const template = parseBatch(sealed.bytes);
      const viaRouterBatches = variants(template, opts.batches, 'router');
      const siteBatches = variants(template, opts.batches, 'site');
      const policy = world.sites.zurich.view.current().policy?.digest ?? '';
      const siteUrl = world.sites.zurich.url;
      const toSite: Send = async (bytes) => {
        const res = await fetch(new URL('v1/batches', siteUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'glasshouse-policy': policy },
          body: bytes,
        });
        await res.arrayBuffer();
        return res.status;
      };
      // One device per batch in flight, all of one customer: the router limits each device to
      // 30 batches a second, and a fleet, not one agent, sends tens of thousands of events a second.
      const devices = [agent];
      while (devices.length < opts.concurrency) {
        const key = generateEd25519KeyPair();
        const status = await registerDevice(router.url, agent.customer, key);
        if (status !== 200) throw new Error(`device registration: ${status}`);
        devices.push(agentOf(world, router.url, agent.customer, key));
      }
      let turn = 0;
      const viaRouter: Send = async (bytes) =>
        (await (devices[turn++ % devices.length] as typeof agent).send(bytes)).status;
      // Warm-up of both paths.
      await drive(variants(template, 4, 'warm-site'), opts.events, 4, toSite);
      await drive(variants(template, 4, 'warm-router'), opts.events, 4, viaRouter);
      const siteOnly = await drive(siteBatches, opts.events, opts.concurrency, toSite);
      const routed = await drive(viaRouterBatches, opts.events, opts.concurrency, viaRouter);
      return { viaRouter: routed, siteOnly };
    } finally {
      await router.router.close();
    }
  } finally {
    await world.close();
  }
}
