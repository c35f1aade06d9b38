/**
 * Where each role of `start` keeps its files under --data: one directory per
 * role, never shared; the public files (policy, trust bundle) at the top.
 */
import { join } from 'node:path';

export function startPaths(data: string) {
  const vendor = join(data, 'vendor');
  const supervisor = join(data, 'supervisor');
  return {
    data,
    vendor,
    log: join(vendor, 'log'),
    assembly: join(vendor, 'assembly'),
    repo: join(vendor, 'repo'),
    /** The vendor's release engineer's caller key (PKCS#8 PEM): it requests builds. */
    engineerKey: join(vendor, 'release-engineer.key'),
    /** The layout public key endpoints pin (PEM), handed out by the vendor. */
    layoutKey: join(vendor, 'layout-key.pem'),
    supervisor,
    witness: join(supervisor, 'witness'),
    monitor: join(supervisor, 'monitor'),
    /** The supervisor's TUF public keys, handed to the vendor for the repository's root. */
    supervisorTufKeys: join(supervisor, 'tuf-keys.json'),
    /** Public: the release log's key and its witness quorum, for everyone who verifies. */
    policy: join(data, 'witness-policy.txt'),
    /** The demo's source repository (public source both the vendor and the supervisor build). */
    demoSource: join(data, 'demo-source'),
    /** The agent's own sources, built into its product release (start/product-source.ts). */
    productSource: join(data, 'agent-source'),
    /** The vendor verdict list's source (start/demo-verdicts.ts). */
    verdictsSource: join(data, 'verdicts-source'),
    /** The demo release's release-log entry, rebuilt from its TUF targets. */
    demoEntry: join(data, 'demo-release-log-entry.json'),
    /** Public: what an endpoint pins (`agent init --trust`), also served by the repository. */
    trustBundle: join(data, 'trust-bundle.json'),
    /** Where the summary's walk-through puts an endpoint. */
    endpoint: join(data, 'endpoint'),
  };
}

export type StartPaths = ReturnType<typeof startPaths>;
