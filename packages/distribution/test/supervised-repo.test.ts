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
  supervisorSignTargets,
  RepoMonitor,
  type SupervisorTufKeys,
} from '../src/index.js';
import { JsonLinesAlertSink } from '@glasshouse/witness';
import { readFile } from 'node:fs/promises';
import { forgeRedelegation } from './forge.js';
import { RULES_TESTDATA, FIXED_EPOCH } from '../../release/test/assembly-fixtures.js';
import { startSupervised, type Supervised } from '../../release/test/supervised-fixture.js';
import { listen, makeTestLog, type TestLog } from '../../log/test/monitor/monitor-fixtures.js';
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
    supervisorKeys: {
      root: tufKeys.root.publicKey,
      targets: tufKeys.targets.publicKey,
      release: tufKeys.release.publicKey,
    },
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
  it('publishes root v1 only once the supervisor signed it and targets v1', async () => {
    expect((await readRepositoryState(repoDir)).rootVersion).toBe(0);
    const result = await supervisorSignRoot(client, tufKeys);
    expect(result).toMatchObject({ version: 1, published: false, awaitingTargets: true });
    expect((await readRepositoryState(repoDir)).rootVersion).toBe(0);
    const targets = await supervisorSignTargets(client, tufKeys);
    expect(targets).toMatchObject({ version: 1, published: true, signed: 2, threshold: 2 });
    const state = await readRepositoryState(repoDir);
    expect(state).toMatchObject({ rootVersion: 1, targetsVersion: 1, targetsScheme: 'two-party' });
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

  // Last: the forgery leaves the repository in the attacker's hands.
  it("the supervisor's repository monitor alerts once, with the metadata, on a re-delegation it did not sign", async () => {
    const stateDir = join(env.work, 'repo-monitor');
    const alertsPath = join(stateDir, 'alerts.jsonl');
    const open = () =>
      RepoMonitor.open({
        url: client.baseUrl,
        keys: { targets: tufKeys.targets.publicKey, release: tufKeys.release.publicKey },
        approvals: approvals(),
        alerts: new JsonLinesAlertSink(alertsPath),
        stateDir,
      });
    const monitor = await open();
    // What both organisations signed, every target part of an approval: nothing to say.
    const clean = await monitor.check();
    expect(clean.findings).toEqual([]);
    expect(clean.alert).toBeUndefined();

    const forged = await forgeRedelegation(repoDir, {
      name: `${approved.name}/6.6.6/payload.tar`,
      bytes: new TextEncoder().encode('unsupervised payload'),
    });
    const pass = await monitor.check();
    expect(pass.findings.map((f) => f.code)).toEqual([
      'REPO_TARGETS_UNSUPERVISED',
      'REPO_DELEGATION_UNSUPERVISED',
      'REPO_TARGET_UNAPPROVED',
    ]);
    expect(pass.alert).toMatchObject({
      kind: 'repository-unsupervised',
      code: 'REPO_TARGETS_UNSUPERVISED',
      log: client.baseUrl,
    });
    const files = pass.alert?.evidence.files as { role: string; metadata: unknown }[];
    const targetsFile = `${forged.targetsVersion}.targets.json`;
    expect(files.find((f) => f.role === 'targets')?.metadata).toEqual(
      JSON.parse(Buffer.from(forged.files.get(targetsFile)!).toString('utf8')),
    );

    // Once per piece of evidence: not again, nor after a restart.
    expect((await monitor.check()).alert).toBeUndefined();
    const restarted = await open();
    const again = await restarted.check();
    expect(again.findings).toHaveLength(3);
    expect(again.alert).toBeUndefined();
    const lines = (await readFile(alertsPath, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ code: 'REPO_TARGETS_UNSUPERVISED' });
  });
});
