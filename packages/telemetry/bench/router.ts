/**
 * The end-to-end set-up of `npm run bench`, as deployed: the data site and
 * the ingest router each in a process of its own, beside the witness and
 * the residency log in this one. The residency policy designates the site
 * child for EU; one customer is enrolled through the router, with one
 * device per batch in flight (the router limits each device to 30 batches
 * a second: a fleet, not one agent, sends tens of thousands of events a
 * second). The same site child also takes batches straight from this
 * process, signed with the router's key: the site-only path, for the
 * router's share.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Child, freePort, startChild } from '@glasshouse/bench-kit';
import { RequestSigner, ed25519PrivateKey } from '@glasshouse/httpsig';
import {
  type TelemetryBatch,
  demoPolicy,
  generateEd25519KeyPair,
  parseBatch,
  sealBatch,
} from '@glasshouse/residency';
import { generateSignerKey } from '@glasshouse/tlog';
import { witnessLines } from '../test/residency-fixture.js';
import {
  type Agent,
  type World,
  agentOf,
  append,
  enrollAgent,
  policyEntry,
  registerDevice,
  startWorld,
} from '../test/router-world.js';
import type { ChildConfig } from '../test/site-child.js';
import { variants } from './batches.js';

export interface EndToEnd {
  readonly site: Child<{ url: string }>;
  readonly router: Child<{ url: string }>;
  /** Signs as the router (the site's allow-list entry): the site-only path. */
  readonly routerSigner: RequestSigner;
  /** One device of the enrolled customer per batch in flight. */
  readonly devices: readonly Agent[];
  /** The logged policy's digest (the site-only path's `Glasshouse-Policy`). */
  readonly policy: string;
  /** `count` distinct sealed batches of the customer, `events` each. */
  batches(count: number, salt: string): Uint8Array[];
  close(): Promise<void>;
}

const b64 = (x: Uint8Array): string => Buffer.from(x).toString('base64');

export async function startEndToEnd(opts: {
  readonly dir: string;
  readonly postgres?: string | undefined;
  readonly devices: number;
  readonly events: number;
  readonly pad: number;
  readonly childFlags: readonly string[];
}): Promise<EndToEnd> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    await mkdir(opts.dir, { recursive: true });
    const world: World = await startWorld({ policy: 'none' });
    closers.push(() => world.close());
    // The site child: its ingest-log key and port are fixed first, the policy names both.
    const siteKeys = generateSignerKey('localhost/glasshouse/site/ch-zrh-bench');
    await world.witness.addLog(siteKeys.verifierKey);
    const port = await freePort();
    const policy = demoPolicy({
      zurich: {
        id: 'ch-zrh',
        country: 'CH',
        verifierKey: siteKeys.verifierKey,
        ingestUrl: `http://127.0.0.1:${port}/`,
      },
      other: world.sites.other.description,
      issuedAt: '2026-12-04T12:00:00Z',
    });
    await append(
      world.residency.log,
      policyEntry(policy, [world.keys.vendor, world.keys.supervisor]),
    );
    const routerKey = generateEd25519KeyPair();
    const siteConfig: ChildConfig = {
      dir: join(opts.dir, 'site'),
      ...(opts.postgres === undefined ? {} : { postgres: opts.postgres }),
      siteId: 'ch-zrh',
      logSignerKey: siteKeys.signerKey,
      witnessPolicy: `log ${siteKeys.verifierKey}\n${witnessLines(world.witness)}`,
      vendorKey: b64(world.keys.vendor.publicKey),
      supervisorKey: b64(world.keys.supervisor.publicKey),
      entries: [],
      routerKey: b64(routerKey.publicKey),
      view: {
        url: world.residency.url,
        policy: world.residency.policy,
        dir: join(opts.dir, 'site-view'),
      },
      port,
    };
    const siteFile = join(opts.dir, 'site.json');
    await writeFile(siteFile, JSON.stringify(siteConfig));
    const site = await startChild<{ url: string }>(
      new URL('../test/site-child.ts', import.meta.url),
      [siteFile],
      60_000,
      opts.childFlags,
    );
    closers.push(() => site.stop());
    // test/router-child.mjs: the kill -9 test's router, here with the router's own ack wait.
    const routerConfig = {
      dir: join(opts.dir, 'router'),
      viewDir: join(opts.dir, 'router-view'),
      residencyUrl: world.residency.url,
      residencyPolicy: world.residency.policy,
      vendorKey: b64(world.keys.vendor.publicKey),
      supervisorKey: b64(world.keys.supervisor.publicKey),
      callerSeed: b64(routerKey.seed),
      vendorSeed: b64(world.keys.vendor.seed),
      ackWaitMs: 15_000,
    };
    const router = await startChild<{ url: string }>(
      new URL('../test/router-child.mjs', import.meta.url),
      [JSON.stringify(routerConfig)],
      60_000,
      opts.childFlags,
    );
    closers.push(() => router.stop());

    const agent = await enrollAgent(world, router.ready.url, 'EU');
    const devices: Agent[] = [agent];
    while (devices.length < opts.devices) {
      const key = generateEd25519KeyPair();
      const status = await registerDevice(router.ready.url, agent.customer, key);
      if (status !== 200) throw new Error(`device registration: ${status}`);
      devices.push(agentOf(world, router.ready.url, agent.customer, key));
    }
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
    const template: TelemetryBatch = parseBatch(sealed.bytes);
    // enrollAgent waited for the world's site views to see the enrollment, logged after the policy.
    const loggedPolicy = world.sites.other.view.current().policy?.digest;
    if (loggedPolicy === undefined) throw new Error('no logged policy');
    return {
      site,
      router,
      routerSigner: new RequestSigner({ privateKey: ed25519PrivateKey(routerKey.seed) }),
      devices,
      policy: loggedPolicy,
      batches: (count, salt) => variants(template, count, salt),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
