/**
 * The attack suite: each attack on an agent that has rules 1.0.0 (or newer)
 * installed is refused with its own code, the previous rules stay active
 * and `status` records why. Every test builds its own world (repository,
 * release log, witness), so no attack leaks into the next.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addRootSignature,
  draftRootRotation,
  refreshTimestamp,
  repoPaths,
  signDraft,
} from '@glasshouse/distribution';
import { readBundle, serializeManifest, writeTar } from '@glasshouse/bundle';
import {
  AgentError,
  agentStatus,
  updateAgent,
  type Agent,
  type AgentErrorCode,
} from '../src/index.js';
import { FIXED_EPOCH } from '../../release/test/assembly-fixtures.js';
import { RULES, rulesBundle, startWorld, storedName, type World } from './fixtures.js';

const DAY = 86_400;
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

/** A world with 1.0.0 published and installed by a fresh agent. */
async function installed(): Promise<{ world: World; agent: Agent }> {
  const world = await startWorld();
  worlds.push(world);
  const agent = await world.newAgent();
  await world.publish('1.0.0');
  expect(await updateAgent({ dir: agent.dir })).toMatchObject({ status: 'installed' });
  return { world, agent };
}

/** The update is refused with `code`; `version` stays active and status says why. */
async function expectRefused(agent: Agent, code: AgentErrorCode, version = '1.0.0'): Promise<void> {
  const err: unknown = await updateAgent({ dir: agent.dir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  expect((err as AgentError).code).toBe(code);
  const status = await agentStatus(agent.dir);
  expect(status.active?.version).toBe(version);
  expect(status.lastUpdate).toMatchObject({ result: 'refused', code });
}

const timestampPath = (world: World): string => repoPaths(world.repoDir).timestamp;

describe('attacks on the agent', () => {
  it('rollback: an older timestamp served again', async () => {
    const { world, agent } = await installed();
    const old = await readFile(timestampPath(world));
    await world.publish('1.0.1');
    expect(await updateAgent({ dir: agent.dir })).toMatchObject({ status: 'installed' });
    await writeFile(timestampPath(world), old);
    await expectRefused(agent, 'AGENT_TUF_ROLLBACK', '1.0.1');
  });

  it('freeze: an expired timestamp', async () => {
    const { world, agent } = await installed();
    await world.publish('1.0.1');
    await refreshTimestamp(world.repoDir, new Date(Date.now() - 2 * DAY * 1000), {
      ifExpiringWithin: 30 * DAY,
    });
    await expectRefused(agent, 'AGENT_TUF_EXPIRED');
  });

  it('mix-and-match: the snapshot of another version under the new name', async () => {
    const { world, agent } = await installed();
    const snapshotVersion = async (): Promise<number> =>
      (
        JSON.parse(await readFile(timestampPath(world), 'utf8')) as {
          signed: { meta: Record<string, { version: number }> };
        }
      ).signed.meta['snapshot.json']!.version;
    const before = await snapshotVersion();
    await world.publish('1.0.1');
    const after = await snapshotVersion();
    world.override(
      `metadata/${after}.snapshot.json`,
      await readFile(repoPaths(world.repoDir).versioned(before, 'snapshot')),
    );
    await expectRefused(agent, 'AGENT_TUF_MIX_AND_MATCH');
  });

  it('endless data: oversize metadata, and a target longer than listed', async () => {
    const { world, agent } = await installed();
    const release = await world.publish('1.0.1');
    world.override('metadata/timestamp.json', new Uint8Array(1024 * 1024).fill(0x20));
    await expectRefused(agent, 'AGENT_TUF_TOO_LARGE');
    world.override('metadata/timestamp.json', undefined);

    const file = storedName(release.bundleTarget, release.bundle);
    world.override(
      `targets/${file}`,
      Buffer.concat([release.bundle, new Uint8Array(4 * 1024 * 1024)]),
    );
    await expectRefused(agent, 'AGENT_TUF_TOO_LARGE');
  });

  it('releases signed by the vendor alone', async () => {
    const { world, agent } = await installed();
    await world.publish('1.0.1', { signers: 'vendor' });
    await expectRefused(agent, 'AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING');
  });

  it('releases signed by the supervisor alone', async () => {
    const { world, agent } = await installed();
    await world.publish('1.0.1', { signers: 'supervisor' });
    await expectRefused(agent, 'AGENT_TUF_VENDOR_SIGNATURE_MISSING');
  });

  it('the artifact swapped after signing', async () => {
    const { world, agent } = await installed();
    const release = await world.publish('1.0.1');
    const file = join(world.repoDir, 'targets', storedName(release.bundleTarget, release.bundle));
    const swapped = Buffer.from(release.bundle);
    swapped[600] = swapped[600]! ^ 0xff;
    await writeFile(file, swapped);
    await expectRefused(agent, 'AGENT_TUF_TARGET_MISMATCH');
  });

  it('a release missing from the log (a receipt for another entry)', async () => {
    const { world, agent } = await installed();
    const first = await world.publish('1.0.1');
    await updateAgent({ dir: agent.dir });
    await world.publish('1.0.2', { unloggedReceipt: first.receipt });
    await expectRefused(agent, 'AGENT_LOG_ENTRY_MISSING', '1.0.1');
  });

  it('a log fork: a checkpoint inconsistent with the one seen before', async () => {
    const { world, agent } = await installed();
    const fork = await world.forkLog();
    await fork.log.add(new TextEncoder().encode('another history'));
    await world.publish('1.0.1', { log: fork });
    world.switchLog(fork);
    await expectRefused(agent, 'AGENT_LOG_FORK');
  });

  it('a checkpoint without the witness quorum', async () => {
    const { world, agent } = await installed();
    await world.publish('1.0.1', {
      receipt: (receipt) =>
        receipt
          .split('\n')
          .filter((line) => !line.startsWith('— supervisor.example.org/witness '))
          .join('\n'),
    });
    await expectRefused(agent, 'AGENT_LOG_QUORUM_NOT_MET');
  });

  it('a VSA for another digest', async () => {
    const { world, agent } = await installed();
    await world.publish('1.0.1', {
      vsaSubjects: [{ name: `${RULES}-1.0.1.tar`, sha256: 'b'.repeat(64), size: 1 }],
    });
    await expectRefused(agent, 'AGENT_VSA_DIGEST_MISMATCH');
    // The checkpoint verified before the refusal is remembered all the same.
    expect((await agentStatus(agent.dir)).lastCheckpoint?.size).toBe('2');
  });

  it('a bundle whose self-test fails once installed', async () => {
    const { world, agent } = await installed();
    const good = readBundle(await rulesBundle('1.0.1'));
    const broken = {
      ...good.manifest,
      // A sample that matches a rule, declared clean.
      selfTest: good.manifest.selfTest.map((c) => (c.expect.length > 0 ? { ...c, expect: [] } : c)),
    };
    const bundle = writeTar(
      [
        { path: 'manifest.json', data: serializeManifest(broken) },
        ...[...good.files].map(([path, data]) => ({ path, data })),
      ],
      FIXED_EPOCH,
    );
    await world.publish('1.0.1', { bundle });
    await expectRefused(agent, 'AGENT_SELFTEST_FAILED');
    const status = await agentStatus(agent.dir);
    expect(status.staged).toMatchObject({
      release: { version: '1.0.1' },
      reason: 'AGENT_SELFTEST_FAILED',
    });
  });
});

describe('root rotation', () => {
  it('is followed when signed by both organisations', async () => {
    const { world, agent } = await installed();
    const draft = await draftRootRotation({
      dir: world.repoDir,
      now: new Date(),
      replaceVendorRootKey: true,
    });
    expect(
      await addRootSignature(world.repoDir, signDraft(draft, world.supervisorTuf.root), new Date()),
    ).toMatchObject({ version: 2, published: true });
    await world.publish('1.0.1');
    expect(await updateAgent({ dir: agent.dir })).toMatchObject({
      status: 'installed',
      release: { version: '1.0.1' },
    });
    expect((await agentStatus(agent.dir)).trust.tufRootVersion).toBe(2);
  });
});
