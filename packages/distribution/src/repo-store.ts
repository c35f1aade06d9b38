/**
 * A repository directory on disk: where each file lives, reading the
 * configuration, the published state (timestamp → snapshot → targets) and
 * the pending drafts, and the lock that serialises operations on one DIR
 * within the process. Internal to the package.
 */
import { isErrno, removeFileDurably } from '@glasshouse/durable';
import {
  Metadata,
  MetadataKind,
  Targets,
  type Root,
  type Snapshot,
  type Timestamp,
} from '@tufjs/models';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DistributionError } from './errors.js';
import { isPlainObject, parseJsonBytes } from './json.js';
import { checkExpiries } from './repo-rules.js';
import { loadTufKey, type TufSigningKey } from './tuf-keys.js';
import { RELEASES_ROLE, parseMetadataBytes } from './tuf-metadata.js';
import { type RepoExpiries, type VendorKeyRole } from './tuf-repo.js';

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

export type Paths = ReturnType<typeof repoPaths>;

export const CONFIG_SCHEMA = 'glasshouse.tuf-repository/v1';

export const MAX_CONFIG_BYTES = 64 * 1024;

export const ROOT_FILE = /^([1-9][0-9]{0,15})\.root\.json$/;

export interface Config {
  expiries: RepoExpiries;
}

export interface Published {
  root: Metadata<Root>;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  snapshotBytes: Uint8Array;
  targets: Metadata<Targets>;
  releases: Metadata<Targets> | undefined;
}

export async function readConfig(paths: Paths): Promise<Config> {
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
export async function readLatestRoot(paths: Paths): Promise<Metadata<Root> | undefined> {
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
export async function readPublished(paths: Paths): Promise<Published> {
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

/** The published state, or undefined before root v1 is published. */
export async function readPublishedIfAny(paths: Paths): Promise<Published | undefined> {
  return (await readLatestRoot(paths)) === undefined ? undefined : readPublished(paths);
}

/**
 * The pending root draft, if any. A draft whose version is already published
 * is what a crash after publication left behind: it is removed.
 */
export async function pendingRootDraft(
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

export async function readRootDraft(
  paths: Paths,
  published: Metadata<Root> | undefined,
): Promise<Metadata<Root>> {
  const draft = await pendingRootDraft(paths, published);
  if (draft === undefined) throw new DistributionError('DRAFT_MISSING', 'no root draft is pending');
  return draft;
}

/**
 * The pending targets draft, if any; a draft whose version is already
 * published (left behind by a crash after publication) is removed.
 */
export async function pendingTargetsDraft(
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

export async function readTargetsDraft(
  paths: Paths,
  state: Published | undefined,
): Promise<Metadata<Targets>> {
  const draft = await pendingTargetsDraft(paths, state);
  if (draft === undefined) {
    throw new DistributionError('DRAFT_MISSING', 'no targets draft is pending');
  }
  return draft;
}

/**
 * The pending releases draft, if any; a draft whose version is already
 * published (left behind by a crash after publication) is removed.
 */
export async function pendingReleasesDraft(
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

export async function readReleasesDraft(
  paths: Paths,
  state: Published,
): Promise<Metadata<Targets>> {
  const draft = await pendingReleasesDraft(paths, state);
  if (draft === undefined) {
    throw new DistributionError('DRAFT_MISSING', 'no releases draft is pending');
  }
  return draft;
}

export async function readVendorRootKeys(paths: Paths): Promise<TufSigningKey[]> {
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

export async function readMetadataFile<K extends MetadataKind>(path: string, kind: K) {
  return parseMetadataBytes(await readRequired(path), kind, 'REPO_CORRUPT', path);
}

export async function readRequired(path: string): Promise<Uint8Array> {
  const bytes = await readOptional(path);
  if (bytes === undefined) {
    throw new DistributionError('REPO_CORRUPT', `missing ${path}`, { evidence: { path } });
  }
  return bytes;
}

export async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export async function statOptional(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export async function assertEmptyDir(dir: string): Promise<void> {
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

const locks = new Map<string, Promise<void>>();

export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
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
