/**
 * The repository service between a real assembly line, a real supervisor
 * and a real release log, over loopback HTTP: what the supervisor signs and
 * what it refuses.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyFromPem } from '@glasshouse/attest';
import { buildServer } from '@glasshouse/log';
import { decodeBundle } from '@glasshouse/tlog';
import { parseReleaseLogEntry } from '@glasshouse/release-format';
import type { ReleaseRecord } from '@glasshouse/release';
import type { FastifyInstance } from 'fastify';
import {
  RepoClient,
  RepoService,
  buildRepoServer,
  discardReleasesDraft,
  ensurePublishToken,
  ensureSupervisorTufKeys,
  initRepository,
  publishRelease,
  readRepositoryState,
  supervisorDirApprovals,
  supervisorSignRelease,
  supervisorSignRoot,
  type SupervisorTufKeys,
} from '../src/index.js';
import { RULES_TESTDATA, FIXED_EPOCH } from '../../release/test/assembly-fixtures.js';
import { startSupervised, type Supervised } from '../../release/test/supervised-fixture.js';
import { listen, makeTestLog, type TestLog } from '../../witness/test/monitor-fixtures.js';
import { rejectionCode } from '../../errors/test/codes.js';

let env: Supervised;
let log: TestLog;
let logServer: FastifyInstance;
let repoServer: FastifyInstance;
let repoDir = '';
let client: RepoClient;
let token = '';
let tufKeys: SupervisorTufKeys;
let approved: ReleaseRecord;
let pending: ReleaseRecord;

const approvals = () => supervisorDirApprovals(env.supervisorDir, publicKeyFromPem(supervisorPem));
let supervisorPem = '';

beforeAll(async () => {
  env = await startSupervised({ requireReview: false, reviewers: [] });
  const supervisor = await env.openSupervisor();
  supervisorPem = supervisor.identity.publicKeyPem;
  const commit = await env.repo.commit({}, { copyFrom: RULES_TESTDATA });
  approved = await env.client.build(env.repo.dir, commit);
  await supervisor.rebuild(env.client, approved.id);
  const second = await env.repo.commit(
    { 'extra.txt': 'a second version\n' },
    { copyFrom: RULES_TESTDATA, epoch: FIXED_EPOCH + 10 },
  );
  pending = await env.client.build(env.repo.dir, second);

  log = await makeTestLog();
  logServer = buildServer({ log: log.log });
  const logUrl = await listen(logServer);

  repoDir = join(env.work, 'repo');
  tufKeys = await ensureSupervisorTufKeys(env.supervisorDir);
  await initRepository({
    dir: repoDir,
    supervisorKeys: { root: tufKeys.root.publicKey, release: tufKeys.release.publicKey },
    now: new Date(),
  });
  const service = new RepoService({
    dir: repoDir,
    assemblyUrl: env.url,
    releaseLogUrl: logUrl,
    layoutKeyPem: env.line.layoutKey.publicKeyPem,
  });
  token = await ensurePublishToken(repoDir);
  repoServer = buildRepoServer({ service, publishToken: token });
  client = new RepoClient(await repoServer.listen({ host: '127.0.0.1', port: 0 }));
}, 90_000);

afterAll(async () => {
  await repoServer.close();
  await logServer.close();
  await log.close();
  await env.close();
});

describe('the supervised repository', () => {
  it('publishes root v1 only once the supervisor signed it', async () => {
    expect((await readRepositoryState(repoDir)).rootVersion).toBe(0);
    const result = await supervisorSignRoot(client, tufKeys);
    expect(result).toMatchObject({ version: 1, published: true });
    expect((await readRepositoryState(repoDir)).rootVersion).toBe(1);
  });

  it('refuses to publish a release the supervisor has not approved', async () => {
    expect(await rejectionCode(() => client.publish(pending.id, token))).toBe(
      'RELEASE_NOT_APPROVED',
    );
    expect(await rejectionCode(() => client.publish(approved.id, 'not-the-token'))).toBe(
      'REPO_UNAUTHORIZED',
    );
  });

  it('publishes an approved release once both have signed, with its release-log entry', async () => {
    const draft = await client.publish(approved.id, token);
    expect(draft.targets).toContain(
      `${approved.name}/${approved.version}/${approved.artifacts[0]!.name}`,
    );
    expect(draft.targets).toContain(`${approved.name}/${approved.version}/release-log.tlog-proof`);
    expect((await readRepositoryState(repoDir)).releases).toBeUndefined();

    const signed = await supervisorSignRelease(client, tufKeys, approvals());
    expect(signed).toMatchObject({ published: true, signed: 2, threshold: 2 });
    const state = await readRepositoryState(repoDir);
    expect(state.releases?.targets).toEqual(expect.arrayContaining(draft.targets));

    // The log holds one entry, naming the release and its artifact.
    const bundle = await log.log.readTile('tile/entries/000.p/1');
    const [entry] = decodeBundle(bundle!);
    const parsed = parseReleaseLogEntry(entry!);
    expect(parsed).toMatchObject({ releaseId: approved.id, version: approved.version });
    expect(parsed.targets.map((t) => t.sha256)).toEqual(approved.artifacts.map((a) => a.sha256));
  });

  it('refuses to sign a draft carrying a target it did not approve', async () => {
    await publishRelease({
      dir: repoDir,
      targets: [
        {
          name: `${approved.name}/${approved.version}/extra-payload.bin`,
          bytes: new TextEncoder().encode('not what was rebuilt'),
          custom: { releaseId: approved.id, kind: 'artifact' },
        },
      ],
      now: new Date(),
    });
    expect(await rejectionCode(() => supervisorSignRelease(client, tufKeys, approvals()))).toBe(
      'RELEASES_DRAFT_REFUSED',
    );
    await discardReleasesDraft(repoDir);
    await publishRelease({
      dir: repoDir,
      targets: [
        {
          name: 'unrelated/1.0.0/tool.bin',
          bytes: new TextEncoder().encode('no release at all'),
          custom: { releaseId: pending.id, kind: 'artifact' },
        },
      ],
      now: new Date(),
    });
    expect(await rejectionCode(() => supervisorSignRelease(client, tufKeys, approvals()))).toBe(
      'RELEASES_DRAFT_REFUSED',
    );
    await discardReleasesDraft(repoDir);
    // Arbitrary bytes passed off as a layout or a receipt of an approved release.
    // (Same release, same version: only the bytes are wrong; the receipt name is taken, so another version.)
    for (const [file, attestation, kind] of [
      [`${approved.version}/attestations/second.layout`, 'layout', 'attestation'],
      ['9.9.9/release-log.tlog-proof', undefined, 'release-log-receipt'],
    ] as const) {
      await publishRelease({
        dir: repoDir,
        targets: [
          {
            name: `${approved.name}/${file}`,
            bytes: new TextEncoder().encode('#!/bin/sh\necho owned\n'),
            custom: { releaseId: approved.id, kind, ...(attestation ? { attestation } : {}) },
          },
        ],
        now: new Date(),
      });
      expect(await rejectionCode(() => supervisorSignRelease(client, tufKeys, approvals()))).toBe(
        'RELEASES_DRAFT_REFUSED',
      );
      await discardReleasesDraft(repoDir);
    }
  });
});
