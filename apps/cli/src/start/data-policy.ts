/**
 * The demo residency policy: NA, EU, AU, KR, JP, SG → Zurich, every other
 * region → the second site. The vendor drafts and signs it, the supervisor
 * reads and co-signs it, and it is published in the residency log with a
 * witnessed receipt. A second start publishes nothing when the logged
 * policy already says the same (same sites, URLs, keys and regions); when
 * the sites moved (other ports), the next version, chained to the last.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkPinnedResidency, readResidencyView } from '@glasshouse/agent';
import type { ResidencyTrust } from '@glasshouse/release-format';
import { CodedError } from '@glasshouse/errors';
import {
  demoPolicy,
  encodePolicy,
  policyDigest,
  type ResidencyPolicy,
  type Site,
} from '@glasshouse/residency';
import { readCallerKey, signingFetch } from '../callers.js';
import { KEY_FILE_NAME } from '../commands/log.js';
import { partyKey } from '../residency/parties.js';
import { draftPolicy, publishPolicy, signPolicy } from '../residency/policy-files.js';
import { writeIfChanged } from './files.js';
import type { DataPaths } from './data-prepare.js';

export interface LoggedDemoPolicy {
  readonly version: number;
  readonly digest: string;
  readonly published: boolean;
}

/** What the policy maps, without its version, chain and time. */
function mapping(p: Pick<ResidencyPolicy, 'sites' | 'regions' | 'default'>): string {
  return JSON.stringify({ sites: p.sites, regions: p.regions, default: p.default ?? null });
}

export async function ensureDemoPolicy(opts: {
  paths: DataPaths;
  trust: ResidencyTrust;
  zurich: Site;
  other: Site;
  say: (line: string) => void;
}): Promise<LoggedDemoPolicy> {
  const wanted = demoPolicy({
    zurich: opts.zurich,
    other: opts.other,
    issuedAt: new Date().toISOString(),
  });
  const view = await readResidencyView(checkPinnedResidency(opts.trust));
  const logged = view.state.policy;
  if (logged !== null && mapping(logged.policy) === mapping(wanted)) {
    return { version: logged.policy.version, digest: logged.digest, published: false };
  }
  // The next version names the digest of the last logged one.
  const previousPayload = logged === null ? undefined : encodePolicy(logged.policy);
  if (previousPayload !== undefined && policyDigest(previousPayload) !== logged?.digest) {
    throw new CodedError(
      'START_RESIDENCY_POLICY',
      'the logged policy does not re-encode to its digest',
    );
  }
  const payload = draftPolicy({
    sites: wanted.sites,
    regions: wanted.regions,
    default: wanted.default,
    previousPayload,
    issuedAt: new Date(),
  });
  // The vendor signs what it drafted; the supervisor reads the same payload and co-signs.
  const vendorSigned = signPolicy(payload, await partyKey(opts.paths.vendorResidencyKey));
  const envelope = signPolicy(
    payload,
    await partyKey(opts.paths.supervisorResidencyKey),
    vendorSigned,
  );
  const version = logged === null ? 1 : logged.policy.version + 1;
  await mkdir(opts.paths.policyDir, { recursive: true });
  await writeIfChanged(join(opts.paths.policyDir, `v${version}.envelope.json`), envelope);
  const operator = await readCallerKey(join(opts.paths.residencyLog, KEY_FILE_NAME));
  const published = await publishPolicy({
    envelope,
    logUrl: checkPinnedResidency(opts.trust).logUrl,
    fetch: signingFetch(operator),
  });
  await writeIfChanged(
    join(opts.paths.policyDir, `v${version}.receipt.tlog-proof`),
    published.receipt,
  );
  opts.say(
    `vendor and supervisor: residency policy v${version} ${published.digest} logged at index ${published.index}`,
  );
  return { version, digest: published.digest, published: true };
}
