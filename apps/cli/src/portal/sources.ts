/**
 * Where the portal's logs come from: the trust bundle (the release log's
 * witness policy and, with the data half, the residency log's) and any
 * further c2sp.org/tlog-policy file (an ingest log, the access log). Each
 * policy's `log` line carries the log's URL; its title is the one the
 * policy's header comment gives (`# c2sp.org/tlog-policy of the X, …`).
 */
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { CodedError } from '@glasshouse/errors';
import { openTrustBundle, trustBundleFingerprint } from '@glasshouse/release-format';
import { parsePolicy } from '@glasshouse/tlog';
import type { PortalAlertSource, PortalLogSource } from './server.js';

/** The portal's built files, from the @glasshouse/portal workspace. */
export function portalDistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@glasshouse/portal/package.json')), 'dist');
}

const slug = (title: string, fallback: string): string =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 64) || fallback;

/**
 * Alert files as the portal serves them: `TITLE=FILE` (or a bare FILE,
 * titled by its directory's name), each with a unique id from its title.
 */
export function alertSources(specs: readonly string[]): PortalAlertSource[] {
  const seen = new Map<string, number>();
  return specs.map((spec) => {
    const eq = spec.indexOf('=');
    const path = eq < 0 ? spec : spec.slice(eq + 1);
    const title = eq < 0 ? basename(dirname(path)) || 'alerts' : spec.slice(0, eq);
    const base = slug(title, 'alerts');
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { id: n === 1 ? base : `${base}-${n}`, title, path };
  });
}

/** A policy as a portal log: its URL from the log line, its title from the header comment. */
export function logFromPolicy(policy: string, fallbackTitle?: string): PortalLogSource {
  const parsed = parsePolicy(policy);
  const log = parsed.logs[0];
  if (parsed.logs.length !== 1 || log === undefined) {
    throw new CodedError(
      'PORTAL_POLICY_INVALID',
      'a log policy for the portal names exactly one log',
    );
  }
  if (log.url === undefined) {
    throw new CodedError(
      'PORTAL_POLICY_INVALID',
      `the policy of ${log.verifier.name} gives no URL on its log line`,
    );
  }
  const title =
    /^# c2sp\.org\/tlog-policy of (?:the )?(.+?), /m.exec(policy)?.[1] ??
    fallbackTitle ??
    log.verifier.name;
  const id = slug(title, 'log');
  const witnesses = Object.fromEntries(
    parsed.witnesses.flatMap((w) => (w.url === undefined ? [] : [[w.name, w.url]])),
  );
  return { id, title, policy, url: log.url.endsWith('/') ? log.url : `${log.url}/`, witnesses };
}

export interface TrustBundleSources {
  readonly logs: PortalLogSource[];
  readonly repoUrl: string;
  readonly fingerprint: string;
}

/** Opens the trust bundle (both root signatures checked) and takes its logs and repository. */
export function sourcesFromTrustBundle(bytes: Uint8Array): TrustBundleSources {
  const bundle = openTrustBundle(bytes);
  const logs = [logFromPolicy(bundle.witnessPolicy, 'release log')];
  if (bundle.residency !== undefined)
    logs.push(logFromPolicy(bundle.residency.logPolicy, 'residency log'));
  return { logs, repoUrl: bundle.repoUrl, fingerprint: trustBundleFingerprint(bytes) };
}

/** Logs with unique ids (a second log of the same title gets -2, -3, …). */
export function uniqueIds(logs: readonly PortalLogSource[]): PortalLogSource[] {
  const seen = new Map<string, number>();
  return logs.map((l) => {
    const n = (seen.get(l.id) ?? 0) + 1;
    seen.set(l.id, n);
    return n === 1 ? l : { ...l, id: `${l.id}-${n}` };
  });
}
