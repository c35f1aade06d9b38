/**
 * Releases: the vendor drafts releases vN+1 with new targets, the
 * supervisor signs it; the online keys keep the timestamp and snapshot
 * fresh; and the repository's state for `repo status`.
 */
import { removeFileDurably, writeFileDurably } from '@glasshouse/durable';
import { Signature, type TargetFile } from '@tufjs/models';
import { DistributionError } from './errors.js';
import { publishSnapshotAndTimestamp, storeTarget } from './repo-publish.js';
import {
  assertNotExpired,
  countSignatures,
  publicKeyFromModel,
  targetsSchemeOf,
} from './repo-rules.js';
import {
  pendingReleasesDraft,
  pendingRootDraft,
  pendingTargetsDraft,
  readConfig,
  readLatestRoot,
  readPublished,
  readReleasesDraft,
  repoPaths,
  withLock,
} from './repo-store.js';
import {
  loadTufKey,
  parseTufSignature,
  signMetadata,
  verifyMetadataSignature,
  type TufSignature,
} from './tuf-keys.js';
import {
  RELEASES_ROLE,
  buildReleases,
  expiresAfter,
  isExpiredAt,
  metaFileFor,
  metadataDocument,
  serializeMetadata,
  targetFileFor,
  tufDateTime,
  validateTargetCustom,
  type JsonObject,
  type TufMetadataDocument,
} from './tuf-metadata.js';
import {
  type PublishReleaseOptions,
  type RefreshResult,
  type RefreshTimestampOptions,
  type ReleasesSignatureResult,
  type RepositoryState,
} from './tuf-repo.js';

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
