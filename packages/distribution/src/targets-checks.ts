/**
 * What the supervisor requires of the repository's top-level metadata
 * before it signs: the `targets` role needs its key (in root), and
 * `targets.json` says exactly one thing — every path delegated, terminating,
 * to `releases`, whose keys are the vendor's and the supervisor's release
 * keys with threshold 2. Pure: JSON in, nothing or a coded error out; each
 * refusal's code names the change.
 */
import { encodeCanonical } from '@glasshouse/attest';
import { MetadataKind } from '@tufjs/models';
import { DistributionError } from './errors.js';
import { isPlainObject } from './json.js';
import { parseTufPublicKey, tufKeyId, type TufPublicKey } from './tuf-keys.js';
import {
  RELEASES_ROLE,
  buildTopLevelTargets,
  parseMetadataJson,
  type JsonObject,
} from './tuf-metadata.js';

/** What a targets draft is checked against. */
export interface TargetsExpectation {
  /** The supervisor's release key: one of the two keys of `releases`. */
  readonly supervisorRelease: TufPublicKey;
  /**
   * The vendor's release key as the published targets names it; undefined
   * for targets v1, where the vendor introduces it (and `repo init` prints it).
   */
  readonly vendorRelease?: TufPublicKey | undefined;
  /** The version the draft must have (the published one plus 1). */
  readonly version: number;
}

/**
 * Throws unless `draft` (a `{signed, signatures}` targets document) is the
 * two-party delegation and nothing else:
 *
 * - `TARGETS_TOP_LEVEL_TARGET`: it lists a target itself;
 * - `TARGETS_THRESHOLD_LOWERED`: `releases` needs fewer than 2 signatures;
 * - `TARGETS_KEY_SWAPPED`: `releases` does not name exactly the vendor's
 *   and the supervisor's release keys, or a key ID is not its key's;
 * - `TARGETS_DELEGATION_CHANGED`: any other change (another role, paths,
 *   `terminating`, an unknown field);
 * - `DRAFT_MALFORMED`: not targets metadata, or not the expected version.
 */
export function checkTargetsDraft(draft: unknown, expected: TargetsExpectation): void {
  const metadata = parseMetadataJson(
    draft,
    MetadataKind.Targets,
    'DRAFT_MALFORMED',
    'targets draft',
  );
  const signed = (draft as { signed: JsonObject }).signed;
  if (metadata.signed.version !== expected.version) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      `the targets draft is version ${metadata.signed.version}, not ${expected.version}`,
    );
  }
  // TUF 4.5: top-level targets could list a target no one else signed; ours delegates all.
  const listed = Object.keys(metadata.signed.targets);
  if (listed.length > 0) {
    throw new DistributionError(
      'TARGETS_TOP_LEVEL_TARGET',
      `the targets draft lists ${listed.length} target(s) itself`,
      { evidence: { targets: listed.slice(0, 20) } },
    );
  }
  const delegations = isPlainObject(signed.delegations) ? signed.delegations : undefined;
  const roles = Array.isArray(delegations?.roles) ? (delegations.roles as unknown[]) : [];
  const names = roles.map((r) => (isPlainObject(r) ? r.name : undefined));
  const releases = roles.find((r) => isPlainObject(r) && r.name === RELEASES_ROLE);
  if (roles.length !== 1 || !isPlainObject(releases)) {
    throw new DistributionError(
      'TARGETS_DELEGATION_CHANGED',
      `the targets draft must delegate to ${RELEASES_ROLE} alone`,
      { evidence: { roles: names } },
    );
  }
  // TUF 5.6.3: the delegated role is trusted at its threshold of its keys.
  const threshold = releases.threshold;
  if (typeof threshold !== 'number' || threshold < 2) {
    throw new DistributionError(
      'TARGETS_THRESHOLD_LOWERED',
      `the ${RELEASES_ROLE} delegation's threshold is ${String(threshold)}, not 2`,
      { evidence: { threshold } },
    );
  }
  const keys = checkDelegatedKeys(delegations?.keys, releases.keyids, expected);
  // Anything else differs from the one delegation we build (TUF 4.5 fields).
  const canonical = buildTopLevelTargets({
    version: metadata.signed.version,
    expires: metadata.signed.expires,
    releases: { keys, threshold: 2 },
  });
  if (!Buffer.from(encodeCanonical(signed)).equals(encodeCanonical(canonical.signed.toJSON()))) {
    throw new DistributionError(
      'TARGETS_DELEGATION_CHANGED',
      'the targets draft differs from the two-party delegation (paths, terminating or other fields)',
      { evidence: { delegations: delegations ?? null } },
    );
  }
}

/** The release keys in the draft's order, checked; TARGETS_KEY_SWAPPED otherwise. */
function checkDelegatedKeys(
  keysJson: unknown,
  keyids: unknown,
  expected: TargetsExpectation,
): TufPublicKey[] {
  const supervisorId = tufKeyId(expected.supervisorRelease);
  const vendorId =
    expected.vendorRelease === undefined ? undefined : tufKeyId(expected.vendorRelease);
  const ids = Array.isArray(keyids) ? keyids : [];
  const swapped = (why: string): DistributionError =>
    new DistributionError('TARGETS_KEY_SWAPPED', `the ${RELEASES_ROLE} keys: ${why}`, {
      evidence: { keyids: ids, supervisor: supervisorId, vendor: vendorId ?? null },
    });
  if (ids.length !== 2 || new Set(ids).size !== 2 || !ids.includes(supervisorId)) {
    throw swapped("not the vendor's and the supervisor's release keys");
  }
  const vendor: unknown = ids.find((id) => id !== supervisorId);
  if (vendorId !== undefined && vendor !== vendorId) {
    throw swapped("the vendor's release key is not the published one");
  }
  const keys = isPlainObject(keysJson) ? keysJson : {};
  return ids.map((id) => {
    let key: TufPublicKey;
    try {
      key = parseTufPublicKey(keys[id as string]);
    } catch (cause) {
      throw new DistributionError('TARGETS_KEY_SWAPPED', `key ${String(id)} is not a key we use`, {
        cause,
      });
    }
    // TUF 4.2 KEYID: the hash of the key; clients look keys up by ID without recomputing it.
    if (tufKeyId(key) !== id) throw swapped(`key ID ${String(id)} is not its key's`);
    return key;
  });
}

/**
 * Throws `TARGETS_ROLE_NOT_TWO_PARTY` unless the root (its `signed` JSON)
 * makes `targets` need the supervisor's targets key: listed, under its own
 * key ID, in a role of at least two keys with threshold at least 2
 * (TUF 5.6.3: targets is trusted at the root's threshold for it).
 */
export function checkRootTargetsRole(signed: unknown, supervisorTargets: TufPublicKey): void {
  const root = isPlainObject(signed) ? signed : {};
  const roles = isPlainObject(root.roles) ? root.roles : {};
  const role = isPlainObject(roles.targets) ? roles.targets : {};
  const keyids = Array.isArray(role.keyids) ? (role.keyids as unknown[]) : [];
  const id = tufKeyId(supervisorTargets);
  const keys = isPlainObject(root.keys) ? root.keys : {};
  let listed: string | undefined;
  try {
    listed = tufKeyId(parseTufPublicKey(keys[id]));
  } catch {
    // Not a key we use under that ID: not the supervisor's.
    listed = undefined;
  }
  if (
    !keyids.includes(id) ||
    listed !== id ||
    new Set(keyids).size < 2 ||
    typeof role.threshold !== 'number' ||
    role.threshold < 2
  ) {
    throw new DistributionError(
      'TARGETS_ROLE_NOT_TWO_PARTY',
      "the root lets the vendor sign targets without the supervisor's targets key",
      { evidence: { targets: roles.targets ?? null, supervisorTargetsKey: id } },
    );
  }
}
