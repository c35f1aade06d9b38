/**
 * The supervisor's part of the update repository: its three TUF keys (a
 * root key, so the vendor cannot rotate keys alone; a targets key, so the
 * vendor cannot re-delegate releases alone; a release key, so no release is
 * valid without it), the file that hands their public halves to the vendor,
 * and the checks it makes before it signs a draft.
 *
 *     <supervisor dir>/tuf-root.pem      mode 0600
 *     <supervisor dir>/tuf-targets.pem   mode 0600
 *     <supervisor dir>/tuf-release.pem   mode 0600
 */
import { join } from 'node:path';
import { parseLayoutMetablock } from '@glasshouse/attest';
import { BUILD_STEP_NAME } from '@glasshouse/release-format';
import { parseTlogProof } from '@glasshouse/tlog';
import { isErrno } from '@glasshouse/durable';
import { RELEASE_LOG_RECEIPT_NAME } from '@glasshouse/release-format';
import { DistributionError } from './errors.js';
import { isPlainObject } from './json.js';
import type { ApprovalLookup, ApprovedRelease } from './release-log-checker.js';
import { checkRootTargetsRole, checkTargetsDraft } from './targets-checks.js';
import {
  generateTufKey,
  loadTufKey,
  parseTufPublicKey,
  saveTufKey,
  tufKeyId,
  type TufPublicKey,
  type TufSignature,
  type TufSigningKey,
} from './tuf-keys.js';
import { RELEASES_ROLE, type TufMetadataDocument } from './tuf-metadata.js';
import { signDraft } from './repo-rules.js';
import type { SupervisorKeys } from './tuf-repo.js';

/** v2 adds the targets key; v1 files (root and release only) still parse. */
export const SUPERVISOR_TUF_KEYS_SCHEMA = 'glasshouse.supervisor-tuf-keys/v2';
const SUPERVISOR_TUF_KEYS_SCHEMA_V1 = 'glasshouse.supervisor-tuf-keys/v1';
const ROOT_KEY_FILE = 'tuf-root.pem';
const TARGETS_KEY_FILE = 'tuf-targets.pem';
const RELEASE_KEY_FILE = 'tuf-release.pem';

/** What a target of a release is, in its TUF `custom` (set by the vendor's publish). */
export interface ReleaseTargetCustom {
  readonly releaseId: string;
  /** `artifact` for the release's files; attestations and the release-log receipt otherwise. */
  readonly kind: 'artifact' | 'attestation' | 'release-log-receipt';
  /** For attestations: provenance, link, vsa, approval, review or layout. */
  readonly attestation?: string;
  readonly releaseLog?: { readonly origin: string; readonly index: string };
}

export interface SupervisorTufKeys {
  readonly root: TufSigningKey;
  readonly targets: TufSigningKey;
  readonly release: TufSigningKey;
}

/** The supervisor's TUF keys in `dir`, created (mode 0600) when missing. */
export async function ensureSupervisorTufKeys(dir: string): Promise<SupervisorTufKeys> {
  const load = async (file: string): Promise<TufSigningKey> => {
    const path = join(dir, file);
    try {
      return await loadTufKey(path);
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno((err as { cause?: unknown }).cause, 'ENOENT')) {
        throw err;
      }
    }
    const key = generateTufKey();
    await saveTufKey(path, key);
    return key;
  };
  return {
    root: await load(ROOT_KEY_FILE),
    targets: await load(TARGETS_KEY_FILE),
    release: await load(RELEASE_KEY_FILE),
  };
}

/**
 * The JSON file the supervisor hands to the vendor for `repo init
 * --supervisor-keys` (v2). Without a targets key it is a v1 file, which an
 * agent can pin but `repo init` refuses.
 */
export function formatSupervisorKeysFile(
  keys: Pick<SupervisorTufKeys, 'root' | 'release'> & { readonly targets?: TufSigningKey },
): string {
  const entry = (key: TufSigningKey) => ({ keyid: key.keyid, key: key.publicKey });
  return `${JSON.stringify(
    {
      schema:
        keys.targets === undefined ? SUPERVISOR_TUF_KEYS_SCHEMA_V1 : SUPERVISOR_TUF_KEYS_SCHEMA,
      root: entry(keys.root),
      ...(keys.targets === undefined ? {} : { targets: entry(keys.targets) }),
      release: entry(keys.release),
    },
    null,
    2,
  )}\n`;
}

/**
 * Parses that file; REPO_OPTION_INVALID when it is not one. A v1 file has
 * no targets key: `repo init` refuses it (the old scheme), an agent needs
 * only the root and release keys.
 */
export function parseSupervisorKeysFile(text: string): SupervisorKeys {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new DistributionError('REPO_OPTION_INVALID', 'the supervisor keys file is not JSON', {
      cause,
    });
  }
  if (
    !isPlainObject(value) ||
    (value.schema !== SUPERVISOR_TUF_KEYS_SCHEMA && value.schema !== SUPERVISOR_TUF_KEYS_SCHEMA_V1)
  ) {
    throw new DistributionError(
      'REPO_OPTION_INVALID',
      `the supervisor keys file is not ${SUPERVISOR_TUF_KEYS_SCHEMA}`,
    );
  }
  const key = (field: 'root' | 'targets' | 'release'): TufPublicKey => {
    const entry = value[field];
    if (!isPlainObject(entry)) {
      throw new DistributionError(
        'REPO_OPTION_INVALID',
        `the supervisor keys file has no ${field}`,
      );
    }
    const parsed = parseTufPublicKey(entry.key);
    if (entry.keyid !== undefined && entry.keyid !== tufKeyId(parsed)) {
      throw new DistributionError('REPO_OPTION_INVALID', `the ${field} keyid is not its key's`);
    }
    return parsed;
  };
  return {
    root: key('root'),
    ...(value.schema === SUPERVISOR_TUF_KEYS_SCHEMA ? { targets: key('targets') } : {}),
    release: key('release'),
  };
}

/**
 * Signs a root draft with the supervisor's root key after checking what it
 * agrees to: its root key is one of the root role's keys and the root
 * threshold is at least 2, so neither organisation can rotate keys alone
 * (TUF 5.3.4); its release key is not required here (the delegation is in
 * targets metadata), but the draft must not make the supervisor's key the
 * only root key either.
 */
export function signRootDraftAsSupervisor(
  draft: TufMetadataDocument,
  keys: SupervisorTufKeys,
): TufSignature {
  const signed = draft.signed as {
    _type?: unknown;
    roles?: { root?: { keyids?: unknown; threshold?: unknown } };
  };
  const root = signed.roles?.root;
  const keyids = Array.isArray(root?.keyids) ? (root.keyids as unknown[]) : [];
  if (signed._type !== 'root' || !keyids.includes(keys.root.keyid)) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      "the root draft does not list the supervisor's root key",
    );
  }
  if (typeof root?.threshold !== 'number' || root.threshold < 2 || keyids.length < 2) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      'the root draft lets one organisation sign root alone (threshold below 2)',
      { evidence: { threshold: root?.threshold } },
    );
  }
  // TUF 4.2 KEYID: clients look keys up by ID, so the ID must be our key's, not another key's.
  const listed = (signed as { keys?: Record<string, unknown> }).keys?.[keys.root.keyid];
  if (!isKey(listed, keys.root.keyid)) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      "the root draft lists another key under the supervisor's root key ID",
    );
  }
  checkRootTargetsRole(draft.signed, keys.targets.publicKey);
  return signDraft(draft, keys.root);
}

/**
 * Signs a targets draft with the supervisor's targets key after
 * `checkTargetsDraft` (targets-checks.ts): the releases delegation still
 * names the vendor's release key of `published` and the supervisor's, with
 * threshold 2, no target is listed at top level, and nothing else changed.
 */
export function signTargetsDraftAsSupervisor(options: {
  draft: TufMetadataDocument;
  /** The published targets' version and its vendor release key; undefined before v1. */
  published: { version: number; vendorRelease: TufPublicKey } | undefined;
  keys: SupervisorTufKeys;
}): TufSignature {
  checkTargetsDraft(options.draft, {
    supervisorRelease: options.keys.release.publicKey,
    vendorRelease: options.published?.vendorRelease,
    version: (options.published?.version ?? 0) + 1,
  });
  return signDraft(options.draft, options.keys.targets);
}

/**
 * Signs a releases draft with the supervisor's release key only when every
 * target that is new relative to `published` (the target names and hashes
 * of the last published releases metadata) belongs to a release this
 * supervisor approved, under that release's `<name>/<version>/`:
 *
 * - an artifact: `<name>/<version>/<artifact>` with an approved artifact's
 *   name and SHA-256;
 * - an attestation: the approval itself or one of its evidence digests
 *   (provenance, links, reviews, VSA), or the release's in-toto layout —
 *   fetched and checked: a `build` step of threshold 2 naming this
 *   supervisor's key, whose products are exactly the approved artifacts;
 * - the release-log receipt: `<name>/<version>/release-log.tlog-proof`,
 *   fetched and parsed as a c2sp.org/tlog-proof.
 *
 * RELEASES_DRAFT_REFUSED names the first target that fails.
 */
export async function signReleasesDraftAsSupervisor(options: {
  draft: TufMetadataDocument;
  published: ReadonlyMap<string, string>;
  approvals: ApprovalLookup;
  keys: SupervisorTufKeys;
  /** The bytes of a draft target (checked against its SHA-256 by the caller). */
  fetchTarget: (name: string, sha256: string) => Promise<Uint8Array>;
}): Promise<TufSignature> {
  const signed = options.draft.signed as { _type?: unknown; targets?: unknown };
  if (signed._type !== 'targets' || !isPlainObject(signed.targets)) {
    throw new DistributionError('DRAFT_MALFORMED', `not a ${RELEASES_ROLE} draft`);
  }
  for (const [name, info] of Object.entries(signed.targets)) {
    const target = info as { hashes?: { sha256?: unknown }; custom?: unknown };
    const sha256 = target.hashes?.sha256;
    if (typeof sha256 !== 'string') refuse(name, 'has no sha256');
    if (options.published.get(name) === sha256) continue;
    if (options.published.has(name)) refuse(name, 'changes a published target');
    const why = await targetNotApproved(name, sha256, target.custom, options);
    if (why !== undefined) refuse(name, why);
  }
  return signDraft(options.draft, options.keys.release);
}

/**
 * Why the target `name` (SHA-256 `sha256`, TUF `custom`) is not part of a
 * release the supervisor approved, or undefined when it is (the rules of
 * `signReleasesDraftAsSupervisor`).
 */
export async function targetNotApproved(
  name: string,
  sha256: string,
  customJson: unknown,
  options: {
    approvals: ApprovalLookup;
    fetchTarget: (name: string, sha256: string) => Promise<Uint8Array>;
  },
): Promise<string | undefined> {
  const custom = customJson as Partial<ReleaseTargetCustom> | undefined;
  if (typeof custom?.releaseId !== 'string') return 'names no release';
  const approvals: readonly ApprovedRelease[] = await options.approvals.approvals(custom.releaseId);
  for (const a of approvals) {
    const prefix = `${a.name}/${a.version}/`;
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    let accepted = false;
    switch (custom.kind) {
      case 'artifact':
        accepted = a.subjects.some((s) => s.name === rest && s.sha256 === sha256);
        break;
      case 'attestation':
        accepted =
          a.approvalSha256 === sha256 ||
          a.evidence.includes(sha256) ||
          (custom.attestation === 'layout' &&
            layoutNamesApproval(
              await options.fetchTarget(name, sha256),
              a.subjects.map((s) => s.name),
              options.approvals.supervisorKeyid,
            ));
        break;
      case 'release-log-receipt':
        accepted =
          rest === RELEASE_LOG_RECEIPT_NAME && isTlogProof(await options.fetchTarget(name, sha256));
        break;
      case undefined:
        accepted = false;
        break;
    }
    if (accepted) return undefined;
  }
  return `is not part of an approval of release ${custom.releaseId}`;
}

/** in-toto-spec §4.3: a layout whose `build` step needs this supervisor and creates exactly `artifacts`. */
function layoutNamesApproval(
  bytes: Uint8Array,
  artifacts: readonly string[],
  supervisorKeyid: string,
): boolean {
  let layout;
  try {
    layout = parseLayoutMetablock(bytes).signed;
  } catch {
    // Not a layout at all: not acceptable as one.
    return false;
  }
  const build = layout.steps.find((s) => s.name === BUILD_STEP_NAME);
  if (build === undefined || build.threshold < 2 || !build.pubkeys.includes(supervisorKeyid)) {
    return false;
  }
  const created = build.expected_products
    .filter((rule) => rule[0]?.toUpperCase() === 'CREATE')
    .map((rule) => rule[1] ?? '')
    .sort();
  const approved = [...artifacts].sort();
  return created.length === approved.length && created.every((c, i) => c === approved[i]);
}

function isTlogProof(bytes: Uint8Array): boolean {
  try {
    parseTlogProof(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return true;
  } catch {
    // Not a receipt.
    return false;
  }
}

function isKey(value: unknown, keyid: string): boolean {
  try {
    return tufKeyId(parseTufPublicKey(value)) === keyid;
  } catch {
    // Not a key we use: not that key.
    return false;
  }
}

function refuse(name: string, why: string): never {
  throw new DistributionError('RELEASES_DRAFT_REFUSED', `target ${name} ${why}`, {
    evidence: { target: name },
  });
}
