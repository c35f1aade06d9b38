/**
 * The vendor's TUF repository on disk, whose releases need the vendor's and
 * the supervisor's signatures.
 *
 * Roles (TUF 2.1): `root` (the vendor's and the supervisor's root keys,
 * threshold 2 by default), `targets` (the vendor's and the supervisor's
 * targets keys, threshold 2) delegating every path, terminating, to
 * `releases` (the vendor's and the supervisor's release keys, threshold 2),
 * and `snapshot` and `timestamp` (vendor online keys). Consistent snapshots
 * are on (TUF 6.2).
 *
 * The two organisations sign on different machines, so root, targets and
 * releases go through drafts: the vendor drafts and signs, the supervisor
 * inspects the draft and sends back a signature, and the draft is published
 * once a threshold has signed. A root draft and a targets draft pending
 * together (root v1, or a rotation that changes the targets role) are
 * published together. Layout of DIR:
 *
 *   config.json            expiries (written last by initRepository)
 *   keys/                  vendor private keys, PEM PKCS#8, mode 0600
 *   drafts/root.json       pending root, with the signatures so far
 *   drafts/targets.json    pending targets, with the signatures so far
 *   drafts/releases.json   pending releases, with the signatures so far
 *   metadata/              served as the metadata base URL
 *   targets/               served as the targets base URL
 *
 * Every write is atomic and durable. Operations on one DIR are serialised
 * within the process; one process owns a DIR.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { encodeCanonical, sha256Hex } from '@glasshouse/attest';
import {
  Metadata,
  MetadataKind,
  Signature,
  Targets,
  type MetaFile,
  type Root,
  type Snapshot,
  type TargetFile,
  type Timestamp,
} from '@tufjs/models';
import {
  ensureDirDurably,
  isErrno,
  removeFileDurably,
  writeFileDurably,
} from '@glasshouse/durable';
import { DistributionError } from './errors.js';
import { isPlainObject, parseJsonBytes } from './json.js';
import {
  generateTufKey,
  loadTufKey,
  parseTufPublicKey,
  parseTufSignature,
  saveTufKey,
  signMetadata,
  tufKeyId,
  verifyMetadataSignature,
  type AnyMetadata,
  type TufPublicKey,
  type TufSignature,
  type TufSigningKey,
} from './tuf-keys.js';
import {
  RELEASES_ROLE,
  buildReleases,
  buildRoot,
  buildSnapshot,
  buildTimestamp,
  buildTopLevelTargets,
  consistentTargetPath,
  expiresAfter,
  isExpiredAt,
  metaFileFor,
  metadataDocument,
  parseMetadataBytes,
  parseMetadataJson,
  serializeMetadata,
  targetFileFor,
  tufDateTime,
  validateTargetCustom,
  type JsonObject,
  type RoleKeys,
  type TufMetadataDocument,
} from './tuf-metadata.js';

const DAY = 86_400;

/** Lifetimes of each role's metadata, in seconds. */
export interface RepoExpiries {
  root: number;
  targets: number;
  releases: number;
  snapshot: number;
  timestamp: number;
}

/** Timestamp 1 day, snapshot 7 days, targets, releases and root 365 days. */
export const DEFAULT_EXPIRIES: Readonly<RepoExpiries> = Object.freeze({
  root: 365 * DAY,
  targets: 365 * DAY,
  releases: 365 * DAY,
  snapshot: 7 * DAY,
  timestamp: DAY,
});

/** The vendor's keys, one per role; `release` signs the delegated releases role. */
export type VendorKeyRole = 'root' | 'targets' | 'release' | 'snapshot' | 'timestamp';

/**
 * The supervisor's public keys, pinned at initialisation. Without `targets`
 * the repository is created in the old scheme, where `targets` is the
 * vendor's alone: `readRepositoryState` reports it as `vendor-only`, the
 * supervisor refuses to sign its root, and a rotation with
 * `supervisorTargetsKey` migrates it.
 */
export interface SupervisorKeys {
  root: TufPublicKey;
  targets?: TufPublicKey | undefined;
  release: TufPublicKey;
}

/** Who signs `targets`: both organisations (threshold 2) or, in the old scheme, the vendor alone. */
export type TargetsScheme = 'two-party' | 'vendor-only';

export interface InitRepositoryOptions {
  dir: string;
  supervisorKeys: SupervisorKeys;
  /** Root threshold over [vendor root key, supervisor root key]; default 2. */
  rootThreshold?: number;
  expiries?: Partial<RepoExpiries>;
  now: Date;
}

export interface PublicKeyInfo {
  keyid: string;
  publicKey: TufPublicKey;
}

export interface InitRepositoryResult {
  vendorKeys: Record<VendorKeyRole, PublicKeyInfo>;
  /** Root v1, signed by the vendor's root key, for the supervisor to inspect and sign. */
  rootDraft: TufMetadataDocument;
  /** Targets v1, signed by the vendor's targets key (absent in the old scheme). */
  targetsDraft?: TufMetadataDocument;
}

/** How far a draft is from its thresholds. */
export interface ThresholdCount {
  /** Valid signatures by keys of the role. */
  signed: number;
  threshold: number;
}

export interface RootSignatureResult {
  version: number;
  /** True when this signature completed the draft and `N.root.json` is published. */
  published: boolean;
  /** TUF 5.3.4 (2): the new root's own root role. */
  newRoot: ThresholdCount;
  /** TUF 5.3.4 (1): the previous root's root role; absent for version 1. */
  previousRoot?: ThresholdCount;
  /** Signed by both roots' thresholds, but waiting for the targets draft to be complete. */
  awaitingTargets: boolean;
}

export interface TargetsSignatureResult extends ThresholdCount {
  version: number;
  /** True when `N.targets.json` is published (with a new snapshot and timestamp). */
  published: boolean;
  /** Complete, but waiting for the pending root draft it goes out with. */
  awaitingRoot: boolean;
}

export interface DraftRootRotationOptions {
  dir: string;
  now: Date;
  /** Generate a new vendor root key to replace the current one. */
  replaceVendorRootKey?: boolean;
  /** The supervisor's new root key, replacing its current one. */
  supervisorRootKey?: TufPublicKey;
  /** The new root threshold; default: the current one. */
  threshold?: number;
  /**
   * The supervisor's targets key: the new root's targets role becomes the
   * vendor's and this key, threshold 2, and targets vN+1 is drafted with it
   * (the migration from the old scheme, or a new supervisor targets key).
   */
  supervisorTargetsKey?: TufPublicKey;
}

export interface ReleaseTarget {
  /** TUF target path, `/`-separated portable names, e.g. `demo-rules/1.0.0/demo-rules-1.0.0.tar`. */
  name: string;
  bytes: Uint8Array;
  /** Carried as the target's `custom` (TUF 4.5), e.g. the release log index. */
  custom?: Record<string, unknown>;
}

export interface PublishReleaseOptions {
  dir: string;
  /** New targets; an empty list drafts a renewal (new version and expiry, same targets). */
  targets: readonly ReleaseTarget[];
  now: Date;
}

export interface ReleasesSignatureResult extends ThresholdCount {
  version: number;
  /** True when this signature met the threshold and the release is published. */
  published: boolean;
}

export interface RefreshTimestampOptions {
  /** Renew what expires within this many seconds; default half the timestamp lifetime. */
  ifExpiringWithin?: number;
}

export interface RefreshResult {
  timestampVersion: number;
  snapshotVersion: number;
  renewedTimestamp: boolean;
  renewedSnapshot: boolean;
}

export interface RepositoryState {
  /** Latest published root version; 0 while root v1 is still a draft. */
  rootVersion: number;
  timestamp?: { version: number; expires: string };
  snapshot?: { version: number; expires: string };
  /** Published targets version; 0 until root v1 is published. */
  targetsVersion: number;
  /** Who signs `targets` under the latest root (or the root v1 draft). */
  targetsScheme: TargetsScheme;
  releases?: { version: number; expires: string; targets: string[] };
  /** Versions of the pending drafts, if any. */
  pending: { root?: number; targets?: number; releases?: number };
}

/** The files of a repository directory. */
export function repoPaths(dir: string) {
  const root = resolve(dir);
  return {
    dir: root,
    config: join(root, 'config.json'),
    keys: join(root, 'keys'),
    drafts: join(root, 'drafts'),
    rootDraft: join(root, 'drafts', 'root.json'),
    targetsDraft: join(root, 'drafts', 'targets.json'),
    releasesDraft: join(root, 'drafts', 'releases.json'),
    metadata: join(root, 'metadata'),
    targets: join(root, 'targets'),
    /** A vendor key file; root keys are named by key ID because they rotate. */
    vendorKey: (role: Exclude<VendorKeyRole, 'root'>) => join(root, 'keys', `${role}.pem`),
    vendorRootKey: (keyid: string) => join(root, 'keys', `root-${keyid}.pem`),
    /** TUF 6.2.1: VERSION_NUMBER.FILENAME.EXT. */
    versioned: (version: number, role: string) => join(root, 'metadata', `${version}.${role}.json`),
    timestamp: join(root, 'metadata', 'timestamp.json'),
    latestRoot: join(root, 'metadata', 'root.json'),
  };
}

type Paths = ReturnType<typeof repoPaths>;

const CONFIG_SCHEMA = 'glasshouse.tuf-repository/v1';
const MAX_CONFIG_BYTES = 64 * 1024;
const ROOT_FILE = /^([1-9][0-9]{0,15})\.root\.json$/;

// ---------------------------------------------------------------------------
// Ceremonies
// ---------------------------------------------------------------------------

/**
 * Creates the repository: the vendor's five keys, root v1 as a draft signed
 * by the vendor's root key, and targets v1 (the delegation to `releases`)
 * signed by the vendor's targets key. Nothing is published until the
 * supervisor's signature completes root v1.
 */
export async function initRepository(
  options: InitRepositoryOptions,
): Promise<InitRepositoryResult> {
  const paths = repoPaths(options.dir);
  return withLock(paths.dir, async () => {
    const supervisorRoot = parseTufPublicKey(options.supervisorKeys.root);
    const supervisorRelease = parseTufPublicKey(options.supervisorKeys.release);
    const supervisorTargets =
      options.supervisorKeys.targets === undefined
        ? undefined
        : parseTufPublicKey(options.supervisorKeys.targets);
    const expiries = checkExpiries({ ...DEFAULT_EXPIRIES, ...options.expiries });
    const rootThreshold = options.rootThreshold ?? 2;
    checkThreshold(rootThreshold, 2);
    tufDateTime(options.now);
    await assertEmptyDir(paths.dir);

    await ensureDirDurably(paths.dir);
    await ensureDirDurably(paths.keys, 0o700);
    await ensureDirDurably(paths.drafts, 0o700);
    await ensureDirDurably(paths.metadata);
    await ensureDirDurably(paths.targets);

    const vendor = {
      root: generateTufKey(),
      targets: generateTufKey(),
      release: generateTufKey(),
      snapshot: generateTufKey(),
      timestamp: generateTufKey(),
    };
    await saveTufKey(paths.vendorRootKey(vendor.root.keyid), vendor.root);
    for (const role of ['targets', 'release', 'snapshot', 'timestamp'] as const) {
      await saveTufKey(paths.vendorKey(role), vendor[role]);
    }

    const targets = buildTopLevelTargets({
      version: 1,
      expires: expiresAfter(options.now, expiries.targets),
      releases: { keys: [vendor.release.publicKey, supervisorRelease], threshold: 2 },
    });
    signMetadata(targets, vendor.targets);
    if (supervisorTargets === undefined) {
      // The old scheme: targets v1 is the vendor's alone, published as is
      // (reachable only once root v1 and the first snapshot exist).
      await writeFileDurably(paths.versioned(1, 'targets'), serializeMetadata(targets));
    } else {
      // Published with root v1, once the supervisor has signed both.
      await writeFileDurably(paths.targetsDraft, serializeMetadata(targets), 0o600);
    }

    const root = buildRoot({
      version: 1,
      expires: expiresAfter(options.now, expiries.root),
      roles: {
        root: { keys: [vendor.root.publicKey, supervisorRoot], threshold: rootThreshold },
        // TUF 5.6.3: targets metadata is trusted at the targets role's threshold,
        // so with both keys at 2 neither organisation can re-delegate releases alone.
        targets:
          supervisorTargets === undefined
            ? { keys: [vendor.targets.publicKey], threshold: 1 }
            : { keys: [vendor.targets.publicKey, supervisorTargets], threshold: 2 },
        snapshot: { keys: [vendor.snapshot.publicKey], threshold: 1 },
        timestamp: { keys: [vendor.timestamp.publicKey], threshold: 1 },
      },
    });
    signMetadata(root, vendor.root);
    await writeFileDurably(paths.rootDraft, serializeMetadata(root), 0o600);

    // The config is the commit point of initialisation.
    await writeFileDurably(
      paths.config,
      `${JSON.stringify({ schema: CONFIG_SCHEMA, expiries }, null, 2)}\n`,
    );

    const info = (key: TufSigningKey): PublicKeyInfo => ({
      keyid: key.keyid,
      publicKey: key.publicKey,
    });
    return {
      vendorKeys: {
        root: info(vendor.root),
        targets: info(vendor.targets),
        release: info(vendor.release),
        snapshot: info(vendor.snapshot),
        timestamp: info(vendor.timestamp),
      },
      rootDraft: metadataDocument(root),
      ...(supervisorTargets === undefined ? {} : { targetsDraft: metadataDocument(targets) }),
    };
  });
}

/** The pending root draft (`Metadata<Root>` JSON with the signatures so far). */
export async function rootDraft(dir: string): Promise<TufMetadataDocument> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    await readConfig(paths);
    const published = await readLatestRoot(paths);
    return metadataDocument(await readRootDraft(paths, published));
  });
}

/**
 * Adds a root key's signature to the root draft. The key must be in the
 * draft's root role or, for a rotation, in the previous root's. When the
 * draft is signed by a threshold of both (TUF 5.3.4), it is published as
 * `N.root.json` and `root.json`; the first publication also writes
 * snapshot v1 and timestamp v1.
 */
export async function addRootSignature(
  dir: string,
  signature: TufSignature,
  now: Date,
): Promise<RootSignatureResult> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const previous = await readLatestRoot(paths);
    const draft = await readRootDraft(paths, previous);
    const parsed = parseTufSignature(signature);

    // TUF 5.3.4: only root keys of the new root and of the trusted (previous) root count.
    const key =
      roleKey(draft.signed, draft.signed.roles.root?.keyIDs, parsed.keyid) ??
      (previous
        ? roleKey(previous.signed, previous.signed.roles.root?.keyIDs, parsed.keyid)
        : undefined);
    if (key === undefined) {
      throw new DistributionError(
        'SIGNATURE_UNKNOWN_KEY',
        'the key is not a root key of this root or the previous one',
        {
          evidence: { keyid: parsed.keyid, version: draft.signed.version },
        },
      );
    }
    if (!verifyMetadataSignature(draft, parsed, key)) {
      throw new DistributionError(
        'SIGNATURE_INVALID',
        'the signature does not verify over the root draft',
        {
          evidence: { keyid: parsed.keyid, version: draft.signed.version },
        },
      );
    }
    assertNotExpired(draft, now, 'root draft');
    draft.signatures[parsed.keyid] = new Signature({ keyID: parsed.keyid, sig: parsed.sig });
    await writeFileDurably(paths.rootDraft, serializeMetadata(draft), 0o600);

    const newRoot = countRoleSignatures(draft, draft.signed, 'root');
    const previousRoot = previous ? countRoleSignatures(draft, previous.signed, 'root') : undefined;
    const outcome = await publishReady(paths, config, now);
    const complete =
      newRoot.signed >= newRoot.threshold &&
      (previousRoot === undefined || previousRoot.signed >= previousRoot.threshold);
    return {
      version: draft.signed.version,
      published: outcome.root,
      newRoot,
      ...(previousRoot ? { previousRoot } : {}),
      awaitingTargets: complete && !outcome.root,
    };
  });
}

/**
 * Drafts root vN+1: the same keys, except a replaced vendor root key
 * (generated here) or supervisor root key, and possibly a new threshold. It
 * is signed by the vendor's current root key and, when replaced, the new one;
 * the supervisor's signatures complete it (`addRootSignature`).
 */
export async function draftRootRotation(
  options: DraftRootRotationOptions,
): Promise<TufMetadataDocument> {
  const paths = repoPaths(options.dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const previous = await readLatestRoot(paths);
    if (previous === undefined) {
      throw new DistributionError(
        'ROOT_NOT_PUBLISHED',
        'root v1 is not published yet; sign its draft first',
      );
    }
    const pending = await pendingRootDraft(paths, previous);
    if (pending !== undefined) {
      throw new DistributionError(
        'DRAFT_PENDING',
        'a root draft is pending; complete or discard it',
        {
          evidence: { version: pending.signed.version },
        },
      );
    }
    tufDateTime(options.now);
    const supervisorNew =
      options.supervisorRootKey === undefined
        ? undefined
        : parseTufPublicKey(options.supervisorRootKey);
    const supervisorTargets =
      options.supervisorTargetsKey === undefined
        ? undefined
        : parseTufPublicKey(options.supervisorTargetsKey);
    const state = await readPublished(paths);
    if (supervisorTargets !== undefined) {
      const pendingTargets = await pendingTargetsDraft(paths, state);
      if (pendingTargets !== undefined) {
        throw new DistributionError(
          'DRAFT_PENDING',
          'a targets draft is pending; complete or discard it',
          { evidence: { version: pendingTargets.signed.version } },
        );
      }
    }
    const threshold = options.threshold ?? previous.signed.roles.root?.threshold ?? 2;
    checkThreshold(threshold, 2);

    const vendorRootKeys = await readVendorRootKeys(paths);
    const prevRootIds = previous.signed.roles.root?.keyIDs ?? [];
    const currentVendor = vendorRootKeys.filter((k) => prevRootIds.includes(k.keyid));
    const currentVendorKey = currentVendor[0];
    if (currentVendorKey === undefined || currentVendor.length !== 1) {
      throw new DistributionError(
        'REPO_CORRUPT',
        'expected exactly one vendor root key in the current root',
        {
          evidence: { found: currentVendor.map((k) => k.keyid) },
        },
      );
    }
    // The supervisor's root key is the root key we hold no private key for.
    const supervisorIds = prevRootIds.filter((id) => id !== currentVendorKey.keyid);
    const supervisorCurrent = supervisorIds.length === 1 ? supervisorIds[0] : undefined;
    const supervisorCurrentKey =
      supervisorCurrent === undefined ? undefined : publicKeyOf(previous.signed, supervisorCurrent);
    if (supervisorCurrentKey === undefined) {
      throw new DistributionError(
        'REPO_CORRUPT',
        'expected exactly one supervisor root key in the current root',
      );
    }

    const vendorTargets = await loadTufKey(paths.vendorKey('targets'));
    if (
      (supervisorNew !== undefined &&
        vendorRootKeys.some((k) => k.keyid === tufKeyId(supervisorNew))) ||
      (supervisorTargets !== undefined && tufKeyId(supervisorTargets) === vendorTargets.keyid)
    ) {
      throw new DistributionError(
        'REPO_OPTION_INVALID',
        "the supervisor's new key is a vendor key",
      );
    }
    let vendorNext = currentVendorKey;
    if (options.replaceVendorRootKey === true) {
      vendorNext = generateTufKey();
      await saveTufKey(paths.vendorRootKey(vendorNext.keyid), vendorNext);
    }
    const supervisorNext = supervisorNew ?? supervisorCurrentKey;

    const role = (name: 'targets' | 'snapshot' | 'timestamp'): RoleKeys => {
      const r = previous.signed.roles[name];
      if (r === undefined) throw new DistributionError('REPO_CORRUPT', `root has no ${name} role`);
      return {
        keys: r.keyIDs.map((id) => requirePublicKey(previous.signed, id)),
        threshold: r.threshold,
      };
    };
    const draft = buildRoot({
      version: previous.signed.version + 1,
      expires: expiresAfter(options.now, config.expiries.root),
      roles: {
        root: { keys: [vendorNext.publicKey, supervisorNext], threshold },
        targets:
          supervisorTargets === undefined
            ? role('targets')
            : { keys: [vendorTargets.publicKey, supervisorTargets], threshold: 2 },
        snapshot: role('snapshot'),
        timestamp: role('timestamp'),
      },
    });
    // TUF 6.1: "sign the new root.json file with both the new and old root keys".
    signMetadata(draft, currentVendorKey);
    if (vendorNext !== currentVendorKey) signMetadata(draft, vendorNext);
    if (supervisorTargets !== undefined) {
      // TUF 5.6.3: clients check targets against the new root's targets role,
      // so the published targets (signed by the old role) is re-issued for
      // both to sign; it goes out with the new root.
      await writeTargetsDraft(paths, config, state, vendorTargets, options.now);
    }
    await writeFileDurably(paths.rootDraft, serializeMetadata(draft), 0o600);
    return metadataDocument(draft);
  });
}

/** Drops the pending root draft (a generated replacement root key file stays, unused). */
export async function discardRootDraft(dir: string): Promise<void> {
  const paths = repoPaths(dir);
  await withLock(paths.dir, async () => {
    await readConfig(paths);
    await removeFileDurably(paths.rootDraft);
  });
}

/**
 * Drafts targets vN+1: the published delegation unchanged, a new version and
 * expiry (a renewal), signed by the vendor's targets key. The supervisor's
 * signature completes it (`addTargetsSignature`).
 */
export async function draftTargets(options: {
  dir: string;
  now: Date;
}): Promise<TufMetadataDocument> {
  const paths = repoPaths(options.dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const state = await readPublished(paths);
    const pending = await pendingTargetsDraft(paths, state);
    if (pending !== undefined) {
      throw new DistributionError(
        'DRAFT_PENDING',
        'a targets draft is pending; complete or discard it',
        { evidence: { version: pending.signed.version } },
      );
    }
    tufDateTime(options.now);
    const draft = await writeTargetsDraft(
      paths,
      config,
      state,
      await loadTufKey(paths.vendorKey('targets')),
      options.now,
    );
    return metadataDocument(draft);
  });
}

/** The pending targets draft (`Metadata<Targets>` JSON with the signatures so far). */
export async function targetsDraft(dir: string): Promise<TufMetadataDocument> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    await readConfig(paths);
    const state = await readPublishedIfAny(paths);
    return metadataDocument(await readTargetsDraft(paths, state));
  });
}

/**
 * Adds a targets key's signature to the targets draft. The key must be in
 * the targets role of the latest root or of the pending root draft. The
 * draft is published once it is signed by a threshold of each of those
 * targets roles (TUF 5.6.3) — together with the root draft when one is
 * pending.
 */
export async function addTargetsSignature(
  dir: string,
  signature: TufSignature,
  now: Date,
): Promise<TargetsSignatureResult> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const latest = await readLatestRoot(paths);
    const state = await readPublishedIfAny(paths);
    const draft = await readTargetsDraft(paths, state);
    const pendingRoot = await pendingRootDraft(paths, latest);
    const parsed = parseTufSignature(signature);
    const roots = [latest?.signed, pendingRoot?.signed].filter((r): r is Root => r !== undefined);
    // TUF 5.6.3: only keys of the targets role count.
    let key: TufPublicKey | undefined;
    for (const root of roots) {
      key ??= roleKey(root, root.roles.targets?.keyIDs, parsed.keyid);
    }
    if (key === undefined) {
      throw new DistributionError(
        'SIGNATURE_UNKNOWN_KEY',
        'the key is not a targets key of the root or the root draft',
        { evidence: { keyid: parsed.keyid, version: draft.signed.version } },
      );
    }
    if (!verifyMetadataSignature(draft, parsed, key)) {
      throw new DistributionError(
        'SIGNATURE_INVALID',
        'the signature does not verify over the targets draft',
        { evidence: { keyid: parsed.keyid, version: draft.signed.version } },
      );
    }
    assertNotExpired(draft, now, 'targets draft');
    draft.signatures[parsed.keyid] = new Signature({ keyID: parsed.keyid, sig: parsed.sig });
    await writeFileDurably(paths.targetsDraft, serializeMetadata(draft), 0o600);

    const effective = pendingRoot?.signed ?? latest?.signed;
    if (effective === undefined) throw new DistributionError('REPO_CORRUPT', 'no root to check');
    const count = countRoleSignatures(draft, effective, 'targets');
    const outcome = await publishReady(paths, config, now);
    return {
      version: draft.signed.version,
      published: outcome.targets,
      awaitingRoot: !outcome.targets && targetsAccepted(draft, roots),
      ...count,
    };
  });
}

/** Drops the pending targets draft. */
export async function discardTargetsDraft(dir: string): Promise<void> {
  const paths = repoPaths(dir);
  await withLock(paths.dir, async () => {
    await readConfig(paths);
    await removeFileDurably(paths.targetsDraft);
  });
}

/**
 * Stores the target files and drafts releases vN+1 (every earlier target
 * kept, the new ones added), signed by the vendor's release key. Only one
 * releases draft may be pending: a second call is refused with
 * `DRAFT_PENDING` rather than changing what the supervisor may be reviewing.
 */
export async function publishRelease(options: PublishReleaseOptions): Promise<TufMetadataDocument> {
  const paths = repoPaths(options.dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const state = await readPublished(paths);
    const pending = await pendingReleasesDraft(paths, state);
    if (pending !== undefined) {
      throw new DistributionError(
        'DRAFT_PENDING',
        'a releases draft is pending; complete or discard it first',
        {
          evidence: { version: pending.signed.version },
        },
      );
    }
    tufDateTime(options.now);

    const previousTargets = state.releases ? Object.values(state.releases.signed.targets) : [];
    const names = new Set(previousTargets.map((t) => t.path));
    const added: { file: TargetFile; bytes: Uint8Array }[] = [];
    for (const target of options.targets) {
      let custom: JsonObject | undefined;
      if (target.custom !== undefined) {
        validateTargetCustom(target.custom);
        custom = target.custom;
      }
      const file = targetFileFor(target.name, target.bytes, custom);
      // Released targets are immutable: a name is never given other bytes.
      if (names.has(file.path)) {
        throw new DistributionError(
          'TARGET_EXISTS',
          `target ${target.name} is already released or listed twice`,
          {
            evidence: { name: target.name },
          },
        );
      }
      names.add(file.path);
      added.push({ file, bytes: target.bytes });
    }

    for (const { file, bytes } of added) await storeTarget(paths, file, bytes);

    const draft = buildReleases({
      version: (state.releases?.signed.version ?? 0) + 1,
      expires: expiresAfter(options.now, config.expiries.releases),
      targets: [...previousTargets, ...added.map((a) => a.file)],
    });
    signMetadata(draft, await loadTufKey(paths.vendorKey('release')));
    await writeFileDurably(paths.releasesDraft, serializeMetadata(draft), 0o600);
    return metadataDocument(draft);
  });
}

/** The pending releases draft (`Metadata<Targets>` JSON with the signatures so far). */
export async function releasesDraft(dir: string): Promise<TufMetadataDocument> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    await readConfig(paths);
    const state = await readPublished(paths);
    const draft = await readReleasesDraft(paths, state);
    return metadataDocument(draft);
  });
}

/**
 * Adds a release key's signature to the releases draft, checked against the
 * delegated role's keys in the published targets metadata. At the threshold
 * the release is published: `N.releases.json`, a new snapshot and a new
 * timestamp (TUF 6.3).
 */
export async function addReleasesSignature(
  dir: string,
  signature: TufSignature,
  now: Date,
): Promise<ReleasesSignatureResult> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const state = await readPublished(paths);
    const draft = await readReleasesDraft(paths, state);
    const parsed = parseTufSignature(signature);
    const role = state.targets.signed.delegations?.roles?.[RELEASES_ROLE];
    const delegations = state.targets.signed.delegations;
    if (role === undefined || delegations === undefined) {
      throw new DistributionError(
        'REPO_CORRUPT',
        `targets metadata does not delegate to ${RELEASES_ROLE}`,
      );
    }
    // TUF 5.6.3: a delegated role is signed by keys the delegating role lists for it.
    const modelKey = role.keyIDs.includes(parsed.keyid)
      ? delegations.keys[parsed.keyid]
      : undefined;
    if (modelKey === undefined) {
      throw new DistributionError(
        'SIGNATURE_UNKNOWN_KEY',
        `the key is not a key of the ${RELEASES_ROLE} role`,
        {
          evidence: { keyid: parsed.keyid, version: draft.signed.version },
        },
      );
    }
    if (!verifyMetadataSignature(draft, parsed, publicKeyFromModel(modelKey.toJSON()))) {
      throw new DistributionError(
        'SIGNATURE_INVALID',
        'the signature does not verify over the releases draft',
        {
          evidence: { keyid: parsed.keyid, version: draft.signed.version },
        },
      );
    }
    assertNotExpired(draft, now, 'releases draft');
    draft.signatures[parsed.keyid] = new Signature({ keyID: parsed.keyid, sig: parsed.sig });

    const count = countSignatures(draft, delegations.keys, role.keyIDs, role.threshold);
    const published = count.signed >= count.threshold;
    if (!published) {
      await writeFileDurably(paths.releasesDraft, serializeMetadata(draft), 0o600);
    } else {
      // TUF 6.3.1: the delegated targets file under its version; then 6.3.2 and 6.3.3.
      const bytes = serializeMetadata(draft);
      await writeFileDurably(paths.versioned(draft.signed.version, RELEASES_ROLE), bytes);
      await publishSnapshotAndTimestamp(paths, config, now, {
        snapshotVersion: state.snapshot.signed.version + 1,
        timestampVersion: state.timestamp.signed.version + 1,
        meta: {
          ...state.snapshot.signed.meta,
          [`${RELEASES_ROLE}.json`]: metaFileFor(draft.signed.version, bytes),
        },
      });
      await removeFileDurably(paths.releasesDraft);
    }
    return { version: draft.signed.version, published, ...count };
  });
}

/** Drops the pending releases draft (its target files stay; nothing refers to them). */
export async function discardReleasesDraft(dir: string): Promise<void> {
  const paths = repoPaths(dir);
  await withLock(paths.dir, async () => {
    await readConfig(paths);
    await removeFileDurably(paths.releasesDraft);
  });
}

/**
 * Re-signs the timestamp (a new version) when it expires within the margin.
 * The snapshot, also signed by an online key, is renewed the same way when
 * it expires within the margin (and the timestamp then points to it):
 * without that a week without a release would freeze every client.
 */
export async function refreshTimestamp(
  dir: string,
  now: Date,
  options: RefreshTimestampOptions = {},
): Promise<RefreshResult> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    const config = await readConfig(paths);
    const state = await readPublished(paths);
    const margin = options.ifExpiringWithin ?? config.expiries.timestamp / 2;
    if (!Number.isFinite(margin) || margin < 0) {
      throw new DistributionError(
        'REPO_OPTION_INVALID',
        'ifExpiringWithin must be a number of seconds >= 0',
      );
    }
    const horizon = new Date(now.getTime() + margin * 1000);
    const renewSnapshot = isExpiredAt(state.snapshot.signed.expires, horizon);
    const renewTimestamp = renewSnapshot || isExpiredAt(state.timestamp.signed.expires, horizon);
    if (!renewTimestamp) {
      return {
        timestampVersion: state.timestamp.signed.version,
        snapshotVersion: state.snapshot.signed.version,
        renewedTimestamp: false,
        renewedSnapshot: false,
      };
    }
    const snapshotVersion = state.snapshot.signed.version + (renewSnapshot ? 1 : 0);
    const timestampVersion = state.timestamp.signed.version + 1;
    await publishSnapshotAndTimestamp(paths, config, now, {
      snapshotVersion,
      timestampVersion,
      meta: state.snapshot.signed.meta,
      reuseSnapshot: renewSnapshot ? undefined : state.snapshotBytes,
    });
    return {
      timestampVersion,
      snapshotVersion,
      renewedTimestamp: true,
      renewedSnapshot: renewSnapshot,
    };
  });
}

/**
 * The supervisor's side: a signature by `key` over a draft's `signed`
 * (TUF 4.2). `draft` is the draft document (`{signed, signatures}`) or its
 * `signed` part. The draft is parsed first, and refused (`DRAFT_MALFORMED`)
 * unless it is root or targets metadata whose parsed form is exactly what
 * was shown, so the bytes signed are the bytes that were reviewed.
 */
export function signDraft(draft: unknown, key: TufSigningKey): TufSignature {
  const document =
    isPlainObject(draft) && 'signed' in draft ? draft : { signed: draft, signatures: [] };
  const signed = isPlainObject(document) ? document.signed : undefined;
  const type = isPlainObject(signed) ? signed._type : undefined;
  let metadata: AnyMetadata;
  if (type === MetadataKind.Root) {
    metadata = parseMetadataJson(document, MetadataKind.Root, 'DRAFT_MALFORMED', 'draft');
  } else if (type === MetadataKind.Targets) {
    metadata = parseMetadataJson(document, MetadataKind.Targets, 'DRAFT_MALFORMED', 'draft');
  } else {
    throw new DistributionError('DRAFT_MALFORMED', 'a draft is root or targets metadata', {
      evidence: { type },
    });
  }
  let same: boolean;
  try {
    same = Buffer.from(encodeCanonical(metadata.signed.toJSON())).equals(encodeCanonical(signed));
  } catch (err) {
    throw new DistributionError('DRAFT_MALFORMED', 'the draft has no canonical JSON form', {
      cause: err,
    });
  }
  if (!same) {
    throw new DistributionError('DRAFT_MALFORMED', 'the draft does not parse to what it shows');
  }
  return signMetadata(metadata, key);
}

/** Versions and expiries of what is published, and which drafts are pending. */
export async function readRepositoryState(dir: string): Promise<RepositoryState> {
  const paths = repoPaths(dir);
  return withLock(paths.dir, async () => {
    await readConfig(paths);
    const root = await readLatestRoot(paths);
    const pendingRoot = await pendingRootDraft(paths, root);
    const pendingRootVersion = pendingRoot?.signed.version;
    if (root === undefined) {
      const pendingTargets = await pendingTargetsDraft(paths, undefined);
      return {
        rootVersion: 0,
        targetsVersion: 0,
        targetsScheme: targetsSchemeOf(pendingRoot?.signed),
        pending: {
          ...(pendingRootVersion === undefined ? {} : { root: pendingRootVersion }),
          ...(pendingTargets === undefined ? {} : { targets: pendingTargets.signed.version }),
        },
      };
    }
    const state = await readPublished(paths);
    const pendingReleases = await pendingReleasesDraft(paths, state);
    const pendingTargets = await pendingTargetsDraft(paths, state);
    return {
      rootVersion: root.signed.version,
      targetsScheme: targetsSchemeOf(root.signed),
      timestamp: {
        version: state.timestamp.signed.version,
        expires: state.timestamp.signed.expires,
      },
      snapshot: { version: state.snapshot.signed.version, expires: state.snapshot.signed.expires },
      targetsVersion: state.targets.signed.version,
      ...(state.releases
        ? {
            releases: {
              version: state.releases.signed.version,
              expires: state.releases.signed.expires,
              targets: Object.keys(state.releases.signed.targets),
            },
          }
        : {}),
      pending: {
        ...(pendingRootVersion === undefined ? {} : { root: pendingRootVersion }),
        ...(pendingTargets === undefined ? {} : { targets: pendingTargets.signed.version }),
        ...(pendingReleases === undefined ? {} : { releases: pendingReleases.signed.version }),
      },
    };
  });
}

// ---------------------------------------------------------------------------
// Reading state
// ---------------------------------------------------------------------------

interface Config {
  expiries: RepoExpiries;
}

interface Published {
  root: Metadata<Root>;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  snapshotBytes: Uint8Array;
  targets: Metadata<Targets>;
  releases: Metadata<Targets> | undefined;
}

async function readConfig(paths: Paths): Promise<Config> {
  const bytes = await readOptional(paths.config);
  if (bytes === undefined) {
    throw new DistributionError('REPO_NOT_INITIALIZED', `no TUF repository at ${paths.dir}`, {
      evidence: { dir: paths.dir },
    });
  }
  const value = parseJsonBytes(bytes, MAX_CONFIG_BYTES, 'REPO_CORRUPT', 'config.json');
  if (!isPlainObject(value) || value.schema !== CONFIG_SCHEMA || !isPlainObject(value.expiries)) {
    throw new DistributionError('REPO_CORRUPT', 'config.json is not a repository config');
  }
  const e = value.expiries;
  return {
    expiries: checkExpiries(
      {
        root: e.root,
        targets: e.targets,
        releases: e.releases,
        snapshot: e.snapshot,
        timestamp: e.timestamp,
      } as RepoExpiries,
      'REPO_CORRUPT',
    ),
  };
}

/**
 * The latest published root: the highest `N.root.json` (the commit point of
 * a root publication; `root.json` is a convenience copy).
 */
async function readLatestRoot(paths: Paths): Promise<Metadata<Root> | undefined> {
  const versions = (await readdir(paths.metadata))
    .map((name) => ROOT_FILE.exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  if (versions.length === 0) return undefined;
  const latest = Math.max(...versions);
  const root = await readMetadataFile(paths.versioned(latest, 'root'), MetadataKind.Root);
  if (root.signed.version !== latest) {
    throw new DistributionError(
      'REPO_CORRUPT',
      `${latest}.root.json holds version ${root.signed.version}`,
    );
  }
  return root;
}

/** The published state; the timestamp is its commit point. */
async function readPublished(paths: Paths): Promise<Published> {
  const root = await readLatestRoot(paths);
  if (root === undefined) {
    throw new DistributionError(
      'ROOT_NOT_PUBLISHED',
      'root v1 is not published yet; sign its draft first',
    );
  }
  const timestamp = await readMetadataFile(paths.timestamp, MetadataKind.Timestamp);
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshotBytes = await readRequired(paths.versioned(snapshotVersion, 'snapshot'));
  const snapshot = parseMetadataBytes(
    snapshotBytes,
    MetadataKind.Snapshot,
    'REPO_CORRUPT',
    'snapshot',
  );
  const targetsMeta = snapshot.signed.meta['targets.json'];
  if (targetsMeta === undefined) {
    throw new DistributionError('REPO_CORRUPT', 'the snapshot does not list targets.json');
  }
  const targets = await readMetadataFile(
    paths.versioned(targetsMeta.version, 'targets'),
    MetadataKind.Targets,
  );
  const releasesMeta = snapshot.signed.meta[`${RELEASES_ROLE}.json`];
  const releases =
    releasesMeta === undefined
      ? undefined
      : await readMetadataFile(
          paths.versioned(releasesMeta.version, RELEASES_ROLE),
          MetadataKind.Targets,
        );
  return { root, timestamp, snapshot, snapshotBytes, targets, releases };
}

/**
 * The pending root draft, if any. A draft whose version is already published
 * is what a crash after publication left behind: it is removed.
 */
async function pendingRootDraft(
  paths: Paths,
  published: Metadata<Root> | undefined,
): Promise<Metadata<Root> | undefined> {
  const bytes = await readOptional(paths.rootDraft);
  if (bytes === undefined) return undefined;
  const draft = parseMetadataBytes(bytes, MetadataKind.Root, 'DRAFT_MALFORMED', 'root draft');
  const expected = (published?.signed.version ?? 0) + 1;
  if (draft.signed.version < expected) {
    await removeFileDurably(paths.rootDraft);
    return undefined;
  }
  // TUF 5.3.5: a new root is exactly the next version.
  if (draft.signed.version !== expected) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      `the root draft is version ${draft.signed.version}, not ${expected}`,
    );
  }
  return draft;
}

async function readRootDraft(
  paths: Paths,
  published: Metadata<Root> | undefined,
): Promise<Metadata<Root>> {
  const draft = await pendingRootDraft(paths, published);
  if (draft === undefined) throw new DistributionError('DRAFT_MISSING', 'no root draft is pending');
  return draft;
}

/**
 * The pending releases draft, if any; a draft whose version is already
 * published (left behind by a crash after publication) is removed.
 */
async function pendingReleasesDraft(
  paths: Paths,
  state: Published,
): Promise<Metadata<Targets> | undefined> {
  const bytes = await readOptional(paths.releasesDraft);
  if (bytes === undefined) return undefined;
  const draft = parseMetadataBytes(
    bytes,
    MetadataKind.Targets,
    'DRAFT_MALFORMED',
    'releases draft',
  );
  const expected = (state.releases?.signed.version ?? 0) + 1;
  if (draft.signed.version < expected) {
    await removeFileDurably(paths.releasesDraft);
    return undefined;
  }
  // TUF 6.3.1: the updated targets metadata has the next version.
  if (draft.signed.version !== expected) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      `the releases draft is version ${draft.signed.version}, not ${expected}`,
    );
  }
  return draft;
}

async function readReleasesDraft(paths: Paths, state: Published): Promise<Metadata<Targets>> {
  const draft = await pendingReleasesDraft(paths, state);
  if (draft === undefined) {
    throw new DistributionError('DRAFT_MISSING', 'no releases draft is pending');
  }
  return draft;
}

/** The published state, or undefined before root v1 is published. */
async function readPublishedIfAny(paths: Paths): Promise<Published | undefined> {
  return (await readLatestRoot(paths)) === undefined ? undefined : readPublished(paths);
}

/**
 * The pending targets draft, if any; a draft whose version is already
 * published (left behind by a crash after publication) is removed.
 */
async function pendingTargetsDraft(
  paths: Paths,
  state: Published | undefined,
): Promise<Metadata<Targets> | undefined> {
  const bytes = await readOptional(paths.targetsDraft);
  if (bytes === undefined) return undefined;
  const draft = parseMetadataBytes(bytes, MetadataKind.Targets, 'DRAFT_MALFORMED', 'targets draft');
  const expected = (state?.targets.signed.version ?? 0) + 1;
  if (draft.signed.version < expected) {
    await removeFileDurably(paths.targetsDraft);
    return undefined;
  }
  // TUF 6.3.1: the updated targets metadata has the next version.
  if (draft.signed.version !== expected) {
    throw new DistributionError(
      'DRAFT_MALFORMED',
      `the targets draft is version ${draft.signed.version}, not ${expected}`,
    );
  }
  return draft;
}

async function readTargetsDraft(
  paths: Paths,
  state: Published | undefined,
): Promise<Metadata<Targets>> {
  const draft = await pendingTargetsDraft(paths, state);
  if (draft === undefined) {
    throw new DistributionError('DRAFT_MISSING', 'no targets draft is pending');
  }
  return draft;
}

/** Targets vN+1 with the published delegation, signed by the vendor's targets key. */
async function writeTargetsDraft(
  paths: Paths,
  config: Config,
  state: Published,
  vendorTargets: TufSigningKey,
  now: Date,
): Promise<Metadata<Targets>> {
  const draft = new Metadata(
    Targets.fromJSON({
      ...state.targets.signed.toJSON(),
      version: state.targets.signed.version + 1,
      expires: expiresAfter(now, config.expiries.targets),
    }),
  );
  signMetadata(draft, vendorTargets);
  await writeFileDurably(paths.targetsDraft, serializeMetadata(draft), 0o600);
  return draft;
}

/** Who signs targets under `root`: both organisations when the role needs two keys. */
function targetsSchemeOf(root: Root | undefined): TargetsScheme {
  const role = root?.roles.targets;
  return role !== undefined && role.threshold >= 2 && new Set(role.keyIDs).size >= 2
    ? 'two-party'
    : 'vendor-only';
}

/** TUF 5.6.3: `targets` is signed by a threshold of the targets role of every root in `roots`. */
function targetsAccepted(targets: Metadata<Targets>, roots: readonly Root[]): boolean {
  return roots.every((root) => {
    const count = countRoleSignatures(targets, root, 'targets');
    return count.signed >= count.threshold;
  });
}

/**
 * Publishes whichever pending drafts are complete. A root draft waits for
 * the targets it will be trusted with: the targets draft when one is
 * pending, else the published targets, which must meet the new root's
 * targets role (TUF 5.6.3), or clients would refuse the repository. A
 * targets draft pending with a root draft goes out with it: targets,
 * snapshot and timestamp first (valid under the old root too), then the
 * root, the commit point.
 */
async function publishReady(
  paths: Paths,
  config: Config,
  now: Date,
): Promise<{ root: boolean; targets: boolean }> {
  const latest = await readLatestRoot(paths);
  const state = latest === undefined ? undefined : await readPublished(paths);
  const rootDraftNow = await pendingRootDraft(paths, latest);
  const targetsDraftNow = await pendingTargetsDraft(paths, state);
  const none = { root: false, targets: false };

  if (rootDraftNow === undefined) {
    if (targetsDraftNow === undefined || latest === undefined || state === undefined) return none;
    if (!targetsAccepted(targetsDraftNow, [latest.signed])) return none;
    await publishTargets(paths, config, now, state, targetsDraftNow);
    await removeFileDurably(paths.targetsDraft);
    return { root: false, targets: true };
  }

  // TUF 5.3.4: a threshold of the new root's root role and of the trusted one's.
  const newRoot = countRoleSignatures(rootDraftNow, rootDraftNow.signed, 'root');
  const previousRoot = latest
    ? countRoleSignatures(rootDraftNow, latest.signed, 'root')
    : undefined;
  if (
    newRoot.signed < newRoot.threshold ||
    (previousRoot !== undefined && previousRoot.signed < previousRoot.threshold)
  ) {
    return none;
  }
  const roots = [rootDraftNow.signed, ...(latest ? [latest.signed] : [])];
  if (targetsDraftNow !== undefined) {
    if (!targetsAccepted(targetsDraftNow, roots)) return none;
    // Valid under both roots, so a client between these writes sees a consistent repository.
    await publishTargets(paths, config, now, state, targetsDraftNow);
  } else if (state !== undefined) {
    if (!targetsAccepted(state.targets, [rootDraftNow.signed])) return none;
  } else {
    // The old scheme's root v1: targets v1 was written, vendor-signed, at initialisation.
    const legacy = await readMetadataFile(paths.versioned(1, 'targets'), MetadataKind.Targets);
    if (!targetsAccepted(legacy, [rootDraftNow.signed])) return none;
    // Written before 1.root.json, the commit point: a client can reach
    // them only through a published root, so a crash here leaves nothing visible.
    await publishSnapshotAndTimestamp(paths, config, now, {
      snapshotVersion: 1,
      timestampVersion: 1,
      meta: { 'targets.json': metaFileFor(1, await readRequired(paths.versioned(1, 'targets'))) },
    });
  }
  const bytes = serializeMetadata(rootDraftNow);
  // TUF 6.2.1: every root version stays available for clients that are behind.
  await writeFileDurably(paths.versioned(rootDraftNow.signed.version, 'root'), bytes);
  await writeFileDurably(paths.latestRoot, bytes);
  await removeFileDurably(paths.rootDraft);
  await removeFileDurably(paths.targetsDraft);
  return { root: true, targets: targetsDraftNow !== undefined };
}

/** TUF 6.3.1–6.3.3: `N.targets.json`, then a new snapshot listing it, then a new timestamp. */
async function publishTargets(
  paths: Paths,
  config: Config,
  now: Date,
  state: Published | undefined,
  draft: Metadata<Targets>,
): Promise<void> {
  const bytes = serializeMetadata(draft);
  await writeFileDurably(paths.versioned(draft.signed.version, 'targets'), bytes);
  await publishSnapshotAndTimestamp(paths, config, now, {
    snapshotVersion: (state?.snapshot.signed.version ?? 0) + 1,
    timestampVersion: (state?.timestamp.signed.version ?? 0) + 1,
    meta: {
      ...(state?.snapshot.signed.meta ?? {}),
      'targets.json': metaFileFor(draft.signed.version, bytes),
    },
  });
}

async function readVendorRootKeys(paths: Paths): Promise<TufSigningKey[]> {
  const names = (await readdir(paths.keys))
    .filter((n) => /^root-[0-9a-f]{64}\.pem$/.test(n))
    .sort();
  const keys: TufSigningKey[] = [];
  for (const name of names) {
    const key = await loadTufKey(join(paths.keys, name));
    if (name !== `root-${key.keyid}.pem`) {
      throw new DistributionError('REPO_CORRUPT', `${name} holds key ${key.keyid}`);
    }
    keys.push(key);
  }
  return keys;
}

async function readMetadataFile<K extends MetadataKind>(path: string, kind: K) {
  return parseMetadataBytes(await readRequired(path), kind, 'REPO_CORRUPT', path);
}

async function readRequired(path: string): Promise<Uint8Array> {
  const bytes = await readOptional(path);
  if (bytes === undefined) {
    throw new DistributionError('REPO_CORRUPT', `missing ${path}`, { evidence: { path } });
  }
  return bytes;
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/**
 * Writes `N.snapshot.json` (TUF 6.3.2) and then `timestamp.json` (TUF 6.3.3,
 * unversioned per TUF 6.2.1), the commit point of every publication.
 */
async function publishSnapshotAndTimestamp(
  paths: Paths,
  config: Config,
  now: Date,
  options: {
    snapshotVersion: number;
    timestampVersion: number;
    meta: Readonly<Record<string, MetaFile>>;
    /** The current snapshot file, when only the timestamp is renewed. */
    reuseSnapshot?: Uint8Array | undefined;
  },
): Promise<void> {
  let snapshotBytes = options.reuseSnapshot;
  if (snapshotBytes === undefined) {
    const snapshot = buildSnapshot({
      version: options.snapshotVersion,
      expires: expiresAfter(now, config.expiries.snapshot),
      meta: options.meta,
    });
    signMetadata(snapshot, await loadTufKey(paths.vendorKey('snapshot')));
    snapshotBytes = serializeMetadata(snapshot);
    await writeFileDurably(paths.versioned(options.snapshotVersion, 'snapshot'), snapshotBytes);
  }
  const timestamp = buildTimestamp({
    version: options.timestampVersion,
    expires: expiresAfter(now, config.expiries.timestamp),
    snapshotVersion: options.snapshotVersion,
    snapshotBytes,
  });
  signMetadata(timestamp, await loadTufKey(paths.vendorKey('timestamp')));
  await writeFileDurably(paths.timestamp, serializeMetadata(timestamp));
}

/** Stores a target under its consistent name (TUF 6.2.1 HASH.FILENAME.EXT). */
async function storeTarget(paths: Paths, file: TargetFile, bytes: Uint8Array): Promise<void> {
  const sha256 = sha256Hex(bytes);
  const path = join(paths.targets, ...consistentTargetPath(file.path, sha256).split('/'));
  // Content-addressed: a file already there under this hash has these bytes.
  if ((await statOptional(path)) !== undefined) return;
  await ensureDirDurably(dirname(path));
  await writeFileDurably(path, bytes);
}

async function statOptional(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

async function assertEmptyDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  if (entries.length > 0) {
    throw new DistributionError('REPO_ALREADY_INITIALIZED', `${dir} is not empty`, {
      evidence: { dir, entries: entries.slice(0, 10) },
    });
  }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

function checkExpiries(
  expiries: RepoExpiries,
  code: 'REPO_OPTION_INVALID' | 'REPO_CORRUPT' = 'REPO_OPTION_INVALID',
): RepoExpiries {
  for (const [role, seconds] of Object.entries(expiries)) {
    if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds <= 0) {
      throw new DistributionError(
        code,
        `expiry of ${role} must be a positive whole number of seconds`,
        {
          evidence: { role, seconds },
        },
      );
    }
  }
  return expiries;
}

function checkThreshold(threshold: number, keys: number): void {
  // TUF 4.3 THRESHOLD: a number of the role's keys, so 1..keys.
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys) {
    throw new DistributionError('REPO_OPTION_INVALID', `root threshold must be 1 to ${keys}`, {
      evidence: { threshold },
    });
  }
}

function assertNotExpired(
  draft: Metadata<Root> | Metadata<Targets>,
  now: Date,
  what: string,
): void {
  // TUF 5.3.10 / 5.6.5: clients refuse expired metadata, so publishing it would be pointless.
  if (isExpiredAt(draft.signed.expires, now)) {
    throw new DistributionError('DRAFT_EXPIRED', `the ${what} expired at ${draft.signed.expires}`, {
      evidence: { expires: draft.signed.expires, now: tufDateTime(now) },
    });
  }
}

/** Valid signatures on `metadata` by keys of `role` in `delegator` (root roles). */
function countRoleSignatures(metadata: AnyMetadata, delegator: Root, role: string): ThresholdCount {
  const r = delegator.roles[role];
  if (r === undefined) throw new DistributionError('REPO_CORRUPT', `root has no ${role} role`);
  return countSignatures(metadata, delegator.keys, r.keyIDs, r.threshold);
}

/** TUF 5.3.4 / 5.6.3: distinct role keys whose signature over `signed` verifies. */
function countSignatures(
  metadata: AnyMetadata,
  keys: Root['keys'],
  keyids: readonly string[],
  threshold: number,
): ThresholdCount {
  let signed = 0;
  for (const keyid of new Set(keyids)) {
    const signature = metadata.signatures[keyid];
    const key = keys[keyid];
    if (signature === undefined || key === undefined) continue;
    const publicKey = publicKeyFromModel(key.toJSON());
    if (verifyMetadataSignature(metadata, { keyid, sig: signature.sig }, publicKey)) signed += 1;
  }
  return { signed, threshold };
}

function roleKey(
  root: Root,
  keyids: readonly string[] | undefined,
  keyid: string,
): TufPublicKey | undefined {
  if (keyids?.includes(keyid) !== true) return undefined;
  return publicKeyOf(root, keyid);
}

function publicKeyOf(root: Root, keyid: string): TufPublicKey | undefined {
  const key = root.keys[keyid];
  return key === undefined ? undefined : publicKeyFromModel(key.toJSON());
}

function requirePublicKey(root: Root, keyid: string): TufPublicKey {
  const key = publicKeyOf(root, keyid);
  if (key === undefined) throw new DistributionError('REPO_CORRUPT', `root lists no key ${keyid}`);
  return key;
}

/** A key object from metadata, held to the same strict form as outside keys. */
function publicKeyFromModel(json: unknown): TufPublicKey {
  try {
    return parseTufPublicKey(json);
  } catch (err) {
    throw new DistributionError('REPO_CORRUPT', 'metadata lists a key we do not use', {
      cause: err,
    });
  }
}

// ---------------------------------------------------------------------------
// Serialisation of operations on one directory
// ---------------------------------------------------------------------------

const locks = new Map<string, Promise<void>>();

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(dir) ?? Promise.resolve();
  let release: () => void = () => undefined;
  const current = new Promise<void>((done) => {
    release = done;
  });
  const tail = previous.then(() => current);
  locks.set(dir, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (locks.get(dir) === tail) locks.delete(dir);
  }
}
