/**
 * What `glasshouse portal serve` hands the page at ./portal-config.json:
 * the trust roots (each log's c2sp.org/tlog-policy: its key and its
 * witnesses' keys and quorum; the trust bundle's pinned fingerprint) and,
 * for each service, the same-origin path its public endpoints are proxied
 * at. The page checks the shape here; every signature it then verifies is
 * checked against these roots, never against keys a service sends.
 */
import { CodedError } from '@glasshouse/errors';
import { parsePolicy, type Policy } from '@glasshouse/tlog';

export const PORTAL_CONFIG_SCHEMA = 'glasshouse.portal-config/v1';

export interface PortalLog {
  readonly id: string;
  readonly title: string;
  /** The policy text as served (shown in explanations). */
  readonly policyText: string;
  readonly policy: Policy;
  /** Same-origin prefix of its tlog-tiles read API (…/checkpoint, …/tile/…). */
  readonly base: string;
  /** Policy witness name → same-origin prefix of that witness (c2sp.org/tlog-witness monitoring path). */
  readonly witnesses: Readonly<Record<string, string>>;
}

/** A monitor's alerts, served read-only by the portal (JSON lines). */
export interface PortalAlerts {
  readonly id: string;
  readonly title: string;
  /** Same-origin path of its alerts file. */
  readonly path: string;
}

export interface PortalConfig {
  readonly logs: readonly PortalLog[];
  /** Same-origin prefixes, or null when the stack runs no such service. */
  readonly repo: string | null;
  readonly assembly: string | null;
  /** The access index's lookup (GET <prefix><customer>), for My data. */
  readonly accessIndex: string | null;
  /** The access gateway's public lists (approval requests, break-glass accesses), or null. */
  readonly gateway: string | null;
  /** The access policy text (glasshouse.access-policy/v1) the operator configured, or null. */
  readonly accessPolicy: string | null;
  /** SHA-256 (hex) of the trust bundle the portal's operator pinned, or null. */
  readonly trustBundleFingerprint: string | null;
  /** What the page's URL pinned (pins.ts): the fingerprint above then is the URL's. */
  readonly pinnedInUrl?: { readonly bundle: boolean; readonly logs: number };
  /** The monitors' alerts (empty when the server names none). */
  readonly alerts: readonly PortalAlerts[];
}

const bad = (why: string): CodedError =>
  new CodedError('PORTAL_CONFIG_INVALID', `portal-config.json: ${why}`);

const isPath = (v: unknown): v is string => typeof v === 'string' && /^\/[\x21-\x7e]*\/$/.test(v);

export function parsePortalConfig(value: unknown): PortalConfig {
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const v = value as Record<string, unknown>;
  if (v.schema !== PORTAL_CONFIG_SCHEMA) throw bad(`schema is not ${PORTAL_CONFIG_SCHEMA}`);
  if (!Array.isArray(v.logs)) throw bad('logs is not a list');
  const logs = v.logs.map((l: unknown, i): PortalLog => {
    const log = (typeof l === 'object' && l !== null ? l : {}) as Record<string, unknown>;
    if (typeof log.id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(log.id)) throw bad(`logs[${i}].id`);
    if (typeof log.title !== 'string' || log.title === '') throw bad(`logs[${i}].title`);
    if (typeof log.policy !== 'string') throw bad(`logs[${i}].policy`);
    if (!isPath(log.base)) throw bad(`logs[${i}].base`);
    const policy = parsePolicy(log.policy);
    const witnesses: Record<string, string> = {};
    const given = (log.witnesses ?? {}) as Record<string, unknown>;
    if (typeof given !== 'object') throw bad(`logs[${i}].witnesses`);
    for (const [name, base] of Object.entries(given)) {
      if (!isPath(base) || !policy.witnesses.some((w) => w.name === name)) {
        throw bad(`logs[${i}].witnesses.${name}`);
      }
      witnesses[name] = base;
    }
    return {
      id: log.id,
      title: log.title,
      policyText: log.policy,
      policy,
      base: log.base,
      witnesses,
    };
  });
  const optionalPath = (k: string): string | null => {
    const p = v[k];
    if (p === null || p === undefined) return null;
    if (!isPath(p)) throw bad(k);
    return p;
  };
  const fp = v.trustBundleFingerprint;
  if (fp !== null && fp !== undefined && (typeof fp !== 'string' || !/^[0-9a-f]{64}$/.test(fp))) {
    throw bad('trustBundleFingerprint');
  }
  const given = v.alerts ?? [];
  if (!Array.isArray(given)) throw bad('alerts is not a list');
  const alerts = given.map((a: unknown, i): PortalAlerts => {
    const x = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
    if (typeof x.id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(x.id)) throw bad(`alerts[${i}].id`);
    if (typeof x.title !== 'string' || x.title === '') throw bad(`alerts[${i}].title`);
    if (typeof x.path !== 'string' || !/^\/[\x21-\x7e]*$/.test(x.path))
      throw bad(`alerts[${i}].path`);
    return { id: x.id, title: x.title, path: x.path };
  });
  const accessPolicy = v.accessPolicy;
  if (accessPolicy !== null && accessPolicy !== undefined && typeof accessPolicy !== 'string') {
    throw bad('accessPolicy');
  }
  return {
    logs,
    alerts,
    repo: optionalPath('repo'),
    assembly: optionalPath('assembly'),
    accessIndex: optionalPath('accessIndex'),
    gateway: optionalPath('gateway'),
    accessPolicy: accessPolicy ?? null,
    trustBundleFingerprint: typeof fp === 'string' ? fp : null,
  };
}
