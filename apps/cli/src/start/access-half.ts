/**
 * The access half of `start` (issue 17): the vendor's access log and
 * gateway, the supervisor's key release (the same key the demo agents seal
 * personal fields to) and access monitor, the per-customer verifiable
 * index with its witnessed output log, and on the first start a demo of
 * four accesses (access-demo.ts). Runs after the data half: the gateway
 * reads the sites the data half started, and the customers it enrolled.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { demoAccessPolicy, encodeAccessPolicy } from '@glasshouse/access-format';
import {
  AccessMonitor,
  IndexService,
  buildIndexServer,
  httpApprovalSource,
  jsonLinesAccessAlerts,
  openSqliteIndexStore,
  residencyFactsOf,
  signPrincipalRegistry,
  type AccessAlert,
  type AccessAlertSink,
  type AccessMonitorStatus,
} from '@glasshouse/access';
import { rawPublicKey } from '@glasshouse/httpsig';
import { ROUTES, caller, signingFetch } from '../callers.js';
import { readAccessConfig, startGateway, startKeyRelease } from '../access/services.js';
import { formatMonitorStatus, type AccessTrust } from '../commands/access-index.js';
import { customerKeyIn } from '../commands/customer.js';
import { startLogServer } from '../commands/log.js';
import { listenOn, parseListen } from '../io.js';
import { partyKey } from '../residency/parties.js';
import { seedOf } from '../residency/services.js';
import type { HalfReport, StartContext } from './context.js';
import { ensureAccessDemo, formatDemo, type AccessDemo } from './access-demo.js';
import { DEMO_PRINCIPALS, type PreparedAccess } from './access-prepare.js';
import { DEMO_CUSTOMERS } from './data-demo.js';
import type { DataPaths } from './data-prepare.js';
import { writeIfChanged } from './files.js';
import { shownPath } from './summary.js';
import { writeWitnessPolicy, type LocalWitness } from './witness-policy.js';

/** How often the supervisor's access monitor checks the access log and the index. */
export const ACCESS_MONITOR_INTERVAL_MS = 10_000;
/** How often the index looks for a new access-log checkpoint. */
const INDEX_INTERVAL_MS = 1_000;

/** The access half's addresses (options of `start`). */
export interface AccessListen {
  readonly accessLog: string;
  readonly index: string;
  readonly indexLog: string;
  readonly gateway: string;
  readonly keyRelease: string;
}

const say = (err: unknown): string => {
  const code = (err as { code?: unknown }).code;
  return `${typeof code === 'string' ? code : 'ERROR'}: ${err instanceof Error ? err.message : String(err)}`;
};

/**
 * Alerts to a JSON-lines file and stderr; and each alert that names a demo
 * customer also to that customer's `access-alerts.jsonl` (the customer is
 * told of a break-glass access to its data at once).
 */
function alertSink(
  ctx: StartContext,
  path: string,
  prefix: string,
  customerDirs: ReadonlyMap<string, string>,
): AccessAlertSink {
  const own = jsonLinesAccessAlerts(path);
  const customers = new Map<string, AccessAlertSink>();
  return {
    send: async (a: AccessAlert) => {
      ctx.say(
        `${prefix} ALERT ${a.kind}${a.customer === undefined ? '' : ` ${a.customer}`}: ${a.message}`,
      );
      await own.send(a);
      const dir = a.customer === undefined ? undefined : customerDirs.get(a.customer);
      if (a.customer !== undefined && dir !== undefined) {
        let sink = customers.get(a.customer);
        if (sink === undefined) {
          sink = jsonLinesAccessAlerts(join(dir, 'access-alerts.jsonl'));
          customers.set(a.customer, sink);
        }
        await sink.send(a);
      }
    },
  };
}

export async function startAccessHalf(
  ctx: StartContext,
  prepared: PreparedAccess,
  data: {
    readonly paths: DataPaths;
    readonly residencyTrustPath: string;
    readonly witness: LocalWitness;
  },
  listen: AccessListen,
): Promise<HalfReport> {
  const { paths } = prepared;
  const { witness } = data;

  // The vendor's access log and the index's output log, each publishing only witnessed checkpoints.
  const startAccessLog = async (
    dir: string,
    policyPath: string,
    title: string,
    verifierKey: string,
    writer: { name: string; key: typeof prepared.gatewayKey },
    address: string,
  ) => {
    await writeWitnessPolicy(policyPath, { title, verifierKey }, witness);
    const log = await startLogServer({
      dir,
      listen: address,
      witnessPolicy: policyPath,
      callers: [caller(writer.name, writer.key, ROUTES.logAdd)],
      io: ctx.io,
    });
    ctx.closers.add(() => log.close());
    const policy = await writeWitnessPolicy(
      policyPath,
      { title, verifierKey, url: log.url },
      witness,
    );
    return { url: log.url, policy };
  };
  const accessLog = await startAccessLog(
    paths.accessLog,
    paths.accessLogPolicy,
    'the access log',
    prepared.accessLogVkey,
    { name: 'access gateway', key: prepared.gatewayKey },
    listen.accessLog,
  );
  ctx.say(`vendor: access log at ${accessLog.url}, witnessed by the supervisor at ${witness.url}`);
  const indexLog = await startAccessLog(
    paths.indexLog,
    paths.indexLogPolicy,
    'the access index output log',
    prepared.indexLogVkey,
    { name: 'access index', key: prepared.indexKey },
    listen.indexLog,
  );
  ctx.checkStop();

  // The supervisor's access policy and its signed registry of the vendor's principals (its residency key signs).
  const supervisorKey = await partyKey(data.paths.supervisorResidencyKey);
  const supervisorPub = rawPublicKey(supervisorKey);
  if (!existsSync(paths.accessPolicy)) {
    const issuedAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await writeIfChanged(
      paths.accessPolicy,
      encodeAccessPolicy(demoAccessPolicy(supervisorPub, issuedAt)),
    );
  }
  if (!existsSync(paths.principals)) {
    await writeIfChanged(
      paths.principals,
      signPrincipalRegistry(
        {
          version: 1,
          issuedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          principals: DEMO_PRINCIPALS.map((p) => ({
            key: rawPublicKey(prepared.principals[p.name]),
            entity: p.entity,
            country: p.country,
            role: p.role,
          })),
        },
        { publicKey: supervisorPub, seed: seedOf(supervisorKey) },
      ),
    );
  }
  const config = await readAccessConfig({
    accessLogPolicy: paths.accessLogPolicy,
    accessPolicy: paths.accessPolicy,
    principals: paths.principals,
    residencyTrust: data.residencyTrustPath,
  });

  // Demo customers' directories by pseudonym: where their alerts go.
  const customerDirs = new Map<string, string>();
  for (const c of DEMO_CUSTOMERS) {
    const dir = data.paths.customer(c.name);
    customerDirs.set((await customerKeyIn(dir, false)).customer, dir);
  }

  // The supervisor's key release, then the vendor's gateway.
  await mkdir(paths.monitor, { recursive: true, mode: 0o700 });
  const keyRelease = await startKeyRelease({
    dir: paths.keyRelease,
    listen: listen.keyRelease,
    config,
    gatewayKeys: [prepared.gatewayKey],
    canaries: [],
    alerts: alertSink(ctx, join(paths.keyRelease, 'alerts.jsonl'), 'key release', customerDirs),
    io: ctx.io,
  });
  ctx.closers.add(() => keyRelease.close());
  ctx.say(`supervisor: key release at ${keyRelease.url}`);
  const gateway = await startGateway({
    dir: paths.gateway,
    listen: listen.gateway,
    config,
    keyReleaseUrl: keyRelease.url,
    callerKey: prepared.gatewayKey,
    io: ctx.io,
  });
  ctx.closers.add(() => gateway.close());
  ctx.say(`vendor: access gateway at ${gateway.url}`);
  ctx.checkStop();

  // The verifiable index over the access log, its revisions in the output log.
  const index = await IndexService.open({
    accessLogUrl: accessLog.url,
    accessLogPolicy: accessLog.policy,
    outputLogUrl: indexLog.url,
    outputFetch: signingFetch(prepared.indexKey),
    store: openSqliteIndexStore({ dir: paths.index }),
  });
  const indexApp = buildIndexServer({ service: index });
  ctx.closers.add(async () => {
    await indexApp.close();
    await index.close();
  });
  const indexUrl = `${await listenOn(indexApp, parseListen(listen.index))}/`;
  const trust: AccessTrust = {
    accessLogUrl: accessLog.url,
    accessLogPolicy: accessLog.policy,
    outputLogUrl: indexLog.url,
    outputLogPolicy: indexLog.policy,
    indexUrl,
  };
  await writeIfChanged(paths.accessTrust, `${JSON.stringify(trust, null, 2)}\n`);
  ctx.say(`vendor: access index at ${indexUrl} (output log ${indexLog.url})`);

  // The demo (first start only), then the index catches up with everything logged.
  const demo = await ensureAccessDemo({
    paths,
    dataPaths: data.paths,
    gatewayUrl: gateway.url,
    gatewayView: gateway.view,
    principals: prepared.principals,
    supervisorKey,
    say: ctx.say,
  });
  ctx.checkStop();
  const logged = BigInt(demo.accesses.reduce((n, a) => Math.max(n, a.index + 1), 0));
  for (let i = 0; i < 10 && index.size < logged; i++) await index.step();
  ctx.closers
    .addLoop(() => Promise.resolve())
    .start(
      (signal) =>
        index.run(signal, INDEX_INTERVAL_MS, (err) => {
          ctx.say(`access index: ${say(err)}`);
        }),
      (err) => {
        ctx.say(`access index: stopped: ${say(err)}`);
      },
    );

  // The supervisor's access monitor: customer keys from its own (the key release's) residency view.
  const facts = residencyFactsOf(keyRelease.view);
  const monitor = AccessMonitor.open({
    accessLogUrl: accessLog.url,
    accessLogPolicy: accessLog.policy,
    outputLogUrl: indexLog.url,
    outputLogPolicy: indexLog.policy,
    policy: config.accessPolicy,
    approvals: httpApprovalSource({ url: gateway.url }),
    customerKey: (c) => facts.customerKey(c),
    dir: paths.monitor,
    alerts: alertSink(ctx, join(paths.monitor, 'alerts.jsonl'), 'access monitor', customerDirs),
  });
  const loop = ctx.closers.addLoop(() => monitor.close());
  const first = await monitor.runOnce();
  loop.start(
    (signal) => monitor.run(signal, ACCESS_MONITOR_INTERVAL_MS),
    (err) => {
      ctx.say(`access monitor: stopped: ${say(err)}`);
    },
  );
  return report(ctx, {
    paths,
    dataPaths: data.paths,
    accessLog: accessLog.url,
    indexLog: indexLog.url,
    indexUrl,
    gatewayUrl: gateway.url,
    keyReleaseUrl: keyRelease.url,
    demo,
    status: first.status,
  });
}

function report(
  ctx: StartContext,
  r: {
    paths: PreparedAccess['paths'];
    dataPaths: DataPaths;
    accessLog: string;
    indexLog: string;
    indexUrl: string;
    gatewayUrl: string;
    keyReleaseUrl: string;
    demo: AccessDemo;
    status: AccessMonitorStatus;
  },
): HalfReport {
  const shown = (p: string): string => shownPath(p, ctx.io.cwd);
  const { paths } = r;
  const customerKeyPath = join(r.dataPaths.customer(r.demo.customerName), 'customer.key');
  const customerKey = shown(customerKeyPath);
  const monitorAlerts = join(paths.monitor, 'alerts.jsonl');
  const lines = [
    'access transparency (vendor)',
    `  access log        ${r.accessLog}  (one record per access, witnessed; ${shown(paths.accessLog)})`,
    `  access gateway    ${r.gatewayUrl}  (the only read path to the sites' data; approvals API; ${shown(paths.gateway)})`,
    `  access index      ${r.indexUrl}  (per-customer verifiable index; output log ${r.indexLog}, witnessed)`,
    `  access trust      ${shown(paths.accessTrust)}  (what a customer pins for access mine)`,
    'access transparency (supervisor)',
    `  key release       ${r.keyReleaseUrl}  (opens data keys only against a witnessed access record; audit and alerts in ${shown(paths.keyRelease)})`,
    `  access policy     ${shown(paths.accessPolicy)}, principals ${shown(paths.principals)} (signed)`,
    `  access monitor    every record and index revision every ${ACCESS_MONITOR_INTERVAL_MS / 1000} s; alerts in ${shown(monitorAlerts)}`,
    ...formatMonitorStatus(r.status)
      .trimEnd()
      .split('\n')
      .map((l) => `    ${l}`),
    ...formatDemo(
      r.demo,
      shown(join(r.dataPaths.customer(r.demo.customerName), 'access-alerts.jsonl')),
    ),
  ];
  const tryIt = [
    `  # every access to ${r.demo.customerName}'s data, checked by the customer: complete up to the witnessed access log`,
    `  npx glasshouse access mine --customer-key ${customerKey} --trust ${shown(paths.accessTrust)}`,
    '  # the approval requests and the break-glass accesses at the gateway',
    `  npx glasshouse access list --gateway ${r.gatewayUrl}`,
    `  npx glasshouse access list --gateway ${r.gatewayUrl} --break-glass`,
    "  # the supervisor's alerts of the access half (break-glass: the customer got it too)",
    `  cat ${shown(monitorAlerts)}`,
  ];
  return {
    lines,
    tryIt,
    ready: {
      accessLogUrl: r.accessLog,
      accessIndexUrl: r.indexUrl,
      accessIndexLogUrl: r.indexLog,
      gatewayUrl: r.gatewayUrl,
      keyReleaseUrl: r.keyReleaseUrl,
      accessTrustPath: paths.accessTrust,
      accessDemo: r.demo,
      /** The demo customer's key: the portal's My data page opens it (in the browser only). */
      accessDemoCustomerKey: customerKeyPath,
      accessMineCommand: `glasshouse access mine --customer-key ${customerKey} --trust ${shown(paths.accessTrust)}`,
      accessAlerts: r.status.alerts,
    },
  };
}
