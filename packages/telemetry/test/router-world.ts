/**
 * Test fixture of the whole data path, every part real and on loopback: a
 * witness, the residency log it witnesses, two data sites (each with its
 * own witnessed ingest log and its own residency view), the ingest router,
 * and agents (customer key, device key, sealed batches, RFC 9421 requests).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  DEVICE_SCHEMA,
  type Ed25519KeyPair,
  type ResidencyPolicy,
  type Site,
  demoPolicy,
  deviceEnvelope,
  deviceSigningMessage,
  devicePseudonym,
  encodeDeviceRegistration,
  encodePublicKey,
  generateEd25519KeyPair,
  generateKeyReleaseKeyPair,
  keyId,
  sealBatch,
  signEd25519,
} from '@glasshouse/residency';
import { RequestSigner, ed25519PrivateKey, signedFetch } from '@glasshouse/httpsig';
import { generateSignerKey, parsePolicy } from '@glasshouse/tlog';
import { type DataSite, openSite } from '../src/site/site.js';
import { buildSiteServer } from '../src/site/server.js';
import { ResidencyView } from '../src/view/view.js';
import { IngestRouter, type IngestRouterOptions } from '../src/router/ingest-router.js';
import {
  type Parties,
  type TestCustomer,
  type TestLog,
  type TestWitness,
  append,
  customer,
  enrollmentText,
  parties,
  policyEntry,
  startLog,
  startWitness,
  witnessLines,
} from './residency-fixture.js';

export const RESIDENCY_ORIGIN = 'localhost/glasshouse/residency';

export interface TestSite {
  readonly id: string;
  readonly site: DataSite;
  readonly view: ResidencyView;
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly description: Site;
  /** Stops answering; the site's data and port stay. */
  stop(): Promise<void>;
  /** Answers again on the same port. */
  start(): Promise<void>;
}

export interface World {
  readonly witness: TestWitness;
  readonly residency: TestLog;
  readonly keys: Parties;
  readonly sites: { readonly zurich: TestSite; readonly other: TestSite };
  readonly policy: ResidencyPolicy;
  readonly keyRelease: { publicKey: Uint8Array; privateKey: Uint8Array };
  readonly tempDir: (name: string) => Promise<string>;
  /** Opens a residency view on a fresh directory (started). */
  view(): Promise<ResidencyView>;
  close(): Promise<void>;
}

export async function startWorld(
  opts: { policy?: 'both' | 'vendor-only' | 'none' } = {},
): Promise<World> {
  const cleanups: (() => Promise<void>)[] = [];
  const tempDir = async (name: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), `gh-${name}-`));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  const witness = await startWitness();
  cleanups.push(() => witness.close());
  const residency = await startLog(RESIDENCY_ORIGIN, witness);
  cleanups.push(() => residency.close());
  const keys = parties();
  const policyKeys = { vendorKey: keys.vendor.publicKey, supervisorKey: keys.supervisor.publicKey };
  const view = async (): Promise<ResidencyView> => {
    const v = ResidencyView.open({
      url: residency.url,
      logPolicy: residency.policy,
      keys: policyKeys,
      dir: await tempDir('view'),
      intervalMs: 50,
    });
    v.start();
    cleanups.push(() => v.close());
    return v;
  };
  const startSite = async (id: string, country: string): Promise<TestSite> => {
    const logKeys = generateSignerKey(`localhost/glasshouse/site/${id}`);
    await witness.addLog(logKeys.verifierKey);
    const siteView = await view();
    const site = await openSite({
      siteId: id,
      logSignerKey: logKeys.signerKey,
      dir: await tempDir(`site-${id}`),
      residency: siteView,
      witnessing: {
        policy: parsePolicy(`log ${logKeys.verifierKey}\n${witnessLines(witness)}`),
        timeoutMs: 2_000,
        quorumGraceMs: 0,
      },
      receiptTimeoutMs: 10_000,
      log: { sequencer: { batchDelayMs: 2 }, integrator: { intervalMs: 10 } },
    });
    let app: FastifyInstance | undefined;
    let port = 0;
    const start = async (): Promise<void> => {
      const a = buildSiteServer({ site, writers: undefined });
      await a.listen({ host: '127.0.0.1', port });
      const address = a.server.address();
      if (address === null || typeof address === 'string') throw new Error('no address');
      port = address.port;
      app = a;
    };
    await start();
    const url = `http://127.0.0.1:${port}/`;
    const stop = async (): Promise<void> => {
      const a = app;
      app = undefined;
      await a?.close();
    };
    cleanups.push(async () => {
      await stop();
      await site.close();
    });
    return {
      id,
      site,
      view: siteView,
      url,
      description: { id, country, verifierKey: logKeys.verifierKey, ingestUrl: url },
      stop,
      start,
    };
  };
  const zurich = await startSite('ch-zrh', 'CH');
  const other = await startSite('us-iad', 'US');
  const policy = demoPolicy({
    zurich: zurich.description,
    other: other.description,
    issuedAt: '2026-12-04T12:00:00Z',
  });
  const mode = opts.policy ?? 'both';
  if (mode !== 'none') {
    const signers = mode === 'both' ? [keys.vendor, keys.supervisor] : [keys.vendor];
    await append(residency.log, policyEntry(policy, signers));
  }
  return {
    witness,
    residency,
    keys,
    sites: { zurich, other },
    policy,
    keyRelease: await generateKeyReleaseKeyPair(),
    tempDir,
    view,
    close: async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    },
  };
}

export interface RunningRouter {
  readonly router: IngestRouter;
  readonly url: string;
  readonly callerKey: Ed25519KeyPair;
}

/** A router on loopback with its own view and data directory. */
export async function startRouter(
  world: World,
  opts: Partial<IngestRouterOptions> = {},
): Promise<RunningRouter> {
  const callerKey = generateEd25519KeyPair();
  const router = IngestRouter.open({
    view: opts.view ?? (await world.view()),
    dir: opts.dir ?? (await world.tempDir('router')),
    callerKey: callerKey.seed,
    residencyLogUrl: world.residency.url,
    vendorResidencyKey: world.keys.vendor.seed,
    // Generous: the full suite on two loaded cores has taken over 5 s to store and witness a batch.
    ackWaitMs: 15_000,
    enrollTimeoutMs: 5_000,
    forwarder: { backoffMs: 50, maxBackoffMs: 300, timeoutMs: 5_000 },
    ...opts,
  });
  const url = `${await router.listen()}/`;
  return { router, url, callerKey };
}

/** An enrolled customer's agent: its device key and a device-signed client of the router. */
export interface Agent {
  readonly customer: TestCustomer;
  readonly deviceKey: Ed25519KeyPair;
  readonly device: string;
  readonly signer: RequestSigner;
  /** A sealed batch of this customer (`region` defaults to the enrolled one). */
  batch(n?: number, region?: string): Promise<Uint8Array>;
  /** POSTs bytes to /v1/batches, signed by the device. */
  send(bytes: Uint8Array): Promise<{ status: number; body: Record<string, unknown> }>;
}

export async function enrollAgent(
  world: World,
  routerUrl: string,
  region: string,
  opts: { register?: boolean } = {},
): Promise<Agent> {
  const c = customer(region);
  const res = await fetch(new URL('v1/enrollments', routerUrl), {
    method: 'POST',
    body: enrollmentText(c),
    headers: { 'content-type': 'application/json' },
  });
  if (res.status !== 200) throw new Error(`enrollment: ${res.status} ${await res.text()}`);
  // The sites learn the enrollment from their own views of the residency log, a moment
  // after the router answered: until then a batch is (rightly) held in the outbox, 202.
  for (const site of [world.sites.zurich, world.sites.other]) {
    const deadline = Date.now() + 15_000;
    while (site.view.state.enrollment(c.id) === undefined) {
      if (Date.now() > deadline) throw new Error(`site ${site.id} never saw ${c.id} enrolled`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const deviceKey = generateEd25519KeyPair();
  if (opts.register !== false) {
    const status = await registerDevice(routerUrl, c, deviceKey);
    if (status !== 200) throw new Error(`device registration: ${status}`);
  }
  return agentOf(world, routerUrl, c, deviceKey);
}

export async function registerDevice(
  routerUrl: string,
  c: TestCustomer,
  deviceKey: Ed25519KeyPair,
): Promise<number> {
  const payload = encodeDeviceRegistration({
    schema: DEVICE_SCHEMA,
    customer: c.id,
    deviceKey: encodePublicKey(deviceKey.publicKey),
    registeredAt: '2026-12-04T12:00:00Z',
  });
  const text = deviceEnvelope(payload, [
    { keyid: keyId(c.key.publicKey), sig: signEd25519(c.key.seed, deviceSigningMessage(payload)) },
  ]);
  const res = await fetch(new URL('v1/devices', routerUrl), {
    method: 'POST',
    body: text,
    headers: { 'content-type': 'application/json' },
  });
  await res.arrayBuffer();
  return res.status;
}

export function agentOf(
  world: World,
  routerUrl: string,
  c: TestCustomer,
  deviceKey: Ed25519KeyPair,
): Agent {
  const device = devicePseudonym(deviceKey.publicKey);
  const signer = new RequestSigner({
    privateKey: ed25519PrivateKey(deviceKey.seed),
    keyid: device,
  });
  const post = signedFetch(signer);
  return {
    customer: c,
    deviceKey,
    device,
    signer,
    batch: async (n = 2, region = c.region) =>
      (
        await sealBatch(
          {
            customer: c.id,
            region,
            productVersion: '1.4.0',
            createdAt: '2026-12-04T16:30:00Z',
            events: Array.from({ length: n }, (_, i) => ({
              sha256: (i + 1).toString(16).padStart(64, '0'),
              rule: 'demo:evil_marker',
              verdict: 'malicious' as const,
              timeBucket: '2026-12-04T16:00:00Z',
              personal: { device, host: 'host-1', user: 'user-1', path: `/tmp/f${i}` },
            })),
          },
          world.keyRelease.publicKey,
        )
      ).bytes,
    send: async (bytes) => {
      const res = await post(new URL('v1/batches', routerUrl).href, {
        method: 'POST',
        body: bytes,
        headers: { 'content-type': 'application/json' },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
  };
}

export { append, policyEntry };
