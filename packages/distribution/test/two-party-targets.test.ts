/**
 * The top-level targets role needs both organisations: the real tuf-js
 * client refuses a re-delegation made with every key the vendor holds, the
 * supervisor refuses to sign a targets draft that weakens the delegation,
 * and a repository of the old scheme (targets the vendor's alone) migrates
 * by a root rotation that clients pinned to its root v1 follow.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addReleasesSignature,
  addRootSignature,
  addTargetsSignature,
  discardRootDraft,
  draftRootRotation,
  draftTargets,
  generateTufKey,
  initRepository,
  loadTufKey,
  publishRelease,
  readRepositoryState,
  repoPaths,
  rootDraft,
  signDraft,
  signRootDraftAsSupervisor,
  signTargetsDraftAsSupervisor,
  targetsDraft,
  tufKeyId,
  type SupervisorTufKeys,
  type TufMetadataDocument,
} from '../src/index.js';
import { rejectionCode } from '../../errors/test/codes.js';
import { forgeRedelegation } from './forge.js';
import {
  clientRootVersion,
  download,
  pinnedClient as pinnedClientOf,
  serveRepository,
} from './tuf-client.js';

const NAME = 'demo-rules/1.0.0/demo-rules-1.0.0.tar';
const BYTES = new TextEncoder().encode('rules bundle 1.0.0\n'.repeat(50));
const FORGED = { name: 'demo-rules/6.6.6/payload.tar', bytes: new TextEncoder().encode('owned\n') };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tempDir(prefix = 'two-party-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function supervisorKeys(): SupervisorTufKeys {
  return { root: generateTufKey(), targets: generateTufKey(), release: generateTufKey() };
}

interface Repo {
  dir: string;
  supervisor: SupervisorTufKeys;
}

/** A published repository; `scheme: 'old'` is what repositories were created as before. */
async function publishedRepo(scheme: 'two-party' | 'old'): Promise<Repo> {
  const dir = join(await tempDir(), 'repo');
  const supervisor = supervisorKeys();
  await initRepository({
    dir,
    supervisorKeys: {
      root: supervisor.root.publicKey,
      ...(scheme === 'two-party' ? { targets: supervisor.targets.publicKey } : {}),
      release: supervisor.release.publicKey,
    },
    now: new Date(),
  });
  if (scheme === 'two-party') {
    await addTargetsSignature(
      dir,
      signDraft(await targetsDraft(dir), supervisor.targets),
      new Date(),
    );
  }
  const root = await addRootSignature(
    dir,
    signDraft(await rootDraft(dir), supervisor.root),
    new Date(),
  );
  expect(root.published).toBe(true);
  const draft = await publishRelease({
    dir,
    targets: [{ name: NAME, bytes: BYTES }],
    now: new Date(),
  });
  expect(
    (await addReleasesSignature(dir, signDraft(draft, supervisor.release), new Date())).published,
  ).toBe(true);
  return { dir, supervisor };
}

const serve = (dir: string): Promise<string> =>
  serveRepository(dir, (close) => cleanups.push(close));

/** A tuf-js 5 client pinned to the repository's 1.root.json, as endpoints ship it. */
async function pinnedClient(dir: string, base: string) {
  const client = await pinnedClientOf(dir, base, tempDir);
  return {
    targetDir: client.targetDir,
    download: (name: string) => download(client, name),
    rootVersion: () => clientRootVersion(client),
  };
}

describe('a re-delegation made with every key the vendor holds', () => {
  it('is refused by tuf-js pinned to root v1 (TUF 5.6.3: targets needs 2 of its 2 keys)', async () => {
    const repo = await publishedRepo('two-party');
    const client = await pinnedClient(repo.dir, await serve(repo.dir));
    expect((await client.download(NAME)).equals(BYTES)).toBe(true);

    await forgeRedelegation(repo.dir, FORGED);
    await expect(client.download(FORGED.name)).rejects.toThrow(/targets was signed by 1\/2 keys/);
    expect(await readdir(client.targetDir)).toEqual([encodeURIComponent(NAME)]);
  });

  it('was accepted in the old scheme: the hole this closes', async () => {
    const repo = await publishedRepo('old');
    expect((await readRepositoryState(repo.dir)).targetsScheme).toBe('vendor-only');
    const client = await pinnedClient(repo.dir, await serve(repo.dir));
    await forgeRedelegation(repo.dir, FORGED);
    expect((await client.download(FORGED.name)).equals(Buffer.from(FORGED.bytes))).toBe(true);
  });
});

describe('migration of an old-scheme repository', () => {
  it('is a root rotation signed by both; clients pinned to the old root v1 follow it, then refuse the forgery', async () => {
    const repo = await publishedRepo('old');
    const client = await pinnedClient(repo.dir, await serve(repo.dir));
    expect((await client.download(NAME)).equals(BYTES)).toBe(true);

    // The supervisor will not co-sign a root that keeps targets the vendor's alone.
    const plain = await draftRootRotation({ dir: repo.dir, now: new Date() });
    expect(() => signRootDraftAsSupervisor(plain, repo.supervisor)).toThrow(
      expect.objectContaining({ code: 'TARGETS_ROLE_NOT_TWO_PARTY' }),
    );
    await discardRootDraft(repo.dir);

    const draft = await draftRootRotation({
      dir: repo.dir,
      now: new Date(),
      supervisorTargetsKey: repo.supervisor.targets.publicKey,
    });
    expect((draft.signed as { roles: { targets: unknown } }).roles.targets).toEqual({
      keyids: [expect.any(String), repo.supervisor.targets.keyid],
      threshold: 2,
    });
    expect((await readRepositoryState(repo.dir)).pending).toEqual({ root: 2, targets: 2 });

    // The root alone is not published: the published targets lacks the supervisor's signature.
    const root = await addRootSignature(
      repo.dir,
      signRootDraftAsSupervisor(draft, repo.supervisor),
      new Date(),
    );
    expect(root).toMatchObject({
      published: false,
      awaitingTargets: true,
      newRoot: { signed: 2, threshold: 2 },
      previousRoot: { signed: 2, threshold: 2 },
    });
    const targets = await addTargetsSignature(
      repo.dir,
      signTargetsDraftAsSupervisor({
        draft: await targetsDraft(repo.dir),
        published: { version: 1, vendorRelease: await vendorReleaseKey(repo.dir) },
        keys: repo.supervisor,
      }),
      new Date(),
    );
    expect(targets).toMatchObject({ version: 2, published: true, signed: 2, threshold: 2 });
    expect(await readRepositoryState(repo.dir)).toMatchObject({
      rootVersion: 2,
      targetsVersion: 2,
      targetsScheme: 'two-party',
      pending: {},
    });

    expect((await client.download(NAME)).equals(BYTES)).toBe(true);
    expect(await client.rootVersion()).toBe(2);
    await forgeRedelegation(repo.dir, FORGED);
    await expect(client.download(FORGED.name)).rejects.toThrow(/targets was signed by 1\/2 keys/);

    // A client that starts from the old root v1 only now gets there too.
    const late = await pinnedClient(repo.dir, await serve(repo.dir));
    await expect(late.download(FORGED.name)).rejects.toThrow(/targets was signed by 1\/2 keys/);
  });
});

describe('the targets ceremony', () => {
  it('publishes a renewal once both signed, and refuses other keys and bad signatures', async () => {
    const repo = await publishedRepo('two-party');
    const client = await pinnedClient(repo.dir, await serve(repo.dir));
    const now = new Date();
    expect(await rejectionCode(targetsDraft(repo.dir))).toBe('DRAFT_MISSING');
    const draft = await draftTargets({ dir: repo.dir, now });
    expect(await rejectionCode(draftTargets({ dir: repo.dir, now }))).toBe('DRAFT_PENDING');
    expect(
      await rejectionCode(
        addTargetsSignature(repo.dir, signDraft(draft, repo.supervisor.release), now),
      ),
    ).toBe('SIGNATURE_UNKNOWN_KEY');
    const other = { ...draft, signed: { ...draft.signed, version: 9 } };
    expect(
      await rejectionCode(
        addTargetsSignature(repo.dir, signDraft(other, repo.supervisor.targets), now),
      ),
    ).toBe('SIGNATURE_INVALID');
    // The vendor's own signature again: 1 of 2, nothing published.
    expect(await addTargetsSignature(repo.dir, draft.signatures[0]!, now)).toMatchObject({
      published: false,
      signed: 1,
      threshold: 2,
    });
    const signature = signTargetsDraftAsSupervisor({
      draft,
      published: { version: 1, vendorRelease: await vendorReleaseKey(repo.dir) },
      keys: repo.supervisor,
    });
    expect(await addTargetsSignature(repo.dir, signature, now)).toMatchObject({
      version: 2,
      published: true,
      signed: 2,
    });
    expect((await client.download(NAME)).equals(BYTES)).toBe(true);
  });
});

describe('supervisor sign-targets', () => {
  type Signed = {
    targets: Record<string, unknown>;
    delegations: {
      keys: Record<string, unknown>;
      roles: { keyids: string[]; threshold: number; terminating: boolean; paths: string[] }[];
    };
  };

  it('refuses a draft that weakens the delegation, with a code naming the change', async () => {
    const repo = await publishedRepo('two-party');
    const vendorRelease = await vendorReleaseKey(repo.dir);
    const draft = await draftTargets({ dir: repo.dir, now: new Date() });
    const published = { version: 1, vendorRelease };
    const refused = (change: (signed: Signed) => void, version = 2): string => {
      const copy = structuredClone(draft) as TufMetadataDocument & { signed: Signed };
      change(copy.signed);
      (copy.signed as unknown as { version: number }).version = version;
      try {
        signTargetsDraftAsSupervisor({ draft: copy, published, keys: repo.supervisor });
      } catch (err) {
        return (err as { code: string }).code;
      }
      return 'SIGNED';
    };
    const role = (s: Signed) => s.delegations.roles[0]!;
    const other = generateTufKey();

    expect(refused(() => undefined)).toBe('SIGNED');
    expect(refused((s) => (role(s).threshold = 1))).toBe('TARGETS_THRESHOLD_LOWERED');
    // One key swapped: the vendor's release key for another key of the vendor's.
    expect(
      refused((s) => {
        const r = role(s);
        r.keyids = r.keyids.map((id) => (id === tufKeyId(vendorRelease) ? other.keyid : id));
        s.delegations.keys = Object.fromEntries(
          Object.entries(s.delegations.keys).map(([id, key]) =>
            id === tufKeyId(vendorRelease) ? [other.keyid, other.publicKey] : [id, key],
          ),
        );
      }),
    ).toBe('TARGETS_KEY_SWAPPED');
    // The supervisor's key ID kept, another key behind it (clients do not recompute key IDs).
    expect(
      refused((s) => {
        s.delegations.keys[repo.supervisor.release.keyid] = other.publicKey;
      }),
    ).toBe('TARGETS_KEY_SWAPPED');
    expect(
      refused((s) => {
        s.targets[FORGED.name] = { length: 6, hashes: { sha256: 'a'.repeat(64) } };
      }),
    ).toBe('TARGETS_TOP_LEVEL_TARGET');
    expect(
      refused((s) => {
        s.delegations.roles.push({ ...role(s), keyids: [other.keyid], threshold: 1 });
        (s.delegations.roles[1] as unknown as { name: string }).name = 'hotfix';
      }),
    ).toBe('TARGETS_DELEGATION_CHANGED');
    expect(refused((s) => (role(s).terminating = false))).toBe('TARGETS_DELEGATION_CHANGED');
    expect(refused((s) => (role(s).paths = ['demo-rules/*']))).toBe('TARGETS_DELEGATION_CHANGED');
    expect(refused(() => undefined, 5)).toBe('DRAFT_MALFORMED');
  });
});

async function vendorReleaseKey(dir: string) {
  return (await loadTufKey(repoPaths(dir).vendorKey('release'))).publicKey;
}
