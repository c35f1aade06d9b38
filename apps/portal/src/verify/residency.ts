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
import { CodedError } from '@glasshouse/errors';
import { decodePublicKey, ResidencyState, type ResidencyPolicy } from '@glasshouse/residency';
import {
  bytesEqual,
  CompactRange,
  decodeBundle,
  encodeBase64,
  hashLeaf,
  parsePolicy,
  tilePath,
  verifyCheckpointWithPolicy,
  type Checkpoint,
} from '@glasshouse/tlog';
import type { PortalConfig } from '../config.js';
import { reasonOf, skipped, step, type Check } from './check.js';
import { fetchBytes, fetchText, type Fetcher } from './fetch.js';
import { openPinnedTrustBundle } from './trust.js';

/** Entries the page replays at most (the residency log holds policies and enrollments: small). */
export const MAX_REPLAYED_ENTRIES = 100_000;
const WIDTH = 256;

export interface PolicyVersion {
  readonly index: bigint;
  readonly digest: string;
  readonly policy: ResidencyPolicy;
}

export interface ResidencyReport {
  readonly checks: readonly Check[];
  readonly versions: readonly PolicyVersion[];
  /** Latest enrollment's region of each customer, counted per region. */
  readonly enrollmentsByRegion: Readonly<Record<string, number>>;
  readonly size: bigint | undefined;
}

async function readEntries(base: string, size: bigint, fetcher?: Fetcher): Promise<Uint8Array[]> {
  const entries: Uint8Array[] = [];
  for (let k = 0n; k * BigInt(WIDTH) < size; k++) {
    const width = Number(
      size - k * BigInt(WIDTH) < BigInt(WIDTH) ? size - k * BigInt(WIDTH) : BigInt(WIDTH),
    );
    let bytes: Uint8Array;
    try {
      bytes = await fetchBytes(`${base}${tilePath({ kind: 'entries', index: k, width })}`, fetcher);
    } catch (err) {
      // c2sp.org/tlog-tiles: a partial bundle may be gone once the full one exists.
      if (width === WIDTH) throw err;
      bytes = await fetchBytes(
        `${base}${tilePath({ kind: 'entries', index: k, width: WIDTH })}`,
        fetcher,
      );
    }
    const bundle = decodeBundle(bytes, { maxEntries: WIDTH });
    if (bundle.length < width) {
      throw new CodedError(
        'PORTAL_ENTRIES_SHORT',
        `entry bundle ${k} has ${bundle.length} entries, want ${width}`,
      );
    }
    entries.push(...bundle.slice(0, width));
  }
  return entries;
}

export async function verifyResidency(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
): Promise<ResidencyReport> {
  const checks: Check[] = [];
  const empty = { versions: [], enrollmentsByRegion: {}, size: undefined };
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
  const cpStep = await step(cpCheck, async () => {
    const note = await fetchText(`${log.base}checkpoint`, fetcher);
    const v = verifyCheckpointWithPolicy(note, policy, {
      now: BigInt(Math.floor(now.getTime() / 1000)),
    });
    return {
      value: v.checkpoint,
      summary: `size ${v.checkpoint.size}, cosigned by ${v.cosigners.join(', ')}`,
      against: residency.logPolicy,
      proof: [note],
    };
  });
  checks.push(cpStep.check);
  const cp: Checkpoint | undefined = cpStep.value;
  const entriesCheck = {
    id: 'entries',
    title: 'Every entry, hashed to the root',
    what: 'Every entry of the log, read from its entry bundles (c2sp.org/tlog-tiles), hashed as RFC 9162 leaves into a tree whose root must be the signed one: nothing left out, nothing changed.',
  };
  if (cp === undefined) {
    checks.push(skipped(entriesCheck, 'no verified checkpoint'));
    return { ...empty, checks };
  }
  const entriesStep = await step(entriesCheck, async () => {
    if (cp.size > BigInt(MAX_REPLAYED_ENTRIES)) {
      throw new CodedError(
        'PORTAL_LOG_TOO_LARGE',
        `${cp.size} entries; the page replays at most ${MAX_REPLAYED_ENTRIES}`,
      );
    }
    const entries = await readEntries(log.base, cp.size, fetcher);
    const tree = new CompactRange();
    for (const e of entries) tree.append(hashLeaf(e));
    const root = tree.root();
    if (!bytesEqual(root, cp.rootHash)) {
      throw new CodedError(
        'PORTAL_ENTRIES_ROOT_MISMATCH',
        `the entries hash to ${encodeBase64(root)}, the checkpoint signs ${encodeBase64(cp.rootHash)}`,
      );
    }
    return {
      value: entries,
      summary: `${entries.length} entries reproduce root ${encodeBase64(root)}`,
    };
  });
  checks.push(entriesStep.check);
  const entries = entriesStep.value;
  if (entries === undefined) return { ...empty, checks, size: cp.size };

  // The fold: each entry's signatures and chaining, by the package the monitor uses.
  const state = ResidencyState.empty({
    vendorKey: decodePublicKey(residency.vendorKey),
    supervisorKey: decodePublicKey(residency.supervisorKey),
  });
  const versions: PolicyVersion[] = [];
  const regionOf = new Map<string, string>();
  const refused: string[] = [];
  entries.forEach((bytes, i) => {
    try {
      const applied = state.apply(BigInt(i), bytes);
      if (applied.kind === 'policy') {
        versions.push({ index: applied.index, digest: applied.digest, policy: applied.policy });
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
  return { checks, versions, enrollmentsByRegion, size: cp.size };
}
