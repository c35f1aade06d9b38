import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataKind, type Metadata, type Targets } from '@tufjs/models';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addReleasesSignature,
  addRootSignature,
  addTargetsSignature,
  buildSnapshot,
  buildTimestamp,
  discardReleasesDraft,
  draftRootRotation,
  expiresAfter,
  generateTufKey,
  initRepository,
  loadTufKey,
  metaFileFor,
  parseMetadataBytes,
  parseMetadataJson,
  publishRelease,
  readRepositoryState,
  refreshTimestamp,
  releasesDraft,
  repoPaths,
  rootDraft,
  serializeMetadata,
  signDraft,
  signMetadata,
  targetsDraft,
  type InitRepositoryResult,
  type TufSigningKey,
} from '../src/index.js';
import {
  clientRootVersion,
  download as downloadTarget,
  pinnedClient as pinnedClientOf,
  serveRepository,
  type PinnedClient as Client,
} from './tuf-client.js';
import { rejectionCode } from '../../errors/test/codes.js';

const DAY = 86_400;
const NAME = 'demo-rules/1.0.0/demo-rules-1.0.0.tar';
const BYTES = new TextEncoder().encode('rules bundle 1.0.0\n'.repeat(50));

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tempDir(prefix = 'tuf-repo-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Supervisor {
  root: TufSigningKey;
  targets: TufSigningKey;
  release: TufSigningKey;
}

interface Repo {
  dir: string;
  init: InitRepositoryResult;
  supervisor: Supervisor;
}

/** A repository whose root v1 and targets v1 the supervisor has signed (so it is published). */
async function publishedRepo(): Promise<Repo> {
  const repo = await draftRepo();
  await addTargetsSignature(
    repo.dir,
    signDraft(await targetsDraft(repo.dir), repo.supervisor.targets),
    new Date(),
  );
  const result = await addRootSignature(
    repo.dir,
    signDraft(await rootDraft(repo.dir), repo.supervisor.root),
    new Date(),
  );
  expect(result.published).toBe(true);
  return repo;
}

async function draftRepo(): Promise<Repo> {
  const dir = join(await tempDir(), 'repo');
  const supervisor = {
    root: generateTufKey(),
    targets: generateTufKey(),
    release: generateTufKey(),
  };
  const init = await initRepository({
    dir,
    supervisorKeys: {
      root: supervisor.root.publicKey,
      targets: supervisor.targets.publicKey,
      release: supervisor.release.publicKey,
    },
    now: new Date(),
  });
  return { dir, init, supervisor };
}

/** The vendor drafts a release and the supervisor signs it. */
async function release(
  repo: Repo,
  name = NAME,
  bytes = BYTES,
  custom: Record<string, unknown> = { logIndex: 7 },
) {
  const draft = await publishRelease({
    dir: repo.dir,
    targets: [{ name, bytes, custom }],
    now: new Date(),
  });
  const result = await addReleasesSignature(
    repo.dir,
    signDraft(draft, repo.supervisor.release),
    new Date(),
  );
  expect(result.published).toBe(true);
}

/**
 * What a vendor acting alone (or a stolen supervisor key) could put up:
 * releases metadata with the signatures given, published with a valid
 * snapshot and timestamp, skipping the repository's threshold check.
 */
async function publishUnchecked(dir: string, releases: Metadata<Targets>): Promise<void> {
  const paths = repoPaths(dir);
  const now = new Date();
  const timestamp = parseMetadataBytes(
    await readFile(paths.timestamp),
    MetadataKind.Timestamp,
    'REPO_CORRUPT',
    't',
  );
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshot = parseMetadataBytes(
    await readFile(paths.versioned(snapshotVersion, 'snapshot')),
    MetadataKind.Snapshot,
    'REPO_CORRUPT',
    's',
  );
  const releasesBytes = serializeMetadata(releases);
  await writeFile(paths.versioned(releases.signed.version, 'releases'), releasesBytes);
  const nextSnapshot = buildSnapshot({
    version: snapshotVersion + 1,
    expires: expiresAfter(now, 7 * DAY),
    meta: {
      ...snapshot.signed.meta,
      'releases.json': metaFileFor(releases.signed.version, releasesBytes),
    },
  });
  await writeTimestamped(dir, nextSnapshot, timestamp.signed.version + 1);
}

async function writeTimestamped(
  dir: string,
  snapshot: ReturnType<typeof buildSnapshot>,
  timestampVersion: number,
): Promise<void> {
  const paths = repoPaths(dir);
  signMetadata(snapshot, await loadTufKey(paths.vendorKey('snapshot')));
  const snapshotBytes = serializeMetadata(snapshot);
  await writeFile(paths.versioned(snapshot.signed.version, 'snapshot'), snapshotBytes);
  const timestamp = buildTimestamp({
    version: timestampVersion,
    expires: expiresAfter(new Date(), DAY),
    snapshotVersion: snapshot.signed.version,
    snapshotBytes,
  });
  signMetadata(timestamp, await loadTufKey(paths.vendorKey('timestamp')));
  await writeFile(paths.timestamp, serializeMetadata(timestamp));
}

const serve = (dir: string): Promise<string> =>
  serveRepository(dir, (close) => cleanups.push(close));

const pinnedClient = (repo: Repo, base: string): Promise<Client> =>
  pinnedClientOf(repo.dir, base, tempDir);

const download = (client: Client, name = NAME): Promise<Buffer> => downloadTarget(client, name);

async function expectNothingDownloaded(client: Client): Promise<void> {
  expect(await readdir(client.targetDir)).toEqual([]);
}

// ---------------------------------------------------------------------------
// The real tuf-js client against the repository over HTTP
// ---------------------------------------------------------------------------

describe('tuf-js 5.0.1 against the repository', () => {
  it('downloads a release signed by the vendor and the supervisor', async () => {
    const repo = await publishedRepo();
    await release(repo);
    const client = await pinnedClient(repo, await serve(repo.dir));

    const updater = client.updater();
    const info = await updater.getTargetInfo(NAME);
    expect(info?.custom).toEqual({ logIndex: 7 });
    expect(Buffer.from(await download(client)).equals(BYTES)).toBe(true);

    // Consistent snapshot layout (TUF 6.2.1, 5.7.3).
    const metadata = (await readdir(join(repo.dir, 'metadata'))).sort();
    expect(metadata).toEqual([
      '1.releases.json',
      '1.root.json',
      '1.snapshot.json',
      '1.targets.json',
      '2.snapshot.json',
      'root.json',
      'timestamp.json',
    ]);
    const sha256 = info!.hashes.sha256!;
    await stat(join(repo.dir, 'targets', 'demo-rules', '1.0.0', `${sha256}.demo-rules-1.0.0.tar`));
  });

  it('refuses a release carrying only the vendor signature', async () => {
    const repo = await publishedRepo();
    const draft = await publishRelease({
      dir: repo.dir,
      targets: [{ name: NAME, bytes: BYTES }],
      now: new Date(),
    });
    await publishUnchecked(
      repo.dir,
      parseMetadataJson(draft, MetadataKind.Targets, 'DRAFT_MALFORMED', 'd'),
    );
    const client = await pinnedClient(repo, await serve(repo.dir));

    await expect(download(client)).rejects.toThrow(/releases was signed by 1\/2 keys/);
    await expectNothingDownloaded(client);
  });

  it('refuses a release carrying only the supervisor signature', async () => {
    const repo = await publishedRepo();
    const draft = parseMetadataJson(
      await publishRelease({
        dir: repo.dir,
        targets: [{ name: NAME, bytes: BYTES }],
        now: new Date(),
      }),
      MetadataKind.Targets,
      'DRAFT_MALFORMED',
      'd',
    );
    draft.signatures = {};
    signMetadata(draft, repo.supervisor.release);
    await publishUnchecked(repo.dir, draft);
    const client = await pinnedClient(repo, await serve(repo.dir));

    await expect(download(client)).rejects.toThrow(/releases was signed by 1\/2 keys/);
    await expectNothingDownloaded(client);
  });

  it('follows a root rotation signed by both organisations', async () => {
    const repo = await publishedRepo();
    await release(repo);
    const client = await pinnedClient(repo, await serve(repo.dir));

    const draft = await draftRootRotation({
      dir: repo.dir,
      now: new Date(),
      replaceVendorRootKey: true,
    });
    expect(draft.signatures).toHaveLength(2); // the vendor's old and new root keys
    const result = await addRootSignature(
      repo.dir,
      signDraft(draft, repo.supervisor.root),
      new Date(),
    );
    expect(result).toMatchObject({
      version: 2,
      published: true,
      newRoot: { signed: 2, threshold: 2 },
      previousRoot: { signed: 2, threshold: 2 },
    });

    expect(Buffer.from(await download(client)).equals(BYTES)).toBe(true);
    expect(await clientRootVersion(client)).toBe(2);
  });

  it('refuses a root rotation signed by the vendor alone', async () => {
    const repo = await publishedRepo();
    await release(repo);
    const client = await pinnedClient(repo, await serve(repo.dir));
    const draft = await draftRootRotation({
      dir: repo.dir,
      now: new Date(),
      replaceVendorRootKey: true,
    });
    // Put up 2.root.json with the vendor's two signatures only.
    await writeFile(join(repo.dir, 'metadata', '2.root.json'), JSON.stringify(draft));

    await expect(client.updater().refresh()).rejects.toThrow(/root was signed by 1\/2 keys/);
    await expect(download(client)).rejects.toThrow(/root was signed by 1\/2 keys/);
    expect(await clientRootVersion(client)).toBe(1);
    await expectNothingDownloaded(client);
  });

  it('refuses an expired timestamp, and recovers once it is refreshed', async () => {
    const repo = await publishedRepo();
    await release(repo);
    // A timestamp signed two days ago with a one-day lifetime.
    const stale = await refreshTimestamp(repo.dir, new Date(Date.now() - 2 * DAY * 1000), {
      ifExpiringWithin: 30 * DAY,
    });
    expect(stale.renewedTimestamp).toBe(true);
    const client = await pinnedClient(repo, await serve(repo.dir));

    await expect(download(client)).rejects.toThrow(/timestamp.json is expired/);
    await expectNothingDownloaded(client);

    const fresh = await refreshTimestamp(repo.dir, new Date(), { ifExpiringWithin: 3600 });
    expect(fresh).toMatchObject({
      renewedTimestamp: true,
      timestampVersion: stale.timestampVersion + 1,
    });
    expect(Buffer.from(await download(client)).equals(BYTES)).toBe(true);
  });

  it('refuses a rolled-back timestamp or snapshot after seeing a newer one', async () => {
    const repo = await publishedRepo();
    const paths = repoPaths(repo.dir);
    const oldTimestamp = await readFile(paths.timestamp); // v1 -> snapshot v1
    await release(repo); // timestamp v2 -> snapshot v2
    const client = await pinnedClient(repo, await serve(repo.dir));
    await client.updater().refresh();

    // A mirror replays the older timestamp (TUF 5.4.3.1).
    await writeFile(paths.timestamp, oldTimestamp);
    await expect(download(client)).rejects.toThrow(
      /New timestamp version 1 is less than current version 2/,
    );

    // A freshly signed timestamp that points back to snapshot v1 (TUF 5.4.3.2).
    const snapshotV1 = await readFile(paths.versioned(1, 'snapshot'));
    const timestamp = buildTimestamp({
      version: 3,
      expires: expiresAfter(new Date(), DAY),
      snapshotVersion: 1,
      snapshotBytes: snapshotV1,
    });
    signMetadata(timestamp, await loadTufKey(paths.vendorKey('timestamp')));
    await writeFile(paths.timestamp, serializeMetadata(timestamp));
    await expect(download(client)).rejects.toThrow(
      /New snapshot version 1 is less than current version 2/,
    );
    await expectNothingDownloaded(client);
  });

  it('refuses target bytes that differ from the metadata', async () => {
    const repo = await publishedRepo();
    await release(repo);
    const client = await pinnedClient(repo, await serve(repo.dir));
    const info = await client.updater().getTargetInfo(NAME);
    const stored = join(
      repo.dir,
      'targets',
      'demo-rules',
      '1.0.0',
      `${info!.hashes.sha256!}.demo-rules-1.0.0.tar`,
    );
    const tampered = Buffer.from(BYTES);
    tampered[0] = tampered[0]! ^ 0xff;
    await writeFile(stored, tampered);

    await expect(download(client)).rejects.toThrow(/Expected hash/);
    await expectNothingDownloaded(client);
  });
});

// ---------------------------------------------------------------------------
// Ceremonies and their coded errors
// ---------------------------------------------------------------------------

describe('initRepository', () => {
  it('keeps everything unpublished until the supervisor signs root v1', async () => {
    const repo = await draftRepo();
    const paths = repoPaths(repo.dir);
    expect(await readdir(paths.metadata)).toEqual([]);
    expect(await readRepositoryState(repo.dir)).toEqual({
      rootVersion: 0,
      targetsVersion: 0,
      targetsScheme: 'two-party',
      pending: { root: 1, targets: 1 },
    });
    for (const name of await readdir(paths.keys)) {
      expect((await stat(join(paths.keys, name))).mode & 0o777).toBe(0o600);
    }
    const draft = await rootDraft(repo.dir);
    expect(draft.signatures.map((s) => s.keyid)).toEqual([repo.init.vendorKeys.root.keyid]);
    expect(draft.signed).toMatchObject({ _type: 'root', version: 1, consistent_snapshot: true });

    // Releases cannot be drafted before there is a snapshot to publish them in.
    expect(
      await rejectionCode(publishRelease({ dir: repo.dir, targets: [], now: new Date() })),
    ).toBe('ROOT_NOT_PUBLISHED');
  });

  it('refuses a non-empty directory, a bad threshold and a bad supervisor key', async () => {
    const repo = await draftRepo();
    const supervisorKeys = {
      root: repo.supervisor.root.publicKey,
      release: repo.supervisor.release.publicKey,
    };
    expect(
      await rejectionCode(initRepository({ dir: repo.dir, supervisorKeys, now: new Date() })),
    ).toBe('REPO_ALREADY_INITIALIZED');
    const fresh = join(await tempDir(), 'r');
    expect(
      await rejectionCode(
        initRepository({ dir: fresh, supervisorKeys, rootThreshold: 3, now: new Date() }),
      ),
    ).toBe('REPO_OPTION_INVALID');
    expect(
      await rejectionCode(
        initRepository({ dir: fresh, supervisorKeys, expiries: { timestamp: 0 }, now: new Date() }),
      ),
    ).toBe('REPO_OPTION_INVALID');
    const badKey = { ...supervisorKeys.root, keyval: { public: 'zz' } };
    expect(
      await rejectionCode(
        initRepository({
          dir: fresh,
          supervisorKeys: { ...supervisorKeys, root: badKey },
          now: new Date(),
        }),
      ),
    ).toBe('KEY_MALFORMED');
    expect(await rejectionCode(rootDraft(await tempDir()))).toBe('REPO_NOT_INITIALIZED');
  });
});

describe('addRootSignature', () => {
  it('refuses unknown keys, invalid and malformed signatures, and an expired draft', async () => {
    const repo = await draftRepo();
    const draft = await rootDraft(repo.dir);
    const now = new Date();
    // The supervisor's release key is not a root key.
    expect(
      await rejectionCode(
        addRootSignature(repo.dir, signDraft(draft, repo.supervisor.release), now),
      ),
    ).toBe('SIGNATURE_UNKNOWN_KEY');
    // The right key over other bytes.
    const wrong = signDraft(
      { ...draft, signed: { ...draft.signed, version: 2 } },
      repo.supervisor.root,
    );
    expect(await rejectionCode(addRootSignature(repo.dir, wrong, now))).toBe('SIGNATURE_INVALID');
    expect(await rejectionCode(addRootSignature(repo.dir, { keyid: 'abc', sig: '00' }, now))).toBe(
      'SIGNATURE_MALFORMED',
    );
    const good = signDraft(draft, repo.supervisor.root);
    expect(
      await rejectionCode(
        addRootSignature(repo.dir, good, new Date(now.getTime() + 400 * DAY * 1000)),
      ),
    ).toBe('DRAFT_EXPIRED');
    // None of these changed the draft.
    expect(await rootDraft(repo.dir)).toEqual(draft);

    await addTargetsSignature(
      repo.dir,
      signDraft(await targetsDraft(repo.dir), repo.supervisor.targets),
      now,
    );
    expect(await addRootSignature(repo.dir, good, now)).toMatchObject({
      version: 1,
      published: true,
    });
    expect(await rejectionCode(addRootSignature(repo.dir, good, now))).toBe('DRAFT_MISSING');
    expect(await rejectionCode(rootDraft(repo.dir))).toBe('DRAFT_MISSING');
  });

  it('refuses a draft that is not root metadata', async () => {
    const repo = await draftRepo();
    await writeFile(
      repoPaths(repo.dir).rootDraft,
      '{"signed": {"_type": "targets"}, "signatures": []}',
    );
    expect(await rejectionCode(rootDraft(repo.dir))).toBe('DRAFT_MALFORMED');
    expect(() =>
      signDraft({ signed: { _type: 'snapshot' }, signatures: [] }, repo.supervisor.root),
    ).toThrow(expect.objectContaining({ code: 'DRAFT_MALFORMED' }));
  });

  it('needs the new and the previous root thresholds when the supervisor replaces its key (TUF 5.3.4)', async () => {
    const repo = await publishedRepo();
    const newSupervisorRoot = generateTufKey();
    const draft = await draftRootRotation({
      dir: repo.dir,
      now: new Date(),
      supervisorRootKey: newSupervisorRoot.publicKey,
    });
    expect(await rejectionCode(draftRootRotation({ dir: repo.dir, now: new Date() }))).toBe(
      'DRAFT_PENDING',
    );

    // The old supervisor key counts for the previous root only.
    const first = await addRootSignature(
      repo.dir,
      signDraft(draft, repo.supervisor.root),
      new Date(),
    );
    expect(first).toMatchObject({
      published: false,
      newRoot: { signed: 1, threshold: 2 },
      previousRoot: { signed: 2, threshold: 2 },
    });
    const second = await addRootSignature(
      repo.dir,
      signDraft(draft, newSupervisorRoot),
      new Date(),
    );
    expect(second).toMatchObject({
      version: 2,
      published: true,
      newRoot: { signed: 2, threshold: 2 },
    });
    expect((await readRepositoryState(repo.dir)).rootVersion).toBe(2);

    // From now on the old supervisor root key is nobody.
    const third = await draftRootRotation({ dir: repo.dir, now: new Date(), threshold: 1 });
    expect(
      await rejectionCode(
        addRootSignature(repo.dir, signDraft(third, repo.supervisor.root), new Date()),
      ),
    ).toBe('SIGNATURE_UNKNOWN_KEY');
  });
});

describe('publishRelease and addReleasesSignature', () => {
  it('refuse unknown keys, invalid signatures, a second draft, bad names and duplicates', async () => {
    const repo = await publishedRepo();
    const now = new Date();
    expect(await rejectionCode(releasesDraft(repo.dir))).toBe('DRAFT_MISSING');
    expect(
      await rejectionCode(
        addReleasesSignature(
          repo.dir,
          signDraft(await rootDraftOf(repo), repo.supervisor.release),
          now,
        ),
      ),
    ).toBe('DRAFT_MISSING');

    const draft = await publishRelease({
      dir: repo.dir,
      targets: [{ name: NAME, bytes: BYTES }],
      now,
    });
    expect(
      await rejectionCode(
        publishRelease({ dir: repo.dir, targets: [{ name: 'other.tar', bytes: BYTES }], now }),
      ),
    ).toBe('DRAFT_PENDING');
    // The supervisor's root key is not a release key.
    expect(
      await rejectionCode(
        addReleasesSignature(repo.dir, signDraft(draft, repo.supervisor.root), now),
      ),
    ).toBe('SIGNATURE_UNKNOWN_KEY');
    const changed = { ...draft, signed: { ...draft.signed, version: 9 } };
    expect(
      await rejectionCode(
        addReleasesSignature(repo.dir, signDraft(changed, repo.supervisor.release), now),
      ),
    ).toBe('SIGNATURE_INVALID');
    expect(await rejectionCode(addReleasesSignature(repo.dir, { keyid: 'x', sig: 'y' }, now))).toBe(
      'SIGNATURE_MALFORMED',
    );

    // The vendor's own signature again changes nothing: 1 of 2.
    const vendorSignature = draft.signatures[0]!;
    expect(await addReleasesSignature(repo.dir, vendorSignature, now)).toEqual({
      version: 1,
      published: false,
      signed: 1,
      threshold: 2,
    });
    expect(
      await addReleasesSignature(repo.dir, signDraft(draft, repo.supervisor.release), now),
    ).toEqual({
      version: 1,
      published: true,
      signed: 2,
      threshold: 2,
    });

    expect(
      await rejectionCode(
        publishRelease({ dir: repo.dir, targets: [{ name: NAME, bytes: BYTES }], now }),
      ),
    ).toBe('TARGET_EXISTS');
    for (const name of ['../etc/passwd', '.hidden', 'a//b', '/abs', 'a b', 'x/'.repeat(9) + 'y']) {
      expect(
        await rejectionCode(
          publishRelease({ dir: repo.dir, targets: [{ name, bytes: BYTES }], now }),
        ),
      ).toBe('TARGET_NAME_INVALID');
    }
    expect(
      await rejectionCode(
        publishRelease({
          dir: repo.dir,
          targets: [{ name: 'f.tar', bytes: BYTES, custom: { x: 0.5 } }],
          now,
        }),
      ),
    ).toBe('TARGET_CUSTOM_INVALID');
    expect((await readRepositoryState(repo.dir)).pending).toEqual({});
  });

  it('keeps earlier targets in the next version, and a discarded draft leaves no trace', async () => {
    const repo = await publishedRepo();
    await release(repo);
    await publishRelease({
      dir: repo.dir,
      targets: [{ name: 'x.tar', bytes: BYTES }],
      now: new Date(),
    });
    await discardReleasesDraft(repo.dir);
    await release(repo, 'demo-rules/1.0.1/demo-rules-1.0.1.tar', BYTES, { logIndex: 8 });
    const state = await readRepositoryState(repo.dir);
    expect(state.releases).toMatchObject({
      version: 2,
      targets: [NAME, 'demo-rules/1.0.1/demo-rules-1.0.1.tar'],
    });
    expect(state.snapshot?.version).toBe(3);
    expect(state.timestamp?.version).toBe(3);
  });
});

describe('crash recovery', () => {
  it('drops drafts that a crash left behind after their publication', async () => {
    const repo = await draftRepo();
    const paths = repoPaths(repo.dir);
    const root = await readFile(paths.rootDraft);
    await addTargetsSignature(
      repo.dir,
      signDraft(await targetsDraft(repo.dir), repo.supervisor.targets),
      new Date(),
    );
    await addRootSignature(
      repo.dir,
      signDraft(await rootDraft(repo.dir), repo.supervisor.root),
      new Date(),
    );
    const draft = await publishRelease({
      dir: repo.dir,
      targets: [{ name: NAME, bytes: BYTES }],
      now: new Date(),
    });
    const releases = await readFile(paths.releasesDraft);
    await addReleasesSignature(repo.dir, signDraft(draft, repo.supervisor.release), new Date());

    // As if the process died between the commit point and the draft's removal.
    await writeFile(paths.rootDraft, root);
    await writeFile(paths.releasesDraft, releases);
    expect((await readRepositoryState(repo.dir)).pending).toEqual({});
    expect(await readdir(paths.drafts)).toEqual([]);
    await release(repo, 'next.tar');
  });
});

describe('refreshTimestamp', () => {
  it('renews only what expires within the margin', async () => {
    const repo = await publishedRepo();
    const now = new Date();
    expect(await refreshTimestamp(repo.dir, now, { ifExpiringWithin: 3600 })).toEqual({
      timestampVersion: 1,
      snapshotVersion: 1,
      renewedTimestamp: false,
      renewedSnapshot: false,
    });
    expect(await refreshTimestamp(repo.dir, now, { ifExpiringWithin: 2 * DAY })).toEqual({
      timestampVersion: 2,
      snapshotVersion: 1,
      renewedTimestamp: true,
      renewedSnapshot: false,
    });
    expect(await refreshTimestamp(repo.dir, now, { ifExpiringWithin: 8 * DAY })).toEqual({
      timestampVersion: 3,
      snapshotVersion: 2,
      renewedTimestamp: true,
      renewedSnapshot: true,
    });
  });
});

/** Some root-draft document to sign with the wrong kind of draft. */
async function rootDraftOf(repo: Repo) {
  return JSON.parse(await readFile(join(repo.dir, 'metadata', '1.root.json'), 'utf8')) as unknown;
}
