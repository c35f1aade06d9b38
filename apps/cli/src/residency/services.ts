/**
 * The data path's services as the CLI runs them (`site serve`, `ingest
 * serve`, `residency status`, and `start`): each from its data directory,
 * the public residency trust (residency log policy and the two residency
 * keys) and its own keys, with a verified residency view of its own.
 */
import { join } from 'node:path';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { rawPublicKey } from '@glasshouse/httpsig';
import {
  checkPinnedResidency,
  currentVerdictList,
  updateVerdicts,
  type PinnedResidency,
} from '@glasshouse/agent';
import type { ResidencyTrust } from '@glasshouse/release-format';
import {
  IngestRouter,
  ResidencyMonitor,
  ResidencyView,
  buildSiteServer,
  openSite,
  type DataSite,
} from '@glasshouse/telemetry';
import { parsePolicy } from '@glasshouse/tlog';
import type { AlertSink } from '@glasshouse/witness';
import { allowListOf, caller, formatCallers } from '../callers.js';
import { listenOn, parseListen, UsageError, type Io } from '../io.js';

/** The route the router delivers batches on: the only write a site accepts. */
export const SITE_WRITE_ROUTES = ['POST /v1/batches'];
/** The route the access gateway reads sealed batches on (ciphertext only). */
export const SITE_READ_ROUTES = ['POST /v1/read'];

/** A residency trust file (the public JSON `start` writes, or the trust bundle's residency field). */
export function residencyTrustOf(text: string, what: string): PinnedResidency {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`${what} is not JSON`, { cause });
  }
  return checkPinnedResidency(value);
}

/** A residency view of the pinned log in `dir` (not started). */
export function viewOf(pinned: PinnedResidency, dir: string, intervalMs = 1000): ResidencyView {
  return ResidencyView.open({
    url: pinned.logUrl,
    logPolicy: pinned.logPolicy,
    keys: { vendorKey: pinned.vendorKey, supervisorKey: pinned.supervisorKey },
    dir,
    intervalMs,
  });
}

/** The witness lines (`witness`, `group`, `quorum`) of a tlog-policy, without its `log` lines. */
export function witnessLinesOf(policyText: string): string {
  return policyText
    .split('\n')
    .filter((l) => !/^\s*log\s/.test(l))
    .join('\n');
}

export interface RunningSite {
  readonly site: DataSite;
  readonly url: string;
  close(): Promise<void>;
}

/** Where a site takes its vendor verdict lists from. */
export interface VerdictFollowing {
  /** An agent directory initialised with the trust bundle (`agent init`): TUF, log and VSA state. */
  readonly dir: string;
  /** The `verdicts` release followed, and the source its provenance must name. */
  readonly name: string;
  readonly source: string;
  /** How often to look for a newer list. */
  readonly intervalMs: number;
}

/**
 * The site serves only verdict lists that passed every check an endpoint
 * applies to rules (`updateVerdicts`): the last verified list is imported
 * at start, then each newer one as it is published. A failed check keeps the
 * list the site has and is reported, never imported.
 */
async function followVerdicts(
  site: DataSite,
  id: string,
  follow: VerdictFollowing,
  io: Io,
): Promise<void> {
  const say = (line: string): void => {
    io.stderr(`site ${id}: verdicts: ${line}\n`);
  };
  const current = await currentVerdictList(follow.dir, follow.name);
  if (current !== undefined) {
    const n = await site.importVerdictList(current.list);
    say(`${n} verdicts of ${follow.name} ${current.release.version} (verified before)`);
  }
  const check = async (): Promise<void> => {
    const outcome = await updateVerdicts({
      dir: follow.dir,
      name: follow.name,
      source: follow.source,
    });
    if (outcome.status === 'fetched') {
      const n = await site.importVerdictList(outcome.list);
      say(
        `${n} verdicts of ${follow.name} ${outcome.release.version} imported ` +
          `(TUF both signatures, release log, VSA checked)`,
      );
    }
  };
  const notUpdated = (err: unknown): void => {
    say(`not updated: ${err instanceof Error ? err.message : String(err)}`);
  };
  await check().catch(notUpdated);
  site.every(follow.intervalMs, 'verdict list update', check, (_what, err) => {
    notUpdated(err);
  });
}

/** A data site: its storage, its witnessed ingest log, its own view of the residency log; served. */
export async function startSite(opts: {
  readonly id: string;
  readonly dir: string;
  readonly listen: string;
  readonly logSignerKey: string;
  readonly logVerifierKey: string;
  readonly trust: ResidencyTrust;
  readonly routerKeys: readonly KeyObject[];
  /** The access gateway's caller keys: they may read sealed batches (POST /v1/read). */
  readonly readerKeys?: readonly KeyObject[];
  readonly postgres?: string | undefined;
  readonly retentionDays?: number | undefined;
  /** The vendor verdict lists this site serves: fetched through the supervised channel. */
  readonly verdicts?: VerdictFollowing | undefined;
  readonly io: Io;
}): Promise<RunningSite> {
  const pinned = checkPinnedResidency(opts.trust);
  const view = viewOf(pinned, join(opts.dir, 'view'));
  view.start();
  let site: DataSite | undefined;
  try {
    site = await openSite({
      siteId: opts.id,
      logSignerKey: opts.logSignerKey,
      dir: opts.dir,
      postgres: opts.postgres,
      residency: view,
      // The ingest log publishes only checkpoints the residency log's witnesses cosigned.
      witnessing: {
        policy: parsePolicy(`log ${opts.logVerifierKey}\n${witnessLinesOf(opts.trust.logPolicy)}`),
      },
      ...(opts.retentionDays === undefined
        ? {}
        : { retention: { periodMs: opts.retentionDays * 86_400_000 } }),
      onError: (what, err) => {
        opts.io.stderr(
          `site ${opts.id}: ${what}: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      },
    });
    if (opts.verdicts !== undefined) await followVerdicts(site, opts.id, opts.verdicts, opts.io);
    const allowList = allowListOf([
      ...opts.routerKeys.map((k, i) => caller(`ingest router ${i + 1}`, k, SITE_WRITE_ROUTES)),
      ...(opts.readerKeys ?? []).map((k, i) =>
        caller(`access gateway ${i + 1}`, k, SITE_READ_ROUTES),
      ),
    ]);
    opts.io.stderr(formatCallers(`site ${opts.id}`, allowList));
    const app = buildSiteServer({ site, writers: { allowList } });
    const url = `${await listenOn(app, parseListen(opts.listen))}/`;
    const opened = site;
    return {
      site: opened,
      url,
      close: async () => {
        await app.close();
        await opened.close();
        await view.close();
      },
    };
  } catch (err) {
    await site?.close();
    await view.close();
    throw err;
  }
}

export interface RunningRouter {
  readonly router: IngestRouter;
  readonly url: string;
  close(): Promise<void>;
}

/** The ingest router: its own view, its outbox, the vendor's residency key to co-sign enrollments. */
export async function startRouter(opts: {
  readonly dir: string;
  readonly listen: string;
  readonly trust: ResidencyTrust;
  readonly vendorResidencyKey: KeyObject;
  readonly callerKey: KeyObject;
  /** Per-device limit on signed requests; the router's default when absent. */
  readonly deviceRateLimit?: { readonly burst: number; readonly perSecond: number };
}): Promise<RunningRouter> {
  const pinned = checkPinnedResidency(opts.trust);
  const view = viewOf(pinned, join(opts.dir, 'view'));
  const router = IngestRouter.open({
    ...(opts.deviceRateLimit === undefined ? {} : { deviceRateLimit: opts.deviceRateLimit }),
    view,
    dir: opts.dir,
    callerKey: seedOf(opts.callerKey),
    residencyLogUrl: pinned.logUrl,
    vendorResidencyKey: seedOf(opts.vendorResidencyKey),
  });
  const address = parseListen(opts.listen);
  let url: string;
  try {
    url = `${await router.listen(address.host, address.port)}/`;
  } catch (cause) {
    await router.close();
    throw new UsageError(`cannot listen on ${address.text}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return { router, url, close: () => router.close() };
}

/** The 32-byte seed of an Ed25519 private key (RFC 8032 §5.1.5), as the telemetry services take keys. */
export function seedOf(key: KeyObject): Uint8Array {
  const d = key.export({ format: 'jwk' }).d;
  if (typeof d !== 'string') throw new UsageError('not an Ed25519 private key');
  return new Uint8Array(Buffer.from(d, 'base64url'));
}

/** The raw public key of a private key. */
export function publicOf(key: KeyObject): Uint8Array {
  return rawPublicKey(createPublicKey(key));
}

/** The supervisor's residency monitor: the residency log and every site's ingest log. */
export function openResidencyMonitor(opts: {
  readonly dir: string;
  readonly trust: ResidencyTrust;
  readonly alerts: AlertSink;
  /** How long a log may stay unreachable before it is an alert (the monitor's default: 5 minutes). */
  readonly unreachableAlertMs?: number;
}): ResidencyMonitor {
  const pinned = checkPinnedResidency(opts.trust);
  return ResidencyMonitor.open({
    ...(opts.unreachableAlertMs === undefined
      ? {}
      : { unreachableAlertMs: opts.unreachableAlertMs }),
    residencyLogUrl: pinned.logUrl,
    residencyLogPolicy: opts.trust.logPolicy,
    keys: { vendorKey: pinned.vendorKey, supervisorKey: pinned.supervisorKey },
    dir: opts.dir,
    alerts: opts.alerts,
  });
}
