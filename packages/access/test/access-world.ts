/**
 * Test fixture of the access path, every part real and on loopback: a
 * witness; the residency log it witnesses (policy + a customer's
 * enrollment); the data site `ch-zrh` with its witnessed ingest log and
 * sealed batches of the customer, whose read route only the gateway's key
 * may call; the access log (a @glasshouse/log log witnessed by the same
 * witness); the supervisor's key release; and the gateway with its stores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  ACCESS_REQUEST_SCHEMA,
  APPROVAL_SCHEMA,
  approvalEnvelope,
  approvalSigningMessage,
  demoAccessPolicy,
  encodeAccessRequest,
  encodeApproval,
  accessRequestDigest,
  principalPseudonym,
  type AccessPolicy,
  type AccessScope,
  type Justification,
} from '@glasshouse/access-format';
import { AllowList, RequestSigner, ed25519PrivateKey, signedFetch } from '@glasshouse/httpsig';
import { keepAliveFetch } from '@glasshouse/http';
import { LogClient } from '@glasshouse/log';
import {
  type Ed25519KeyPair,
  type KeyReleaseKeyPair,
  demoPolicy,
  encodePolicy,
  generateEd25519KeyPair,
  generateKeyReleaseKeyPair,
  keyId,
  policyDigest,
  sealBatch,
  signEd25519,
  type PlainEvent,
} from '@glasshouse/residency';
import { type DataSite, ResidencyView, buildSiteServer, openSite } from '@glasshouse/telemetry';
import { generateSignerKey, parsePolicy } from '@glasshouse/tlog';
import {
  ApprovalStore,
  Approvals,
  Gateway,
  KeyRelease,
  MemoryAccessAlerts,
  RecordStore,
  ReleaseAuditStore,
  buildGatewayServer,
  buildKeyReleaseServer,
  keyReleaseClient,
  openPrincipalRegistry,
  residencyFactsOf,
  signPrincipalRegistry,
  siteReader,
  type RegisteredPrincipal,
} from '../src/index.js';
import {
  type TestCustomer,
  type TestLog,
  type TestWitness,
  append,
  customer,
  enrollmentEntry,
  fakeSite,
  parties,
  policyEntry,
  startLog,
  startWitness,
  witnessLines,
} from '../../telemetry/test/residency-fixture.js';

export const ACCESS_LOG_ORIGIN = 'localhost/glasshouse/access-log';
export const SITE = 'ch-zrh';

export interface Stores {
  readonly records: RecordStore;
  readonly approvals: ApprovalStore;
  readonly audit: ReleaseAuditStore;
}

export interface AccessWorld {
  readonly witness: TestWitness;
  readonly residency: TestLog;
  readonly accessLog: TestLog;
  readonly supervisor: Ed25519KeyPair;
  readonly vendor: Ed25519KeyPair;
  readonly customer: TestCustomer;
  readonly canary: TestCustomer;
  readonly keyReleaseKeys: KeyReleaseKeyPair;
  readonly accessPolicy: AccessPolicy;
  readonly site: DataSite;
  readonly siteUrl: string;
  readonly gatewayKey: Ed25519KeyPair;
  /** Principals by name: `support` (CH support engineer), `analyst` (threat analyst). */
  readonly principals: Record<
    'support' | 'analyst',
    { key: Ed25519KeyPair; p: RegisteredPrincipal }
  >;
  readonly outsider: Ed25519KeyPair;
  /** The supervisor-signed principal registry (DSSE text). */
  readonly registryText: string;
  readonly gatewayUrl: string;
  readonly keyReleaseUrl: string;
  readonly alerts: MemoryAccessAlerts;
  readonly stores: Stores;
  /** Digests of the customer's stored batches (3), oldest first. */
  readonly batches: readonly string[];
  readonly canaryBatch: string;
  readonly policyDigest: string;
  /** A signed POST by `key` to the gateway. */
  post(
    key: Ed25519KeyPair | null,
    path: string,
    body: Uint8Array | string,
    contentType?: string,
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  /** The gateway signer (for tests that call the site or the key release directly). */
  gatewayFetch: typeof fetch;
  /** Files a request for `scope` and has the listed roles sign `decision`. */
  approve(opts: {
    principal: 'support' | 'analyst';
    scope: AccessScope;
    justification: Justification;
    dataClass?: string;
    roles?: readonly ('customer' | 'supervisor')[];
    decision?: 'approve' | 'deny';
    validSeconds?: number;
    signWith?: Ed25519KeyPair;
  }): Promise<string>;
  tempDir(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Where the gateway's, approvals' and audit stores live (default SQLite in temp dirs). */
  readonly postgres?: string;
  /** Key-release record validity (default 300 s). */
  readonly validitySeconds?: number;
}

const EVENT = (n: number): PlainEvent => ({
  sha256: n.toString(16).padStart(64, '0'),
  rule: 'demo:evil',
  verdict: 'malicious',
  timeBucket: '2026-12-04T16:00:00Z',
  personal: {
    device: `d-${n}`,
    host: `host-${n}.corp`,
    user: `alice-${n}`,
    path: `C:\\x\\${n}.exe`,
  },
});

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An approval envelope over `request` (a request or, for a review, a record digest) signed by `key`. */
export function approvalText(
  key: Ed25519KeyPair,
  a: {
    request: string;
    role: 'customer' | 'supervisor';
    decision?: 'approve' | 'deny';
    validSeconds?: number;
  },
): string {
  const decided = Date.now() - 1_000;
  const payload = encodeApproval({
    schema: APPROVAL_SCHEMA,
    request: a.request,
    role: a.role,
    decision: a.decision ?? 'approve',
    decidedAt: iso(decided),
    expiresAt: iso(decided + (a.validSeconds ?? 3_600) * 1000),
  });
  return approvalEnvelope(payload, {
    keyid: keyId(key.publicKey),
    sig: signEd25519(key.seed, approvalSigningMessage(payload)),
  });
}

/** The site's sealed bytes of the customer's first batch, read as the gateway reads them. */
export async function readFirstBatchSealed(w: AccessWorld): Promise<Uint8Array[]> {
  const read = await w.gatewayFetch(new URL('v1/read', w.siteUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      customer: w.customer.id,
      scope: { kind: 'batches', batches: [w.batches[0]] },
    }),
  });
  const { batches } = (await read.json()) as { batches: string[] };
  return batches.map((b) => new Uint8Array(Buffer.from(b, 'base64')));
}
export function signer(key: Ed25519KeyPair): RequestSigner {
  return new RequestSigner({ privateKey: ed25519PrivateKey(key.seed) });
}

export async function startAccessWorld(opts: WorldOptions = {}): Promise<AccessWorld> {
  const cleanups: (() => Promise<void>)[] = [];
  const tempDir = async (name: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), `gh-access-${name}-`));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  const close = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const witness = await startWitness();
    cleanups.push(() => witness.close());
    const residency = await startLog('localhost/glasshouse/residency', witness);
    cleanups.push(() => residency.close());
    const { vendor, supervisor } = parties();
    const policyKeys = { vendorKey: vendor.publicKey, supervisorKey: supervisor.publicKey };
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

    // The data site, whose read route only the gateway's key may call.
    const gatewayKey = generateEd25519KeyPair();
    const siteKeys = generateSignerKey(`localhost/glasshouse/site/${SITE}`);
    await witness.addLog(siteKeys.verifierKey);
    const siteView = await view();
    const site = await openSite({
      siteId: SITE,
      logSignerKey: siteKeys.signerKey,
      dir: await tempDir('site'),
      residency: siteView,
      witnessing: {
        policy: parsePolicy(`log ${siteKeys.verifierKey}\n${witnessLines(witness)}`),
        timeoutMs: 2_000,
        quorumGraceMs: 0,
      },
      receiptTimeoutMs: 10_000,
      log: { sequencer: { batchDelayMs: 2 }, integrator: { intervalMs: 10 } },
    });
    cleanups.push(() => site.close());
    const siteApp = buildSiteServer({
      site,
      writers: {
        allowList: new AllowList([
          { name: 'gateway', publicKey: gatewayKey.publicKey, allow: ['POST /v1/read'] },
        ]),
      },
    });
    const siteUrl = `${await siteApp.listen({ host: '127.0.0.1', port: 0 })}/`;
    cleanups.push(() => siteApp.close());

    const policy = demoPolicy({
      zurich: { id: SITE, country: 'CH', verifierKey: siteKeys.verifierKey, ingestUrl: siteUrl },
      other: fakeSite('us-iad', 'US'),
      issuedAt: '2026-12-04T12:00:00Z',
    });
    const pDigest = policyDigest(encodePolicy(policy));
    await append(residency.log, policyEntry(policy, [vendor, supervisor]));
    const c = customer('EU');
    const canary = customer('EU');
    await append(residency.log, enrollmentEntry(c, vendor));
    await append(residency.log, enrollmentEntry(canary, vendor));
    await siteView.waitForSize(3n, 10_000);

    // Sealed batches, stored through the site's own write path.
    const keyReleaseKeys = await generateKeyReleaseKeyPair();
    const store = async (who: TestCustomer, n: number, createdAt: string): Promise<string> => {
      const { bytes } = await sealBatch(
        {
          customer: who.id,
          region: 'EU',
          productVersion: '1.4.0',
          createdAt,
          events: [EVENT(n), EVENT(n + 1)],
        },
        keyReleaseKeys.publicKey,
      );
      return (await site.ingest.ingest(bytes, pDigest)).batch;
    };
    const batches = [
      await store(c, 1, '2026-12-04T10:00:00Z'),
      await store(c, 3, '2026-12-04T11:00:00Z'),
      await store(c, 5, '2026-12-04T12:00:00Z'),
    ];
    const canaryBatch = await store(canary, 7, '2026-12-04T10:00:00Z');

    // The access log, witnessed by the same witness.
    const accessLog = await startLog(ACCESS_LOG_ORIGIN, witness);
    cleanups.push(() => accessLog.close());
    const accessLogPolicy = parsePolicy(accessLog.policy);

    // Principals registered with the supervisor.
    const supportKey = generateEd25519KeyPair();
    const analystKey = generateEd25519KeyPair();
    const registryText = signPrincipalRegistry(
      {
        version: 1,
        issuedAt: '2026-12-04T09:00:00Z',
        principals: [
          {
            key: supportKey.publicKey,
            entity: 'Vendor AG',
            country: 'CH',
            role: 'support-engineer',
          },
          {
            key: analystKey.publicKey,
            entity: 'Vendor Inc',
            country: 'US',
            role: 'threat-analyst',
          },
        ],
      },
      supervisor,
    );
    const registry = openPrincipalRegistry(registryText, [supervisor.publicKey]);
    const reg = (k: Ed25519KeyPair): RegisteredPrincipal => {
      const p = registry.get(principalPseudonym(k.publicKey));
      if (p === undefined) throw new Error('principal not registered');
      return p;
    };
    const accessPolicy = demoAccessPolicy(supervisor.publicKey, '2026-12-04T09:00:00Z');

    // Stores.
    const where = async (
      name: string,
    ): Promise<{ dir?: string; postgres?: string; schema?: string }> =>
      opts.postgres === undefined
        ? { dir: await tempDir(name) }
        : { postgres: opts.postgres, schema: `${name}_${Math.random().toString(36).slice(2, 8)}` };
    const records = await RecordStore.open(await where('gateway'));
    cleanups.push(() => records.close());
    const approvalStore = await ApprovalStore.open(await where('approvals'));
    cleanups.push(() => approvalStore.close());
    const audit = await ReleaseAuditStore.open(await where('audit'));
    cleanups.push(() => audit.close());

    // The supervisor's key release.
    const alerts = new MemoryAccessAlerts();
    const krView = await view();
    await krView.waitForSize(3n, 10_000);
    const keyRelease = new KeyRelease({
      privateKey: keyReleaseKeys.privateKey,
      accessLogPolicy,
      accessPolicy,
      principals: registry,
      residency: residencyFactsOf(krView),
      audit,
      alerts,
      canaries: new Set([canary.id]),
      accessLogName: accessLog.url,
      ...(opts.validitySeconds === undefined ? {} : { validitySeconds: opts.validitySeconds }),
    });
    const krApp = buildKeyReleaseServer({
      keyRelease,
      writers: {
        allowList: new AllowList([
          {
            name: 'gateway',
            publicKey: gatewayKey.publicKey,
            allow: ['POST /v1/release', 'POST /v1/release/prepare'],
          },
        ]),
      },
    });
    const keyReleaseUrl = `${await krApp.listen({ host: '127.0.0.1', port: 0 })}/`;
    cleanups.push(() => krApp.close());

    // The gateway.
    const gwView = await view();
    await gwView.waitForSize(3n, 10_000);
    // As the CLI wires it: keep-alive node:http for the gateway's calls.
    const gatewayFetch = signedFetch(signer(gatewayKey), keepAliveFetch());
    const facts = residencyFactsOf(gwView);
    const approvals = new Approvals({
      store: approvalStore,
      accessPolicy,
      principals: registry,
      residency: facts,
    });
    const gateway = await Gateway.open({
      records,
      approvals,
      accessPolicy,
      residency: facts,
      accessLog: new LogClient(accessLog.url, { fetch: gatewayFetch }),
      accessLogPolicy,
      sites: new Map([[SITE, siteReader(siteUrl, gatewayFetch)]]),
      keyRelease: keyReleaseClient(keyReleaseUrl, gatewayFetch),
    });
    const gwApp: FastifyInstance = buildGatewayServer({ gateway, approvals, principals: registry });
    const gatewayUrl = `${await gwApp.listen({ host: '127.0.0.1', port: 0 })}/`;
    cleanups.push(() => gwApp.close());
    const outsider = generateEd25519KeyPair();

    const post: AccessWorld['post'] = async (key, path, body, contentType = 'application/json') => {
      const f = key === null ? fetch : signedFetch(signer(key));
      const res = await f(new URL(path, gatewayUrl), {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: typeof body === 'string' ? body : Buffer.from(body),
      });
      const text = await res.text();
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { text };
      }
      return { status: res.status, body: parsed, headers: res.headers };
    };

    const principals = {
      support: { key: supportKey, p: reg(supportKey) },
      analyst: { key: analystKey, p: reg(analystKey) },
    };
    const approve: AccessWorld['approve'] = async (a) => {
      const now = Date.now();
      const bytes = encodeAccessRequest({
        schema: ACCESS_REQUEST_SCHEMA,
        site: SITE,
        customer: c.id,
        dataClass: a.dataClass ?? 'personal-fields',
        scope: a.scope,
        accessor: principals[a.principal].p.accessor,
        justification: a.justification,
        requestedAt: iso(now - 5_000),
        expiresAt: iso(now + 3_600_000),
      });
      const filed = await post(
        principals[a.principal].key,
        'v1/requests',
        bytes,
        'application/json',
      );
      if (filed.status !== 200)
        throw new Error(`request: ${filed.status} ${JSON.stringify(filed.body)}`);
      const digest = accessRequestDigest(bytes);
      for (const role of a.roles ?? ['customer', 'supervisor']) {
        const k = a.signWith ?? (role === 'customer' ? c.key : supervisor);
        const env = approvalText(k, {
          request: digest,
          role,
          ...(a.decision === undefined ? {} : { decision: a.decision }),
          ...(a.validSeconds === undefined ? {} : { validSeconds: a.validSeconds }),
        });
        const r = await post(null, `v1/requests/${digest}/decisions`, env);
        if (r.status !== 200 && a.signWith === undefined) {
          throw new Error(`decision: ${r.status} ${JSON.stringify(r.body)}`);
        }
      }
      return digest;
    };

    return {
      witness,
      residency,
      accessLog,
      supervisor,
      vendor,
      customer: c,
      canary,
      keyReleaseKeys,
      accessPolicy,
      site,
      siteUrl,
      gatewayKey,
      principals,
      outsider,
      registryText,
      gatewayUrl,
      keyReleaseUrl,
      alerts,
      stores: { records, approvals: approvalStore, audit },
      batches,
      canaryBatch,
      policyDigest: pDigest,
      post,
      gatewayFetch,
      approve,
      tempDir,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
