// One service of the access path in a child process, for the kill -9 test:
// `log`, `keyrelease` or `gateway`, set up from the JSON file named by
// argv[2], serving on the fixed loopback port of its config (a restart keeps
// the URL), reporting ready over IPC. Residency facts are the ones the parent
// read from its verified residency view, passed in the config.
import { readFile } from 'node:fs/promises';
import { parseAccessPolicy } from '@glasshouse/access-format';
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';
import { keepAliveFetch } from '@glasshouse/http';
import { AllowList, RequestSigner, ed25519PrivateKey, signedFetch } from '@glasshouse/httpsig';
import { LogClient, buildServer, initLog, openLog, openSqliteStorage } from '@glasshouse/log';
import { parsePolicy } from '@glasshouse/tlog';
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
  siteReader,
  type ResidencyFacts,
} from '../src/index.js';

export interface ChildConfig {
  readonly role: 'log' | 'keyrelease' | 'gateway';
  readonly port: number;
  readonly dir: string;
  readonly logSignerKey?: string;
  readonly accessLogUrl?: string;
  readonly accessLogPolicy: string;
  readonly accessPolicy: string;
  readonly registry: string;
  readonly supervisorKey: string;
  readonly customers: Record<string, string>;
  readonly regions: Record<string, string>;
  readonly keyReleasePrivateKey?: string;
  readonly gatewaySeed: string;
  readonly gatewayKey: string;
  readonly siteId?: string;
  readonly siteUrl?: string;
  readonly keyReleaseUrl?: string;
}

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

async function main(): Promise<void> {
  const c = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as ChildConfig;
  const accessLogPolicy = parsePolicy(c.accessLogPolicy);
  const accessPolicy = parseAccessPolicy(new TextEncoder().encode(c.accessPolicy));
  const principals = openPrincipalRegistry(c.registry, [b(c.supervisorKey)]);
  const residency: ResidencyFacts = {
    customerKey: (id) => (c.customers[id] === undefined ? undefined : b(c.customers[id])),
    siteOfRegion: (r) => c.regions[r],
  };
  const closers: (() => Promise<void>)[] = [];
  if (c.role === 'log') {
    const storage = await openSqliteStorage({ dir: c.dir });
    const signerKey = c.logSignerKey ?? '';
    await initLog({ origin: signerKey.split('+')[2] ?? '', signerKey, storage });
    const log = await openLog({
      storage,
      signerKey,
      sequencer: { batchDelayMs: 2 },
      integrator: { intervalMs: 10, publishRetryMaxMs: 100 },
      witnessing: { policy: accessLogPolicy, timeoutMs: 2_000, quorumGraceMs: 0 },
    });
    const app = buildServer({ log, waitTimeoutMs: 10_000 });
    await app.listen({ host: '127.0.0.1', port: c.port });
    closers.push(
      () => app.close(),
      () => log.close(),
      () => storage.close(),
    );
  } else if (c.role === 'keyrelease') {
    const audit = await ReleaseAuditStore.open({ dir: c.dir });
    const keyRelease = new KeyRelease({
      privateKey: b(c.keyReleasePrivateKey ?? ''),
      accessLogPolicy,
      accessPolicy,
      principals,
      residency,
      audit,
      alerts: new MemoryAccessAlerts(),
      accessLogName: c.accessLogUrl ?? '',
    });
    const app = buildKeyReleaseServer({
      keyRelease,
      writers: {
        allowList: new AllowList([
          {
            name: 'gateway',
            publicKey: b(c.gatewayKey),
            allow: ['POST /v1/release', 'POST /v1/release/prepare'],
          },
        ]),
      },
    });
    await app.listen({ host: '127.0.0.1', port: c.port });
    closers.push(
      () => app.close(),
      () => audit.close(),
    );
  } else {
    const records = await RecordStore.open({ dir: c.dir });
    const store = await ApprovalStore.open({ dir: c.dir });
    const approvals = new Approvals({ store, accessPolicy, principals, residency });
    const f = signedFetch(
      new RequestSigner({ privateKey: ed25519PrivateKey(b(c.gatewaySeed)) }),
      keepAliveFetch(),
    );
    const gateway = await Gateway.open({
      records,
      approvals,
      accessPolicy,
      residency,
      accessLog: new LogClient(c.accessLogUrl ?? '', { fetch: f }),
      accessLogPolicy,
      sites: new Map([[c.siteId ?? '', siteReader(c.siteUrl ?? '', f, 5_000)]]),
      keyRelease: keyReleaseClient(c.keyReleaseUrl ?? '', f, 5_000),
      witnessTimeoutMs: 5_000,
    });
    const app = buildGatewayServer({ gateway, approvals, principals });
    await app.listen({ host: '127.0.0.1', port: c.port });
    closers.push(
      () => app.close(),
      () => records.close(),
      () => store.close(),
    );
  }
  onStop(async () => {
    for (const close of closers) await close();
  });
  reportReady({ url: `http://127.0.0.1:${c.port}/` });
}

main().catch(reportFailure);
