// The page's TUF client (src/verify/tuf.ts) follows root rotations as TUF
// 5.3 says, checked on a real repository (@glasshouse/distribution's root
// ceremony: the vendor drafts root v2, the supervisor co-signs it) and
// against the real tuf-js client on the same files: both accept the same
// rotations and refuse the same forged ones.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addReleasesSignature,
  addRootSignature,
  addTargetsSignature,
  draftRootRotation,
  generateTufKey,
  initRepository,
  publishRelease,
  rootDraft,
  signDraft,
  targetsDraft,
} from '@glasshouse/distribution';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clientRootVersion,
  download,
  pinnedClient,
  serveRepository,
} from '../../../packages/distribution/test/tuf-client.js';
import { targetsOf, verifyTufChain } from '../src/verify/tuf.js';

const NAME = 'demo-rules/1.0.0/demo-rules-1.0.0.tar';
const BYTES = new TextEncoder().encode('rules bundle 1.0.0\n');
const BASE = '/svc/repo/';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});
async function tempDir(prefix = 'portal-tuf-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A published repository (root v1, targets v1) with one release both organisations signed. */
async function repository() {
  const dir = join(await tempDir(), 'repo');
  const supervisor = {
    root: generateTufKey(),
    targets: generateTufKey(),
    release: generateTufKey(),
  };
  await initRepository({
    dir,
    supervisorKeys: {
      root: supervisor.root.publicKey,
      targets: supervisor.targets.publicKey,
      release: supervisor.release.publicKey,
    },
    now: new Date(),
  });
  await addTargetsSignature(
    dir,
    signDraft(await targetsDraft(dir), supervisor.targets),
    new Date(),
  );
  await addRootSignature(dir, signDraft(await rootDraft(dir), supervisor.root), new Date());
  const draft = await publishRelease({
    dir,
    targets: [{ name: NAME, bytes: BYTES }],
    now: new Date(),
  });
  await addReleasesSignature(dir, signDraft(draft, supervisor.release), new Date());
  const pinned = (
    JSON.parse(await readFile(join(dir, 'metadata', '1.root.json'), 'utf8')) as {
      signed: Record<string, unknown>;
    }
  ).signed;
  return { dir, supervisor, pinned };
}

/** The repository's files as the portal's proxy would serve them (404 for a file that is not there). */
function fetcherOf(dir: string) {
  return async (url: string): Promise<Response> => {
    const path = url.slice(BASE.length);
    try {
      return new Response(await readFile(join(dir, ...path.split('/'))));
    } catch {
      return new Response('not found', { status: 404 });
    }
  };
}

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (err: unknown) => (err as { code?: string }).code,
  );

describe("the page's TUF root rotation (TUF 5.3)", () => {
  it('follows root v1 → v2 → v3 signed by both roots, as tuf-js does', async () => {
    const repo = await repository();
    const client = await pinnedClient(
      repo.dir,
      await serveRepository(repo.dir, (c) => cleanups.push(c)),
      tempDir,
    );
    const none = await verifyTufChain(BASE, repo.pinned, new Date(), fetcherOf(repo.dir));
    expect(none.rootUpdates).toEqual([]);

    for (const version of [2, 3]) {
      // The vendor replaces its root key (signed by its old and new key); the supervisor co-signs.
      const draft = await draftRootRotation({
        dir: repo.dir,
        now: new Date(),
        replaceVendorRootKey: true,
      });
      const result = await addRootSignature(
        repo.dir,
        signDraft(draft, repo.supervisor.root),
        new Date(),
      );
      expect(result).toMatchObject({ version, published: true });
    }
    const chain = await verifyTufChain(BASE, repo.pinned, new Date(), fetcherOf(repo.dir));
    expect(chain.pinnedRootVersion).toBe(1);
    expect(
      chain.rootUpdates.map((u) => [
        u.version,
        u.byPrevious.signedBy.length,
        u.bySelf.signedBy.length,
      ]),
    ).toEqual([
      [2, 2, 2],
      [3, 2, 2],
    ]);
    expect(chain.root.version).toBe(3);
    // The rest of the chain is checked under root v3 and still reaches the release.
    expect(targetsOf(chain.releases).map((t) => t.name)).toEqual([NAME]);
    // tuf-js, pinned to the same root v1, agrees.
    expect(Buffer.from(await download(client, NAME)).equals(Buffer.from(BYTES))).toBe(true);
    expect(await clientRootVersion(client)).toBe(3);
  });

  it('refuses a root v2 the vendor signed alone, and one that is not version 2, as tuf-js does', async () => {
    const repo = await repository();
    const draft = await draftRootRotation({
      dir: repo.dir,
      now: new Date(),
      replaceVendorRootKey: true,
    });
    // Up on the server without the supervisor's signature: 1 of root v1's 2 needed keys.
    // (and as root.json, the newest root the server names, as it would)
    for (const file of ['2.root.json', 'root.json'])
      await writeFile(join(repo.dir, 'metadata', file), JSON.stringify(draft));
    expect(await codeOf(verifyTufChain(BASE, repo.pinned, new Date(), fetcherOf(repo.dir)))).toBe(
      'TUF_THRESHOLD_NOT_MET',
    );
    const base = await serveRepository(repo.dir, (c) => cleanups.push(c));
    const client = await pinnedClient(repo.dir, base, tempDir);
    await expect(client.updater().refresh()).rejects.toThrow(/root was signed by 1\/2 keys/);

    // Root v1 again, served as 2.root.json: signed by the right keys, but a rollback (5.3.5).
    await copyFile(
      join(repo.dir, 'metadata', '1.root.json'),
      join(repo.dir, 'metadata', '2.root.json'),
    );
    expect(await codeOf(verifyTufChain(BASE, repo.pinned, new Date(), fetcherOf(repo.dir)))).toBe(
      'TUF_ROOT_VERSION_MISMATCH',
    );
    const again = await pinnedClient(repo.dir, base, tempDir);
    await expect(again.updater().refresh()).rejects.toThrow(/version/i);
  });
});
