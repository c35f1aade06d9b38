/**
 * The data half of `start` (issue 16): the vendor's residency log, two data
 * sites (Zurich and us-iad), the ingest router, the supervisor's residency
 * monitor, the demo policy (both signatures, logged and witnessed), a demo
 * customer and a demo agent per region sending a few sealed detections.
 *
 * It runs in three steps around the release half: `prepareDataHalf` (keys,
 * and the witness told about the new logs) before it; the residency log
 * during it (the trust bundle carries the residency trust); the rest after.
 */
import type { KeyObject } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initAgentFromTrustBundle } from '@glasshouse/agent';
import type { Site } from '@glasshouse/residency';
import type { ResidencyStatus } from '@glasshouse/telemetry';
import { readCallerKey } from '../callers.js';
import { formatResidencyStatus } from '../commands/residency-status.js';
import { cliAlertSink } from '../commands/monitor.js';
import {
  openResidencyMonitor,
  startRouter,
  startSite,
  type VerdictFollowing,
} from '../residency/services.js';
import type { HalfReport, StartContext } from './context.js';
import {
  DEMO_DROPPER_TEXT,
  EICAR_SHA256,
  ensureDemoEndpoints,
  type DemoEndpoint,
} from './data-demo.js';
import { ensureDemoPolicy } from './data-policy.js';
import { DEMO_LISTED_BAD_TEXT, DEMO_LISTED_GOOD_TEXT, sha256Text } from './demo-verdicts.js';
import { DEMO_SITES, SITE_LOG_KEY_FILE, type PreparedData } from './data-prepare.js';
import type { RunningResidencyLog } from './data-residency-log.js';
import { shownPath } from './summary.js';

/** How often the supervisor's residency monitor checks the logs. */
export const RESIDENCY_MONITOR_INTERVAL_MS = 10_000;

/** The data half's addresses (options of `start`). */
export interface DataListen {
  readonly residencyLog: string;
  readonly router: string;
  readonly sites: Readonly<Record<(typeof DEMO_SITES)[number]['id'], string>>;
}

/** Who else the data half's services accept. */
export interface DataCallers {
  /** The access gateway's caller keys: the sites let them read sealed batches. */
  readonly siteReaders?: readonly KeyObject[];
  /** The vendor verdict list release the sites serve, and the trust bundle they check it with. */
  readonly verdicts?: SiteVerdicts;
}

export interface SiteVerdicts {
  readonly name: string;
  readonly source: string;
  /** The endpoints' trust bundle (path) and its fingerprint. */
  readonly trustBundle: string;
  readonly fingerprint: string;
}

/** How often a site looks for a newer verdict list. */
const VERDICTS_INTERVAL_MS = 60_000;

/**
 * A site's follower of the verdict list: an agent directory initialised
 * from the trust bundle once, so the list gets every check rules get.
 */
async function siteVerdicts(
  dir: string,
  v: SiteVerdicts | undefined,
): Promise<VerdictFollowing | undefined> {
  if (v === undefined) return undefined;
  const follower = join(dir, 'verdicts-follower');
  const pinned = join(follower, 'trust-bundle.fingerprint');
  // A start on other ports co-signs a new bundle (new URLs): follow that one from scratch.
  if ((await readFile(pinned, 'utf8').catch(() => '')) !== v.fingerprint) {
    await rm(follower, { recursive: true, force: true });
    await initAgentFromTrustBundle({
      dir: follower,
      bundle: await readFile(v.trustBundle),
      fingerprint: v.fingerprint,
    });
    await writeFile(pinned, v.fingerprint);
  }
  return { dir: follower, name: v.name, source: v.source, intervalMs: VERDICTS_INTERVAL_MS };
}

export async function startDataHalf(
  ctx: StartContext,
  prepared: PreparedData,
  residencyLog: RunningResidencyLog,
  listen: DataListen,
  callers: DataCallers = {},
): Promise<HalfReport> {
  const { paths } = prepared;
  const { trust } = residencyLog;
  const routerKey = await readCallerKey(paths.routerKey);

  // The vendor's sites, each with its own storage, ingest log and view.
  const sites: { id: string; country: string; city: string; url: string; site: Site }[] = [];
  for (const s of DEMO_SITES) {
    const dir = paths.site(s.id);
    const running = await startSite({
      id: s.id,
      dir,
      listen: listen.sites[s.id],
      logSignerKey: (await readFile(join(dir, SITE_LOG_KEY_FILE), 'utf8')).trim(),
      logVerifierKey: prepared.siteVkeys[s.id],
      trust,
      routerKeys: [routerKey],
      readerKeys: callers.siteReaders ?? [],
      verdicts: await siteVerdicts(dir, callers.verdicts),
      io: ctx.io,
    });
    ctx.closers.add(() => running.close());
    sites.push({
      ...s,
      url: running.url,
      site: {
        id: s.id,
        country: s.country,
        verifierKey: prepared.siteVkeys[s.id],
        ingestUrl: running.url,
      },
    });
    ctx.say(`vendor: data site ${s.id} (${s.city}) at ${running.url}`);
  }
  ctx.checkStop();

  // The policy both organisations sign, logged and witnessed before anything routes on it.
  const [zurich, other] = sites;
  if (zurich === undefined || other === undefined) throw new Error('two demo sites');
  const policy = await ensureDemoPolicy({
    paths,
    trust,
    zurich: zurich.site,
    other: other.site,
    say: ctx.say,
  });

  // The vendor's ingest router.
  const router = await startRouter({
    dir: paths.router,
    listen: listen.router,
    trust,
    vendorResidencyKey: await readCallerKey(paths.vendorResidencyKey),
    callerKey: routerKey,
  });
  ctx.closers.add(() => router.close());
  ctx.say(`vendor: ingest router at ${router.url}`);
  ctx.checkStop();

  // The supervisor's residency monitor.
  const monitor = openResidencyMonitor({
    dir: paths.monitor,
    trust,
    alerts: cliAlertSink({
      path: join(paths.monitor, 'alerts.jsonl'),
      io: ctx.io,
      alertPrefix: 'residency monitor ALERT ',
      errorPrefix: 'residency monitor: ',
    }),
  });
  const loop = ctx.closers.addLoop(() => monitor.close());

  // Demo customers and their agents.
  const endpoints = await ensureDemoEndpoints({
    paths,
    trust,
    routerUrl: router.url,
    say: ctx.say,
  });
  ctx.checkStop();
  const first = await monitor.runOnce();
  loop.start(
    (signal) => monitor.run(signal, RESIDENCY_MONITOR_INTERVAL_MS),
    (err) => {
      ctx.say(`residency monitor: stopped: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
  return report(ctx, {
    prepared,
    residencyLog,
    sites,
    routerUrl: router.url,
    policy,
    endpoints,
    status: first.status,
    alerts: first.alerts.length,
  });
}

function report(
  ctx: StartContext,
  r: {
    prepared: PreparedData;
    residencyLog: RunningResidencyLog;
    sites: readonly { id: string; country: string; city: string; url: string }[];
    routerUrl: string;
    policy: { version: number; digest: string };
    endpoints: readonly DemoEndpoint[];
    status: ResidencyStatus;
    alerts: number;
  },
): HalfReport {
  const shown = (p: string): string => shownPath(p, ctx.io.cwd);
  const { paths } = r.prepared;
  const zurich = r.sites[0];
  const eu = r.endpoints.find((e) => e.region === 'EU');
  const lines = [
    'data residency (vendor)',
    `  residency log     ${r.residencyLog.log.url}  (policies and enrollments, witnessed)`,
    `    verifier key    ${r.residencyLog.log.verifierKey}`,
    `    policy          v${r.policy.version} ${r.policy.digest} (vendor and supervisor signed)`,
    `                    NA EU AU KR JP SG -> ch-zrh, every other region -> us-iad`,
    `  ingest router     ${r.routerUrl}`,
    ...r.sites.map(
      (s) =>
        `  site ${s.id.padEnd(12)} ${s.url}  (${s.city}, ${s.country}; ingest log ${s.url}log/)`,
    ),
    `  residency trust   ${shown(paths.residencyTrust)} (also in the trust bundle)`,
    'data residency (supervisor)',
    `  key release       key ${r.prepared.keyReleaseId}; private key in ${shown(paths.keyRelease)} (0600)`,
    `  residency monitor the residency log and both ingest logs every ${RESIDENCY_MONITOR_INTERVAL_MS / 1000} s; ${r.alerts === 0 ? 'no alerts' : `${r.alerts} ALERT(S)`}`,
    ...formatResidencyStatus(r.status)
      .trimEnd()
      .split('\n')
      .map((l) => `    ${l}`),
    'demo endpoints (one customer per region; detections sealed, receipts kept and verified)',
    ...r.endpoints.map(
      (e) =>
        `  ${e.region.padEnd(6)} ${shown(e.dir).padEnd(28)} ${e.customer} -> ${e.sites.join(',') || 'nothing stored yet'} ` +
        `(${e.batches} batch${e.batches === 1 ? '' : 'es'}, ${e.verified} receipt${e.verified === 1 ? '' : 's'} verified)`,
    ),
  ];
  // Where --data put things (relative to the working directory when inside it).
  const myCustomer = shown(join(ctx.paths.data, 'my-customer'));
  const endpoint = shown(ctx.paths.endpoint);
  const scanMe = shown(join(ctx.paths.data, 'scan-me'));
  const tryIt = [
    '  # what a demo agent sent, where it is stored, and its receipts (checked against the witnessed ingest log)',
    `  npx glasshouse agent telemetry --dir ${eu === undefined ? '<endpoint>' : shown(eu.dir)}`,
    '  # where the data is, checked from the logs alone',
    `  npx glasshouse residency status --trust ${shown(paths.residencyTrust)}`,
    `  npx glasshouse residency policy show --trust ${shown(paths.residencyTrust)}`,
    "  # a site's reputation answer and its ingest-log checkpoint",
    `  curl -s ${zurich?.url ?? ''}reputation/${EICAR_SHA256}`,
    `  curl -s ${zurich?.url ?? ''}log/checkpoint`,
    '  # your own customer, enrolled in a region (logged), and the endpoint above enrolled for it',
    `  npx glasshouse customer init --dir ${myCustomer}`,
    `  npx glasshouse customer enroll --dir ${myCustomer} --region EU --router ${r.routerUrl}`,
    `  npx glasshouse agent enroll --dir ${endpoint} --customer-key ${myCustomer}/customer.key --router ${r.routerUrl}`,
    "  # files no local rule flags: one known-bad from other agents' telemetry, one on the vendor's verdict list",
    '  # (a supervised release each site checks like rules); scan --cloud reports both as sealed telemetry',
    `  mkdir -p ${scanMe} && printf '${DEMO_DROPPER_TEXT}' > ${scanMe}/dropper.bin`,
    `  printf '${DEMO_LISTED_BAD_TEXT}' > ${scanMe}/listed.bin`,
    `  npx glasshouse agent scan --cloud --dir ${endpoint} ${scanMe}`,
    "  # the vendor's verdict list also vouches for files: the site answers known-good, source verdict-list",
    `  curl -s ${zurich?.url ?? ''}reputation/${sha256Text(DEMO_LISTED_GOOD_TEXT)}`,
    `  npx glasshouse agent telemetry --dir ${endpoint}`,
  ];
  return {
    lines,
    tryIt,
    ready: {
      residencyLogUrl: r.residencyLog.log.url,
      routerUrl: r.routerUrl,
      sites: Object.fromEntries(r.sites.map((s) => [s.id, s.url])),
      residencyPolicy: r.policy,
      residencyTrustPath: paths.residencyTrust,
      demoEndpoints: r.endpoints.map((e) => ({
        region: e.region,
        dir: e.dir,
        sites: e.sites,
        batches: e.batches,
        verified: e.verified,
      })),
      residencyAlerts: r.alerts,
    },
  };
}
