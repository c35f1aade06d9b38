/**
 * The supervisor's place in TUF, when the agent pins its TUF key IDs:
 *
 * - the trusted root must list the supervisor's root key with a threshold
 *   of at least 2, and the `releases` delegation its release key with a
 *   threshold of at least 2 — so a `targets.json` signed by the vendor
 *   alone cannot delegate the releases elsewhere (distribution README);
 * - when tuf-js refuses `releases.json` for its signatures, which of the
 *   two organisations' signatures is missing.
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeCanonical } from '@glasshouse/attest';
import { AgentError } from './errors.js';
import { RELEASES_ROLE } from './tuf.js';

/** tuf-js's cap on targets metadata. */
const MAX_RELEASES_BYTES = 5_000_000;
/** SPKI DER prefix of an Ed25519 public key (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

interface RoleLike {
  keyids?: unknown;
  threshold?: unknown;
  name?: unknown;
}

/** Throws AGENT_TUF_SUPERVISOR_NOT_DELEGATED unless the supervisor holds its keys (see the module comment). */
export function checkSupervisorKeys(
  root: Record<string, unknown>,
  targets: Record<string, unknown>,
  pinned: { readonly root: string; readonly release: string },
): void {
  const rootRole = (root.roles as Record<string, RoleLike> | undefined)?.root;
  const releases = ((targets.delegations as { roles?: RoleLike[] } | undefined)?.roles ?? []).find(
    (r) => r.name === RELEASES_ROLE,
  );
  const holds = (role: RoleLike | undefined, keyid: string): boolean =>
    Array.isArray(role?.keyids) &&
    role.keyids.includes(keyid) &&
    typeof role.threshold === 'number' &&
    role.threshold >= 2;
  // TUF 5.3.4 (root) and 5.6.3 (delegated role): the role's keys and threshold decide.
  if (!holds(rootRole, pinned.root)) {
    throw new AgentError(
      'AGENT_TUF_SUPERVISOR_NOT_DELEGATED',
      "the trusted root does not need the supervisor's root key",
      { evidence: { root: rootRole ?? null, supervisorRootKey: pinned.root } },
    );
  }
  if (!holds(releases, pinned.release)) {
    throw new AgentError(
      'AGENT_TUF_SUPERVISOR_NOT_DELEGATED',
      "the releases role does not need the supervisor's release key",
      { evidence: { releases: releases ?? null, supervisorReleaseKey: pinned.release } },
    );
  }
}

/**
 * Refines tuf-js's "releases was signed by 1/2 keys" into whose signature
 * is missing: the candidate `releases.json` the trusted snapshot names is
 * fetched again and each delegated key's signature checked (TUF 4.2:
 * Ed25519 over the canonical JSON of `signed`). Returns `refused` itself
 * when the answer is not that simple (no pinned key, other failures).
 */
export async function diagnoseReleasesSignatures(
  refused: AgentError,
  options: {
    readonly metadataDir: string;
    readonly repoUrl: string;
    readonly supervisorRelease: string | undefined;
    readonly fetch?: typeof fetch;
  },
): Promise<AgentError> {
  if (options.supervisorRelease === undefined) return refused;
  try {
    const read = async (role: string): Promise<Record<string, unknown>> =>
      (
        JSON.parse(await readFile(join(options.metadataDir, `${role}.json`), 'utf8')) as {
          signed: Record<string, unknown>;
        }
      ).signed;
    const snapshot = await read('snapshot');
    const version = (snapshot.meta as Record<string, { version?: unknown }> | undefined)?.[
      `${RELEASES_ROLE}.json`
    ]?.version;
    if (typeof version !== 'number') return refused;
    const delegations = (await read('targets')).delegations as
      { keys?: Record<string, { keyval?: { public?: unknown } }>; roles?: RoleLike[] } | undefined;
    const role = delegations?.roles?.find((r) => r.name === RELEASES_ROLE);
    if (!Array.isArray(role?.keyids)) return refused;
    const res = await (options.fetch ?? fetch)(
      `${options.repoUrl}/metadata/${version}.${RELEASES_ROLE}.json`,
      { signal: AbortSignal.timeout(30_000) },
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    if (!res.ok || bytes.length > MAX_RELEASES_BYTES) return refused;
    const doc = JSON.parse(bytes.toString('utf8')) as {
      signed: unknown;
      signatures: { keyid?: unknown; sig?: unknown }[];
    };
    const message = encodeCanonical(doc.signed);
    const signedBy = (keyid: string): boolean => {
      const hex = delegations?.keys?.[keyid]?.keyval?.public;
      if (typeof hex !== 'string') return false;
      const key = createPublicKey({
        key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
        format: 'der',
        type: 'spki',
      });
      return doc.signatures.some(
        (s) =>
          s.keyid === keyid &&
          typeof s.sig === 'string' &&
          verify(null, message, key, Buffer.from(s.sig, 'hex')),
      );
    };
    const supervisor = options.supervisorRelease;
    const vendorKeys = (role.keyids as unknown[]).filter(
      (k): k is string => typeof k === 'string' && k !== supervisor,
    );
    const bySupervisor = signedBy(supervisor);
    const byVendor = vendorKeys.some(signedBy);
    if (byVendor && !bySupervisor) {
      return new AgentError(
        'AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING',
        "releases metadata without the supervisor's signature",
        { cause: refused, evidence: { version } },
      );
    }
    if (bySupervisor && !byVendor) {
      return new AgentError(
        'AGENT_TUF_VENDOR_SIGNATURE_MISSING',
        "releases metadata without the vendor's signature",
        { cause: refused, evidence: { version } },
      );
    }
    return refused;
  } catch {
    // Only a refinement: whatever stops it, the refusal stands as tuf-js made it.
    return refused;
  }
}
