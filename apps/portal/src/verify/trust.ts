/**
 * The trust bundle as the page uses it: fetched from the repository, its
 * SHA-256 the fingerprint the portal's operator pinned, both root-key
 * signatures checked by @glasshouse/release-format's openTrustBundle.
 */
import { sha256Hex } from '@glasshouse/attest';
import {
  openTrustBundle,
  verifyTrustBundleFingerprint,
  type TrustBundle,
} from '@glasshouse/release-format';
import type { PortalConfig } from '../config.js';
import { step, type Check } from './check.js';
import { fetchBytes, type Fetcher } from './fetch.js';

export const TRUST_BUNDLE_PATH = '.well-known/glasshouse/trust-bundle.json';

export function openPinnedTrustBundle(
  config: PortalConfig,
  repo: string,
  fetcher?: Fetcher,
): Promise<{ check: Check; value: TrustBundle | undefined }> {
  return step(
    {
      id: 'trust-bundle',
      title: 'Trust bundle',
      what: "The trust bundle is a DSSE envelope signed by the vendor's and the supervisor's TUF root keys, both root-role keys of the TUF root it carries (TUF 4.3); its SHA-256 must be the fingerprint the portal's operator pinned.",
    },
    async () => {
      const bytes = await fetchBytes(`${repo}${TRUST_BUNDLE_PATH}`, fetcher);
      const fingerprint = sha256Hex(bytes);
      if (config.trustBundleFingerprint !== null) {
        verifyTrustBundleFingerprint(bytes, config.trustBundleFingerprint);
      }
      const bundle = openTrustBundle(bytes);
      return {
        value: bundle,
        summary: `both root signatures valid; sha256 ${fingerprint}${config.trustBundleFingerprint === null ? ' (no fingerprint pinned)' : config.pinnedInUrl?.bundle === true ? " = the fingerprint pinned in this page's URL" : ' = the pinned fingerprint'}`,
        against: `TUF root v${String(bundle.tufRoot.signed.version)} root role; pinned ${config.trustBundleFingerprint ?? 'nothing'}${config.pinnedInUrl?.bundle === true ? ' (in the URL)' : ' (by the portal server)'}`,
        proof: [
          `sha256 ${fingerprint}`,
          `supervisor verifier ${bundle.supervisor.verifierId}`,
          `builder ${bundle.builder.builderId}`,
        ],
      };
    },
  );
}
