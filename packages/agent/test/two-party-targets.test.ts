/**
 * An agent initialised without the supervisor's TUF keys relies on TUF
 * alone. Once the repository's targets role needs both organisations, the
 * re-delegation a vendor can make with every key it holds is refused by
 * TUF itself (TUF 5.6.3), with no help from the pinned keys. The world of
 * fixtures.ts starts in the old scheme (targets the vendor's alone), so the
 * test shows the hole, then migrates by a root rotation signed by both.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { publicKeyToPem } from '@glasshouse/attest';
import {
  addRootSignature,
  addTargetsSignature,
  draftRootRotation,
  generateTufKey,
  readRepositoryState,
  signDraft,
  targetsDraft,
} from '@glasshouse/distribution';
import { AgentError, agentStatus, initAgent, updateAgent, type Agent } from '../src/index.js';
import { forgeRedelegation } from '../../distribution/test/forge.js';
import {
  BUILDER_ID,
  RULES,
  SOURCE,
  VERIFIER_ID,
  rulesBundle,
  startWorld,
  type World,
} from './fixtures.js';

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

/** An agent that pins 1.root.json but not the supervisor's TUF key IDs. */
async function agentWithoutSupervisorKeys(world: World): Promise<Agent> {
  return initAgent({
    dir: await mkdtemp(join(world.work, 'agent-no-keys-')),
    repoUrl: world.repoUrl,
    root: await readFile(join(world.repoDir, 'metadata', '1.root.json')),
    policy: world.policy,
    rulesName: RULES,
    supervisorKeyPem: publicKeyToPem(world.supervisorKey.verifier),
    verifierId: VERIFIER_ID,
    builderKeyPem: publicKeyToPem(world.builderKey.verifier),
    builderId: BUILDER_ID,
    source: SOURCE,
  });
}

async function refusal(agent: Agent): Promise<string> {
  const err: unknown = await updateAgent({ dir: agent.dir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return (err as AgentError).code;
}

describe('an agent without the supervisor TUF keys', () => {
  it('refuses the vendor-only re-delegation once targets needs both organisations', async () => {
    const world = await startWorld();
    worlds.push(world);
    const agent = await agentWithoutSupervisorKeys(world);
    await world.publish('1.0.0');
    expect(await updateAgent({ dir: agent.dir })).toMatchObject({ status: 'installed' });

    // The migration: root v2 makes targets the vendor's and the supervisor's
    // (threshold 2), signed by both root keys of root v1 (TUF 5.3.4).
    const supervisorTargets = generateTufKey();
    const root = await draftRootRotation({
      dir: world.repoDir,
      now: new Date(),
      supervisorTargetsKey: supervisorTargets.publicKey,
    });
    await addRootSignature(world.repoDir, signDraft(root, world.supervisorTuf.root), new Date());
    const targets = await addTargetsSignature(
      world.repoDir,
      signDraft(await targetsDraft(world.repoDir), supervisorTargets),
      new Date(),
    );
    expect(targets).toMatchObject({ published: true });
    expect((await readRepositoryState(world.repoDir)).targetsScheme).toBe('two-party');

    // The agent, pinned to root v1, follows the rotation and installs the next release.
    await world.publish('1.0.1');
    expect(await updateAgent({ dir: agent.dir })).toMatchObject({
      status: 'installed',
      release: { version: '1.0.1' },
    });
    expect((await agentStatus(agent.dir)).trust.tufRootVersion).toBe(2);

    // Every key the vendor holds: targets, release, snapshot, timestamp.
    await forgeRedelegation(world.repoDir, {
      name: `${RULES}/9.9.9/${RULES}-9.9.9.tar`,
      bytes: await rulesBundle('9.9.9'),
    });
    expect(await refusal(agent)).toBe('AGENT_TUF_SIGNATURES');
    expect((await agentStatus(agent.dir)).active?.version).toBe('1.0.1');

    // A new agent, shipped with root v1 only, refuses it too.
    expect(await refusal(await agentWithoutSupervisorKeys(world))).toBe('AGENT_TUF_SIGNATURES');
  }, 120_000);
});
