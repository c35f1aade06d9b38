/**
 * Creating the repository and the root ceremony: root v1, rotations (and
 * the migration from the old scheme), each a draft the supervisor signs.
 */
import { ensureDirDurably, removeFileDurably, writeFileDurably } from '@glasshouse/durable';
import { Signature } from '@tufjs/models';
import { DistributionError } from './errors.js';
import { publishReady, writeTargetsDraft } from './repo-publish.js';
import {
  assertNotExpired,
  checkExpiries,
  checkThreshold,
  countRoleSignatures,
  publicKeyOf,
  requirePublicKey,
  roleKey,
} from './repo-rules.js';
import {
  CONFIG_SCHEMA,
  assertEmptyDir,
  pendingRootDraft,
  pendingTargetsDraft,
  readConfig,
  readLatestRoot,
  readPublished,
  readRootDraft,
  readVendorRootKeys,
  repoPaths,
  withLock,
} from './repo-store.js';
import {
  generateTufKey,
  loadTufKey,
  parseTufPublicKey,
  parseTufSignature,
  saveTufKey,
  signMetadata,
  tufKeyId,
  verifyMetadataSignature,
  type TufSignature,
  type TufSigningKey,
} from './tuf-keys.js';
import {
  buildRoot,
  buildTopLevelTargets,
  expiresAfter,
  metadataDocument,
  serializeMetadata,
  tufDateTime,
  type RoleKeys,
  type TufMetadataDocument,
} from './tuf-metadata.js';
import {
  DEFAULT_EXPIRIES,
  type DraftRootRotationOptions,
  type InitRepositoryOptions,
  type InitRepositoryResult,
  type PublicKeyInfo,
  type RootSignatureResult,
} from './tuf-repo.js';

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
