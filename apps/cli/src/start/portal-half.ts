/**
 * The Transparency Center in `start`, brought up last: every log the stack
 * runs (the release log and the residency log from the trust bundle's
 * policies, each site's ingest log from the policy written here for it,
 * the access log and the index output log from the access half's policies;
 * one witness and quorum), the update repository and the assembly line,
 * served by `portal serve`'s server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseListen } from '../io.js';
import { type PortalAlertSource, startPortalServer } from '../portal/server.js';
import {
  logFromPolicy,
  portalDistDir,
  sourcesFromTrustBundle,
  uniqueIds,
} from '../portal/sources.js';
import type { HalfReport, StartContext } from './context.js';
import type { PreparedData } from './data-prepare.js';
import type { ReleaseHalf } from './release-half.js';
import { shownPath } from './summary.js';
import { writeWitnessPolicy } from './witness-policy.js';
import { readFile } from 'node:fs/promises';

/** Public: the c2sp.org/tlog-policy of a site's ingest log (the portal and any monitor read it). */
export function ingestLogPolicyPath(data: string, site: string): string {
  return join(data, `ingest-log-policy-${site}.txt`);
}

export async function startPortalHalf(
  ctx: StartContext,
  from: {
    readonly release: ReleaseHalf;
    readonly prepared: PreparedData;
    /** The data half's sites: id → base URL. */
    readonly sites: Readonly<Record<string, string>>;
    /** Policy files of further logs (the access half's), each shown when present. */
    readonly logPolicies: readonly string[];
    /** The monitors' alert files (release-log, repository, witness, residency, access). */
    readonly alerts: readonly PortalAlertSource[];
    /** The access index (its lookup is proxied for My data) and the demo customer's key file. */
    readonly accessIndex?: { readonly url: string; readonly demoCustomerKey: string };
    /** The access half's gateway (its public approvals lists) and access policy file, when it runs. */
    readonly access?: { readonly gatewayUrl: string; readonly accessPolicy: string } | undefined;
    readonly listen: string;
  },
): Promise<HalfReport> {
  const { release, prepared, sites, listen } = from;
  const bundle = sourcesFromTrustBundle(await readFile(ctx.paths.trustBundle));
  const ingest = [];
  for (const [id, url] of Object.entries(sites)) {
    const verifierKey = (prepared.siteVkeys as Readonly<Record<string, string>>)[id];
    if (verifierKey === undefined) continue;
    const policy = await writeWitnessPolicy(
      ingestLogPolicyPath(ctx.paths.data, id),
      {
        title: `the ${id} ingest log`,
        verifierKey,
        url: `${url.endsWith('/') ? url : `${url}/`}log/`,
      },
      release.localWitness,
    );
    ingest.push(logFromPolicy(policy));
  }
  const further = [];
  for (const path of from.logPolicies) {
    if (existsSync(path)) further.push(logFromPolicy(await readFile(path, 'utf8')));
  }
  const address = parseListen(listen);
  const portal = await startPortalServer({
    distDir: portalDistDir(),
    logs: uniqueIds([...bundle.logs, ...ingest, ...further]),
    repoUrl: bundle.repoUrl,
    assemblyUrl: release.assembly.url,
    accessIndexUrl: from.accessIndex?.url,
    gatewayUrl: from.access?.gatewayUrl,
    accessPolicy:
      from.access === undefined ? undefined : await readFile(from.access.accessPolicy, 'utf8'),
    trustBundleFingerprint: bundle.fingerprint,
    alerts: from.alerts,
    host: address.host,
    port: address.port,
  });
  ctx.closers.add(() => portal.close());
  ctx.say(`reviewers: Transparency Center at ${portal.url}`);
  // The same page with the trust bundle's fingerprint pinned in the URL: it
  // refuses (PORTAL_PIN_MISMATCH) a server whose trust roots are not these.
  const pinnedUrl = `${portal.url}?pin=${bundle.fingerprint}`;
  return {
    lines: [
      'transparency center (reviewers)',
      `  portal            ${portal.url}`,
      `                    ${bundle.logs.length + ingest.length + further.length} logs, releases, ${from.alerts.length} monitors' alerts; every check runs in the browser against the trust bundle ${bundle.fingerprint.slice(0, 16)}…`,
      `  pinned            ${pinnedUrl}`,
      '                    the same page, refusing a server whose trust bundle is not this one',
    ],
    tryIt: [
      '  # open the Transparency Center in a browser: every tick is a check your browser made',
      `  #   ${portal.url}`,
      "  # or pinned to the trust bundle's sha256 (the page refuses a server whose roots differ)",
      `  #   ${pinnedUrl}`,
      ...(from.accessIndex === undefined
        ? []
        : [
            "  # My data: every access to a customer's data, complete, checked in the browser; open the",
            "  # demo customer's key there (it is read in the browser, never sent anywhere)",
            `  #   ${portal.url}#/mine  key: ${shownPath(from.accessIndex.demoCustomerKey, ctx.io.cwd)}`,
          ]),
    ],
    ready: { portalUrl: portal.url, portalPinnedUrl: pinnedUrl },
  };
}
