import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyFromPem } from '@glasshouse/attest';
import { buildServer } from '@glasshouse/log';
import type { ReleaseRecord } from '@glasshouse/release';
import {
  FileMirrorStore,
  MemoryAlertSink,
  SqliteMonitorStateStore,
  createMonitor,
} from '@glasshouse/witness';
import { encodeReleaseLogEntry, type ReleaseLogEntry } from '@glasshouse/release-format';
import { releaseLogChecker, supervisorDirApprovals, type ApprovalLookup } from '../src/index.js';
import { RULES_TESTDATA } from '../../release/test/assembly-fixtures.js';
import { startSupervised, type Supervised } from '../../release/test/supervised-fixture.js';
import { listen, makeTestLog, tempDir } from '../../log/test/monitor/monitor-fixtures.js';
import { rejectionCode } from '../../errors/test/codes.js';

const hex = (c: string): string => c.repeat(64);

describe('the supervisor checks the release log against its approvals', () => {
  let env: Supervised;
  let release: ReleaseRecord;
  let lookup: ApprovalLookup;
  let entry: Omit<ReleaseLogEntry, 'schema'>;

  beforeAll(async () => {
    env = await startSupervised({ requireReview: false, reviewers: [] });
    const supervisor = await env.openSupervisor();
    const commit = await env.repo.commit({}, { copyFrom: RULES_TESTDATA });
    release = await env.client.build(env.repo.dir, commit);
    const approved = await supervisor.rebuild(env.client, release.id);
    lookup = supervisorDirApprovals(
      env.supervisorDir,
      publicKeyFromPem(supervisor.identity.publicKeyPem),
    );
    const provenance = release.attestations.find((a) => a.kind === 'provenance')!;
    entry = {
      releaseId: release.id,
      name: release.name,
      version: release.version,
      targets: release.artifacts.map((a) => ({
        name: `${release.name}/${release.version}/${a.name}`,
        sha256: a.sha256,
      })),
      provenance: { sha256: provenance.sha256 },
      vsa: { sha256: approved.vsa.sha256 },
      approval: { sha256: approved.approval.sha256 },
    };
  }, 60_000);

  afterAll(async () => {
    await env.close();
  });

  const check = (e: Omit<ReleaseLogEntry, 'schema'>): Promise<string> =>
    rejectionCode(async () => {
      await releaseLogChecker(lookup).check({ index: 0n, data: encodeReleaseLogEntry(e) });
    });

  it('accepts the entry of a release it approved', async () => {
    expect(await check(entry)).toBe('accepted');
  });

  it('rejects entries that differ from what it approved', async () => {
    const cases: [string, Omit<ReleaseLogEntry, 'schema'>][] = [
      ['another artifact', { ...entry, targets: [{ name: 'x', sha256: hex('e') }] }],
      [
        'an extra artifact',
        { ...entry, targets: [...entry.targets, { name: 'y', sha256: hex('e') }] },
      ],
      ['another VSA', { ...entry, vsa: { sha256: hex('e') } }],
      ['another provenance', { ...entry, provenance: { sha256: hex('e') } }],
      ['another approval', { ...entry, approval: { sha256: hex('e') } }],
      ['an unknown release', { ...entry, releaseId: '01hq3yyyyyyyyyyyyyyyyyyyyy' }],
    ];
    for (const [name, e] of cases) {
      expect([name, await check(e)]).toEqual([name, 'RELEASE_LOG_ENTRY_UNAPPROVED']);
    }
    expect(
      await rejectionCode(async () => {
        await releaseLogChecker(lookup).check({ index: 3n, data: Buffer.from('hello') });
      }),
    ).toBe('RELEASE_LOG_ENTRY_INVALID');
  });

  it('counts only approvals that verify with the supervisor key', async () => {
    const dir = join(env.supervisorDir, 'records', release.id);
    expect((await readdir(dir)).filter((f) => f.startsWith('approval.'))).toHaveLength(1);
    expect(await lookup.approvals(release.id)).toHaveLength(1);
    const wrongKey = supervisorDirApprovals(
      env.supervisorDir,
      publicKeyFromPem(env.builder.publicKeyPem),
    );
    expect(await wrongKey.approvals(release.id)).toEqual([]);
  });

  it('the monitor raises entry-rejected for a logged release it never approved', async () => {
    const log = await makeTestLog();
    const server = buildServer({ log: log.log });
    const url = await listen(server);
    const stateDir = await tempDir('glasshouse-release-monitor-');
    try {
      await log.add([
        encodeReleaseLogEntry(entry),
        encodeReleaseLogEntry({ ...entry, targets: [{ name: 'evil.tar', sha256: hex('f') }] }),
      ]);
      const alerts = new MemoryAlertSink();
      const monitor = createMonitor({
        url,
        logVerifier: log.verifierKey,
        state: SqliteMonitorStateStore.open(stateDir),
        mirror: await FileMirrorStore.open(join(stateDir, 'mirror')),
        alerts,
        checker: releaseLogChecker(lookup),
      });
      const result = await monitor.runOnce();
      expect(result.alerts.map((a) => a.kind)).toEqual(['entry-rejected']);
      expect(result.alerts[0]?.evidence).toMatchObject({ index: '1' });
    } finally {
      await server.close();
      await log.close();
    }
  });
});
