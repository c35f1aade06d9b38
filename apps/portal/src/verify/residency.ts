/**
 * The residency log, replayed in the browser: its checkpoint under the
 * trust bundle's residency log policy, every entry read from the entry
 * tiles and hashed back to the signed root, then folded with
 * @glasshouse/residency's ResidencyState — each policy version needs the
 * vendor's and the supervisor's signatures and must chain to the last, each
 * enrollment the customer's and the vendor's. What the page shows (the
 * policy in force, its history, the regions each site holds, enrollments per
 * region) is what that fold produced.
 */
import {
  decodePublicKey,
  diffPolicies,
  keyId,
  parseResidencyLogEntry,
  ResidencyState,
  type PolicyDiff,
  type ResidencyPolicy,
  type Site,
} from '@glasshouse/residency';
import { parsePolicy, type Checkpoint } from '@glasshouse/tlog';
import { fetchWitnessedCheckpoint } from './logs.js';
import type { PortalConfig } from '../config.js';
import { reasonOf, skipped, step, type Check } from './check.js';
import { ENTRIES_CHECK, replayEntries } from './entries.js';
import type { Fetcher } from './fetch.js';
import { verifySiteIngest, type SiteIngestReport } from './ingest.js';
import { openPinnedTrustBundle } from './trust.js';

export interface PolicySignature {
  /** Whose key the signature's keyid names (the bundle's vendor or supervisor residency key). */
  readonly party: 'vendor' | 'supervisor' | 'unknown key';
  readonly keyid: string;
  readonly sig: string;
}

export interface PolicyVersion {
  readonly index: bigint;
  readonly digest: string;
  readonly policy: ResidencyPolicy;
  /** The envelope's signatures (both verified by the fold before the version is listed). */
  readonly signatures: readonly PolicySignature[];
  /** What changed from the version before; undefined for the first. */
  readonly diff: PolicyDiff | undefined;
}

export interface ResidencyReport {
  readonly checks: readonly Check[];
  readonly versions: readonly PolicyVersion[];
  /** Latest enrollment's region of each customer, counted per region. */
  readonly enrollmentsByRegion: Readonly<Record<string, number>>;
  readonly size: bigint | undefined;
  /** Each site any version names (its latest definition), with its ingest log replayed. */
  readonly sites: readonly SiteIngestReport[];
  /** The fold itself (enrollments give customers' keys), once the entries reproduced the root. */
  readonly state?: ResidencyState;
}

/** `ingest: false` stops after the fold (the Access page needs only the customers' keys). */
export async function verifyResidency(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
  opts: { readonly ingest?: boolean } = {},
): Promise<ResidencyReport> {
  const checks: Check[] = [];
  const empty = { versions: [], enrollmentsByRegion: {}, size: undefined, sites: [] };
  const log = config.logs.find((l) => l.id === 'residency-log');
  if (config.repo === null || log === undefined) {
    return { ...empty, checks: [] };
  }
  const bundleStep = await openPinnedTrustBundle(config, config.repo, fetcher);
  checks.push(bundleStep.check);
  const residency = bundleStep.value?.residency;
  const cpCheck = {
    id: 'checkpoint',
    title: 'Residency log checkpoint',
    what: "The residency log's checkpoint is signed by the log key and cosigned to the quorum of the residency log policy the trust bundle carries (c2sp.org/tlog-policy).",
  };
  if (residency === undefined) {
    checks.push(skipped(cpCheck, 'the trust bundle names no residency log'));
    return { ...empty, checks };
  }
  const policy = parsePolicy(residency.logPolicy);
  const cpStep = await step(cpCheck, () =>
    fetchWitnessedCheckpoint(log.base, policy, residency.logPolicy, now, fetcher),
  );
  checks.push(cpStep.check);
  const cp: Checkpoint | undefined = cpStep.value;
  if (cp === undefined) {
    checks.push(skipped(ENTRIES_CHECK, 'no verified checkpoint'));
    return { ...empty, checks };
  }
  const entriesStep = await replayEntries(log.base, cp, fetcher);
  checks.push(entriesStep.check);
  const entries = entriesStep.value;
  if (entries === undefined) return { ...empty, checks, size: cp.size };

  // The fold: each entry's signatures and chaining, by the package the monitor uses.
  const vendorKey = decodePublicKey(residency.vendorKey);
  const supervisorKey = decodePublicKey(residency.supervisorKey);
  const state = ResidencyState.empty({ vendorKey, supervisorKey });
  const parties = new Map<string, PolicySignature['party']>([
    [keyId(vendorKey), 'vendor'],
    [keyId(supervisorKey), 'supervisor'],
  ]);
  const versions: PolicyVersion[] = [];
  const regionOf = new Map<string, string>();
  const refused: string[] = [];
  entries.forEach((bytes, i) => {
    try {
      const applied = state.apply(BigInt(i), bytes);
      if (applied.kind === 'policy') {
        const signatures = parseResidencyLogEntry(bytes).envelope.signatures.map(
          (sig): PolicySignature => ({ ...sig, party: parties.get(sig.keyid) ?? 'unknown key' }),
        );
        const before = versions.at(-1)?.policy;
        versions.push({
          index: applied.index,
          digest: applied.digest,
          policy: applied.policy,
          signatures,
          diff: before === undefined ? undefined : diffPolicies(before, applied.policy),
        });
      } else {
        regionOf.set(applied.enrollment.customer, applied.enrollment.region);
      }
    } catch (err) {
      refused.push(`entry ${i}: ${reasonOf(err)}`);
    }
  });
  const enrollmentsByRegion: Record<string, number> = {};
  for (const region of regionOf.values())
    enrollmentsByRegion[region] = (enrollmentsByRegion[region] ?? 0) + 1;
  const foldBase = {
    id: 'fold',
    title: 'Policies and enrollments',
    what: "Each entry replayed with @glasshouse/residency's ResidencyState: a policy version needs valid signatures by the vendor's and the supervisor's residency keys from the trust bundle and must follow the last version (version + 1, previous = its digest); an enrollment needs the customer's and the vendor's signatures and the next sequence number.",
    against: `vendor ${residency.vendorKey}\nsupervisor ${residency.supervisorKey}`,
  };
  checks.push(
    refused.length === 0
      ? {
          ...foldBase,
          verdict: 'pass',
          summary: `${versions.length} policy version(s), both signatures each, chained; ${regionOf.size} customer(s) enrolled`,
          proof: versions.map((v) => `v${v.policy.version} ${v.digest} at index ${v.index}`),
        }
      : {
          ...foldBase,
          verdict: 'fail',
          summary: `${refused.length} entr${refused.length === 1 ? 'y' : 'ies'} refused`,
          proof: refused,
        },
  );
  // Every site any logged version names, as its latest version defines it.
  const sites = new Map<string, Site>();
  for (const v of versions) for (const site of v.policy.sites) sites.set(site.id, site);
  const siteReports = await Promise.all(
    [...(opts.ingest === false ? [] : sites.values())].map((site) =>
      verifySiteIngest(config, site, state, now, fetcher),
    ),
  );
  return { checks, versions, enrollmentsByRegion, size: cp.size, sites: siteReports, state };
}
