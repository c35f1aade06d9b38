/**
 * The targets ceremony: the vendor drafts targets vN+1, the supervisor
 * checks and signs it, and it is published once a threshold of the targets
 * role (the vendor's and the supervisor's keys) has signed.
 */
import { removeFileDurably, writeFileDurably } from '@glasshouse/durable';
import { Signature, type Root } from '@tufjs/models';
import { DistributionError } from './errors.js';
import { publishReady, writeTargetsDraft } from './repo-publish.js';
import { assertNotExpired, countRoleSignatures, roleKey, targetsAccepted } from './repo-rules.js';
import {
  pendingRootDraft,
  pendingTargetsDraft,
  readConfig,
  readLatestRoot,
  readPublished,
  readPublishedIfAny,
  readTargetsDraft,
  repoPaths,
  withLock,
} from './repo-store.js';
import {
  loadTufKey,
  parseTufSignature,
  verifyMetadataSignature,
  type TufPublicKey,
  type TufSignature,
} from './tuf-keys.js';
import {
  metadataDocument,
  serializeMetadata,
  tufDateTime,
  type TufMetadataDocument,
} from './tuf-metadata.js';
import { type TargetsSignatureResult } from './tuf-repo.js';

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
