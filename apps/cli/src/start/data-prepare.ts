/**
 * The data half of `start`, before the release half runs: every key of the
 * data path (the vendor's residency signing key and its residency log, each
 * site's ingest-log key, the router's caller key; the supervisor's residency
 * signing key and its key-release key pair), and the supervisor's witness
 * told to cosign the residency log and both ingest logs — before the witness
 * starts, as it holds its database exclusively while it runs. Each key stays
 * in its party's directory; only public keys cross over.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureCallerKey } from '../callers.js';
import { initDataDir } from '../commands/log.js';
import { initWitnessDir, trustLogInWitness } from '../commands/witness.js';
import { initSiteDir, SITE_LOG_KEY_FILE } from '../commands/site.js';
import type { SupervisorResidencyKeys } from '@glasshouse/release-format';
import {
  KEY_RELEASE_PUBLIC,
  ensureKeyReleaseKey,
  partyKey,
  publicKeyBase64,
  readKeyReleasePublicKey,
} from '../residency/parties.js';
import type { StartContext } from './context.js';

/** The two sites of the demo policy: Zurich for NA, EU, AU, KR, JP, SG; the other for every other region. */
export const DEMO_SITES = [
  { id: 'ch-zrh', country: 'CH', city: 'Zurich' },
  { id: 'us-iad', country: 'US', city: 'Ashburn' },
] as const;
export type DemoSiteId = (typeof DEMO_SITES)[number]['id'];

export const RESIDENCY_LOG_ORIGIN = 'localhost/glasshouse/residency';
export { SITE_LOG_KEY_FILE };

/** Where the data half keeps its files under --data (one directory per party). */
export function dataPaths(data: string) {
  const vendor = join(data, 'vendor');
  const supervisor = join(data, 'supervisor');
  return {
    residencyLog: join(vendor, 'residency-log'),
    vendorResidencyKey: join(vendor, 'residency.key'),
    policyDir: join(vendor, 'residency-policy'),
    router: join(vendor, 'router'),
    routerKey: join(vendor, 'router', 'caller.key'),
    site: (id: string): string => join(vendor, 'sites', id),
    supervisorResidencyKey: join(supervisor, 'residency.key'),
    keyRelease: join(supervisor, 'key-release'),
    monitor: join(supervisor, 'residency-monitor'),
    /** Public: the residency log's c2sp.org/tlog-policy. */
    residencyLogPolicy: join(data, 'residency-log-policy.txt'),
    /** Public: what an endpoint pins for telemetry (also in the trust bundle). */
    residencyTrust: join(data, 'residency-trust.json'),
    customer: (name: string): string => join(data, 'customers', name),
    endpoint: (region: string): string => join(data, `endpoint-${region.toLowerCase()}`),
  };
}
export type DataPaths = ReturnType<typeof dataPaths>;

/**
 * The supervisor's residency keys as it holds them in its own directory
 * (never as the vendor's draft names them), or undefined before the data
 * half made them: what it checks a trust bundle's residency field against.
 */
export async function supervisorResidencyKeys(
  data: string,
): Promise<SupervisorResidencyKeys | undefined> {
  const paths = dataPaths(data);
  const keyReleasePub = join(paths.keyRelease, KEY_RELEASE_PUBLIC);
  if (!existsSync(paths.supervisorResidencyKey) || !existsSync(keyReleasePub)) return undefined;
  return {
    supervisorKey: publicKeyBase64(await partyKey(paths.supervisorResidencyKey)),
    keyRelease: Buffer.from(await readKeyReleasePublicKey(keyReleasePub)).toString('base64'),
  };
}

/** The public keys the later phases need. */
export interface PreparedData {
  readonly paths: DataPaths;
  readonly residencyLogVkey: string;
  readonly siteVkeys: Readonly<Record<DemoSiteId, string>>;
  readonly vendorKey: string;
  readonly supervisorKey: string;
  readonly keyRelease: string;
  readonly keyReleaseId: string;
}

export async function prepareDataHalf(ctx: StartContext): Promise<PreparedData> {
  const paths = dataPaths(ctx.paths.data);
  await mkdir(paths.router, { recursive: true, mode: 0o700 });
  // The vendor's keys.
  const vendorKey = publicKeyBase64(await partyKey(paths.vendorResidencyKey, true));
  await ensureCallerKey(paths.routerKey);
  const { verifierKey: residencyLogVkey } = await initDataDir({
    dir: paths.residencyLog,
    origin: RESIDENCY_LOG_ORIGIN,
  });
  const siteVkeys = {} as Record<DemoSiteId, string>;
  for (const site of DEMO_SITES)
    siteVkeys[site.id] = await initSiteDir(paths.site(site.id), site.id);
  // The supervisor's keys.
  await mkdir(ctx.paths.supervisor, { recursive: true, mode: 0o700 });
  const supervisorKey = publicKeyBase64(await partyKey(paths.supervisorResidencyKey, true));
  const keyRelease = await ensureKeyReleaseKey(paths.keyRelease);
  // The supervisor's witness cosigns the residency log and each ingest log
  // (initWitnessDir is what the release half runs too: harmless twice).
  await initWitnessDir({ dir: ctx.paths.witness, name: ctx.opts.witnessName });
  for (const vkey of [residencyLogVkey, ...Object.values(siteVkeys)]) {
    await trustLogInWitness({ dir: ctx.paths.witness, vkey });
  }
  return {
    paths,
    residencyLogVkey,
    siteVkeys,
    vendorKey,
    supervisorKey,
    keyRelease: Buffer.from(keyRelease.publicKey).toString('base64'),
    keyReleaseId: keyRelease.keyId,
  };
}
