/**
 * The attack of a vendor acting alone, with every key it holds (targets,
 * release, snapshot and timestamp; its root key alone cannot sign a root):
 * a `targets.json` that re-delegates `releases` to the vendor's release key
 * with threshold 1, a `releases.json` listing a new target signed by that
 * key, a new snapshot and a new timestamp, written straight into the
 * repository directory that is being served.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MetadataKind, TargetFile } from '@tufjs/models';
import { sha256Hex } from '@glasshouse/attest';
import {
  buildReleases,
  buildSnapshot,
  buildTimestamp,
  buildTopLevelTargets,
  consistentTargetPath,
  expiresAfter,
  loadTufKey,
  metaFileFor,
  parseMetadataBytes,
  repoPaths,
  serializeMetadata,
  signMetadata,
} from '../src/index.js';

const DAY = 86_400;

export interface Forgery {
  /** The forged metadata's bytes by file name, as written. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly targetsVersion: number;
}

export async function forgeRedelegation(
  dir: string,
  target: { name: string; bytes: Uint8Array },
  now = new Date(),
): Promise<Forgery> {
  const paths = repoPaths(dir);
  const key = (role: 'targets' | 'release' | 'snapshot' | 'timestamp') =>
    loadTufKey(paths.vendorKey(role));
  const timestamp = parseMetadataBytes(
    await readFile(paths.timestamp),
    MetadataKind.Timestamp,
    'REPO_CORRUPT',
    'timestamp',
  );
  const snapshot = parseMetadataBytes(
    await readFile(paths.versioned(timestamp.signed.snapshotMeta.version, 'snapshot')),
    MetadataKind.Snapshot,
    'REPO_CORRUPT',
    'snapshot',
  );
  const targetsVersion = (snapshot.signed.meta['targets.json']?.version ?? 0) + 1;
  const releasesVersion = (snapshot.signed.meta['releases.json']?.version ?? 0) + 1;
  const release = await key('release');
  const files = new Map<string, Uint8Array>();

  const targets = buildTopLevelTargets({
    version: targetsVersion,
    expires: expiresAfter(now, 365 * DAY),
    releases: { keys: [release.publicKey], threshold: 1 },
  });
  signMetadata(targets, await key('targets'));
  files.set(`${targetsVersion}.targets.json`, serializeMetadata(targets));

  const sha256 = sha256Hex(target.bytes);
  const releases = buildReleases({
    version: releasesVersion,
    expires: expiresAfter(now, 365 * DAY),
    targets: [
      new TargetFile({ path: target.name, length: target.bytes.length, hashes: { sha256 } }),
    ],
  });
  signMetadata(releases, release);
  files.set(`${releasesVersion}.releases.json`, serializeMetadata(releases));

  const nextSnapshot = buildSnapshot({
    version: snapshot.signed.version + 1,
    expires: expiresAfter(now, 7 * DAY),
    meta: {
      'targets.json': metaFileFor(targetsVersion, files.get(`${targetsVersion}.targets.json`)!),
      'releases.json': metaFileFor(releasesVersion, files.get(`${releasesVersion}.releases.json`)!),
    },
  });
  signMetadata(nextSnapshot, await key('snapshot'));
  const snapshotBytes = serializeMetadata(nextSnapshot);
  files.set(`${nextSnapshot.signed.version}.snapshot.json`, snapshotBytes);
  const nextTimestamp = buildTimestamp({
    version: timestamp.signed.version + 1,
    expires: expiresAfter(now, DAY),
    snapshotVersion: nextSnapshot.signed.version,
    snapshotBytes,
  });
  signMetadata(nextTimestamp, await key('timestamp'));
  files.set('timestamp.json', serializeMetadata(nextTimestamp));

  const stored = join(paths.targets, ...consistentTargetPath(target.name, sha256).split('/'));
  await mkdir(dirname(stored), { recursive: true });
  await writeFile(stored, target.bytes);
  // The timestamp last, as a repository would publish.
  for (const [name, bytes] of files) {
    if (name !== 'timestamp.json') await writeFile(join(paths.metadata, name), bytes);
  }
  await writeFile(paths.timestamp, files.get('timestamp.json')!);
  return { files, targetsVersion };
}
