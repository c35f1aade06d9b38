/**
 * Trust roots pinned in the page's URL. The portal-config comes from the
 * server that serves the page; a reviewer who does not trust that server
 * opens the page with the roots it got elsewhere:
 *
 *   https://portal.example/?pin=<sha256 of the trust bundle>&log=<sha256 of a log policy>#/releases
 *
 * `pin` is the trust bundle's SHA-256 (what `glasshouse` prints as its
 * fingerprint); each `log` the SHA-256 of one log's c2sp.org/tlog-policy
 * text. A config whose own fingerprint is another one, or with a log
 * whose policy is not pinned when any `log` is, is refused
 * (PORTAL_PIN_MISMATCH) before any page runs; with `pin`, the trust bundle
 * the repository serves must hash to it (release-format's fingerprint check).
 */
import { sha256Hex } from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import type { PortalConfig } from './config.js';

export interface UrlPins {
  readonly bundle: string | null;
  readonly logs: readonly string[];
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The pins of a URL's query (`location.search`); PORTAL_PIN_INVALID for a malformed one. */
export function pinsFromUrl(search: string): UrlPins {
  const q = new URLSearchParams(search);
  const bundles = q.getAll('pin').map((p) => p.toLowerCase());
  const logs = q.getAll('log').map((p) => p.toLowerCase());
  for (const p of [...bundles, ...logs]) {
    if (!SHA256.test(p)) {
      throw new CodedError(
        'PORTAL_PIN_INVALID',
        `the URL pins ${JSON.stringify(p)}, not a SHA-256 in hex`,
      );
    }
  }
  if (bundles.length > 1)
    throw new CodedError('PORTAL_PIN_INVALID', 'the URL pins more than one trust bundle');
  return { bundle: bundles[0] ?? null, logs };
}

/** The config with the URL's pins applied, or PORTAL_PIN_MISMATCH when its roots are not the pinned ones. */
export function applyPins(config: PortalConfig, pins: UrlPins): PortalConfig {
  if (pins.bundle === null && pins.logs.length === 0) return config;
  const fp = config.trustBundleFingerprint;
  if (pins.bundle !== null && fp !== null && fp !== pins.bundle) {
    throw new CodedError(
      'PORTAL_PIN_MISMATCH',
      `the portal's config pins trust bundle ${fp}, the URL ${pins.bundle}: this server's trust roots are not the ones you pinned`,
    );
  }
  if (pins.logs.length > 0) {
    const pinned = new Set(pins.logs);
    const served = new Map(
      config.logs.map((l) => [sha256Hex(new TextEncoder().encode(l.policyText)), l]),
    );
    for (const [digest, log] of served) {
      if (!pinned.has(digest)) {
        throw new CodedError(
          'PORTAL_PIN_MISMATCH',
          `the ${log.title}'s policy (sha256 ${digest}) is not one the URL pins`,
        );
      }
    }
    const absent = pins.logs.filter((d) => !served.has(d));
    if (absent.length > 0) {
      throw new CodedError(
        'PORTAL_PIN_MISMATCH',
        `the URL pins log policies the portal's config does not have: ${absent.join(', ')}`,
      );
    }
  }
  return {
    ...config,
    trustBundleFingerprint: pins.bundle ?? fp,
    pinnedInUrl: { bundle: pins.bundle !== null, logs: pins.logs.length },
  };
}
