/**
 * Writing a publication: drafts become `N.<role>.json`, then a new snapshot
 * and timestamp (the commit point), or `N.root.json` for a root. Internal to
 * the package.
 */
import { sha256Hex } from '@glasshouse/attest';
import { ensureDirDurably, removeFileDurably, writeFileDurably } from '@glasshouse/durable';
import { Metadata, MetadataKind, Targets, type MetaFile, type TargetFile } from '@tufjs/models';
import { dirname, join } from 'node:path';
import { countRoleSignatures, targetsAccepted } from './repo-rules.js';
import {
  pendingRootDraft,
  pendingTargetsDraft,
  readLatestRoot,
  readMetadataFile,
  readPublished,
  readRequired,
  statOptional,
  type Config,
  type Paths,
  type Published,
} from './repo-store.js';
import { loadTufKey, signMetadata, type TufSigningKey } from './tuf-keys.js';
import {
  buildSnapshot,
  buildTimestamp,
  consistentTargetPath,
  expiresAfter,
  metaFileFor,
  serializeMetadata,
} from './tuf-metadata.js';

/** Targets vN+1 with the published delegation, signed by the vendor's targets key. */
export async function writeTargetsDraft(
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

/**
 * Publishes whichever pending drafts are complete. A root draft waits for
 * the targets it will be trusted with: the targets draft when one is
 * pending, else the published targets, which must meet the new root's
 * targets role (TUF 5.6.3), or clients would refuse the repository. A
 * targets draft pending with a root draft goes out with it: targets,
 * snapshot and timestamp first (valid under the old root too), then the
 * root, the commit point.
 */
export async function publishReady(
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
export async function publishTargets(
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

/**
 * Writes `N.snapshot.json` (TUF 6.3.2) and then `timestamp.json` (TUF 6.3.3,
 * unversioned per TUF 6.2.1), the commit point of every publication.
 */
export async function publishSnapshotAndTimestamp(
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
export async function storeTarget(
  paths: Paths,
  file: TargetFile,
  bytes: Uint8Array,
): Promise<void> {
  const sha256 = sha256Hex(bytes);
  const path = join(paths.targets, ...consistentTargetPath(file.path, sha256).split('/'));
  // Content-addressed: a file already there under this hash has these bytes.
  if ((await statOptional(path)) !== undefined) return;
  await ensureDirDurably(dirname(path));
  await writeFileDurably(path, bytes);
}
