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
import { type TufPublicKey } from './tuf-keys.js';
import { type TufMetadataDocument } from './tuf-metadata.js';

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
