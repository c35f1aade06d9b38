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
import {
  encodeReleaseLogEntry,
  parseReleaseLogEntry,
  releaseLogChecker,
  supervisorDirApprovals,
  type ApprovalLookup,
  type ReleaseLogEntry,
} from '../src/index.js';
import { RULES_TESTDATA } from '../../release/test/assembly-fixtures.js';
import { startSupervised, type Supervised } from '../../release/test/supervised-fixture.js';
import { listen, makeTestLog, tempDir } from '../../witness/test/monitor-fixtures.js';
import { codeOf, rejectionCode } from '../../errors/test/codes.js';

const hex = (c: string): string => c.repeat(64);

const sample: Omit<ReleaseLogEntry, 'schema'> = {
  releaseId: '01hq3zzzzzzzzzzzzzzzzzzzzz',
  name: 'demo-rules',
  version: '1.0.0',
  targets: [{ name: 'demo-rules/1.0.0/demo-rules-1.0.0.tar', sha256: hex('a') }],
  provenance: { sha256: hex('b') },
  vsa: { sha256: hex('c') },
  approval: { sha256: hex('d') },
};

describe('release-log entries', () => {
  it('round-trip in canonical JSON', () => {
    const bytes = encodeReleaseLogEntry(sample);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{"approval":{"sha256":"dddd')).toBe(true);
    expect(parseReleaseLogEntry(bytes)).toEqual({
      schema: 'glasshouse.release-log/v1',
      ...sample,
    });
  });

  it('refuse anything but the one encoding of a valid entry', () => {
    const good = JSON.parse(new TextDecoder().decode(encodeReleaseLogEntry(sample))) as Record<
      string,
      unknown
    >;
    const bad: [string, Uint8Array][] = [
      ['pretty-printed', Buffer.from(JSON.stringify(good, null, 1))],
      ['not JSON', Buffer.from('{')],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
      ['an array', Buffer.from('[]')],
      ['over 65,535 bytes', Buffer.alloc(70_000, 0x20)],
    ];
    const variants: [string, Record<string, unknown>][] = [
      ['an unknown field', { ...good, extra: 1 }],
      ['another schema', { ...good, schema: 'glasshouse.release-log/v2' }],
      ['a short digest', { ...good, vsa: { sha256: 'abc' } }],
      ['no targets', { ...good, targets: [] }],
      ['a target twice', { ...good, targets: [sample.targets[0], sample.targets[0]] }],
      ['an empty name', { ...good, name: '' }],
    ];
    for (const [name, value] of variants) bad.push([name, Buffer.from(JSON.stringify(value))]);
    for (const [name, bytes] of bad) {
      expect([name, codeOf(() => parseReleaseLogEntry(bytes))]).toEqual([
        name,
        'RELEASE_LOG_ENTRY_INVALID',
      ]);
    }
  });
});

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
