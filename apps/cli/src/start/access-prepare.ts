/**
 * The access half of `start`, before the release half runs: the keys of
 * the access path (the vendor's access log and index output log, the
 * gateway's and the index's caller keys, the demo principals' keys) and
 * the supervisor's witness told to cosign both logs — before the witness
 * starts, as it holds its database exclusively while it runs.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ensureCallerKey } from '../callers.js';
import { initGatewayDir, GATEWAY_KEY_FILE } from '../commands/gateway.js';
import { initDataDir } from '../commands/log.js';
import { trustLogInWitness } from '../commands/witness.js';
import type { StartContext } from './context.js';
import { dataPaths } from './data-prepare.js';

export const ACCESS_LOG_ORIGIN = 'localhost/glasshouse/access-log';
export const INDEX_LOG_ORIGIN = 'localhost/glasshouse/access-index';

/**
 * The demo principals: vendor staff registered with the supervisor (their
 * keys stay in the vendor's directory; the registry the supervisor signs
 * names their public keys, entity, office country and role).
 */
export const DEMO_PRINCIPALS = [
  { name: 'support', entity: 'Vendor AG', country: 'CH', role: 'support-engineer' },
  { name: 'analyst', entity: 'Vendor Inc', country: 'US', role: 'threat-analyst' },
  { name: 'oncall', entity: 'Vendor AG', country: 'CH', role: 'on-call-engineer' },
] as const;
export type DemoPrincipalName = (typeof DEMO_PRINCIPALS)[number]['name'];

/** Where the access half keeps its files under --data (one directory per party). */
export function accessPaths(data: string) {
  const vendor = join(data, 'vendor');
  const supervisor = join(data, 'supervisor');
  return {
    accessLog: join(vendor, 'access-log'),
    gateway: join(vendor, 'gateway'),
    gatewayKey: join(vendor, 'gateway', GATEWAY_KEY_FILE),
    principal: (name: string): string => join(vendor, 'principals', `${name}.key`),
    index: join(vendor, 'access-index'),
    indexKey: join(vendor, 'access-index', 'caller.key'),
    indexLog: join(vendor, 'access-index-log'),
    /** The supervisor's key release: the residency half's key-release directory, same key. */
    keyRelease: dataPaths(data).keyRelease,
    monitor: join(supervisor, 'access-monitor'),
    /** Public: the access log's and the index output log's c2sp.org/tlog-policy. */
    accessLogPolicy: join(data, 'access-log-policy.txt'),
    indexLogPolicy: join(data, 'access-index-log-policy.txt'),
    /** Public, written by the supervisor: the access policy and the signed principal registry. */
    accessPolicy: join(data, 'access-policy.json'),
    principals: join(data, 'principals.dsse.json'),
    /** Public: what a customer pins for `access mine` (both logs' policies and URLs, the index). */
    accessTrust: join(data, 'access-trust.json'),
    /** What the first start's demo did (the summary of later starts shows it). */
    demo: join(data, 'access-demo.json'),
  };
}
export type AccessPaths = ReturnType<typeof accessPaths>;

export interface PreparedAccess {
  readonly paths: AccessPaths;
  readonly accessLogVkey: string;
  readonly indexLogVkey: string;
  readonly gatewayKey: KeyObject;
  readonly indexKey: KeyObject;
  readonly principals: Readonly<Record<DemoPrincipalName, KeyObject>>;
}

export async function prepareAccessHalf(ctx: StartContext): Promise<PreparedAccess> {
  const paths = accessPaths(ctx.paths.data);
  const { verifierKey: accessLogVkey } = await initDataDir({
    dir: paths.accessLog,
    origin: ACCESS_LOG_ORIGIN,
  });
  const { verifierKey: indexLogVkey } = await initDataDir({
    dir: paths.indexLog,
    origin: INDEX_LOG_ORIGIN,
  });
  await initGatewayDir(paths.gateway);
  await mkdir(paths.index, { recursive: true, mode: 0o700 });
  await mkdir(join(paths.principal('x'), '..'), { recursive: true, mode: 0o700 });
  const principals = {} as Record<DemoPrincipalName, KeyObject>;
  for (const p of DEMO_PRINCIPALS)
    principals[p.name] = await ensureCallerKey(paths.principal(p.name));
  // The supervisor's witness cosigns both logs (it learns them before it runs).
  for (const vkey of [accessLogVkey, indexLogVkey]) {
    await trustLogInWitness({ dir: ctx.paths.witness, vkey });
  }
  return {
    paths,
    accessLogVkey,
    indexLogVkey,
    gatewayKey: await ensureCallerKey(paths.gatewayKey),
    indexKey: await ensureCallerKey(paths.indexKey),
    principals,
  };
}
