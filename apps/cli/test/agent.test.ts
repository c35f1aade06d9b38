/**
 * `glasshouse agent init | update | status` in-process, against a whole
 * supervised distribution on loopback (the agent package's fixtures).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyToPem } from '@glasshouse/attest';
import { formatSupervisorKeysFile } from '@glasshouse/distribution';
import { runCli } from './cli-harness.js';
import {
  BUILDER_ID,
  RULES,
  SOURCE,
  VERIFIER_ID,
  startWorld,
  type World,
} from '../../../packages/agent/test/fixtures.js';

let world: World;
let files: string;
beforeAll(async () => {
  world = await startWorld();
  files = await mkdtemp(join(world.work, 'cli-'));
  await writeFile(join(files, 'policy.txt'), world.policy);
  await writeFile(join(files, 'supervisor.pem'), publicKeyToPem(world.supervisorKey.verifier));
  await writeFile(join(files, 'builder.pem'), publicKeyToPem(world.builderKey.verifier));
  await writeFile(
    join(files, 'supervisor-tuf-keys.json'),
    formatSupervisorKeysFile(world.supervisorTuf),
  );
}, 60_000);
afterAll(async () => {
  await world.close();
});

describe('glasshouse agent', () => {
  it('init, update, status; a refused update keeps the rules and is reported', async () => {
    const dir = join(files, 'agent');
    const init = await runCli([
      'agent',
      'init',
      '--dir',
      dir,
      '--repo',
      world.repoUrl,
      '--root',
      join(world.repoDir, 'metadata', '1.root.json'),
      '--policy',
      join(files, 'policy.txt'),
      '--rules',
      RULES,
      '--supervisor-key',
      join(files, 'supervisor.pem'),
      '--verifier-id',
      VERIFIER_ID,
      '--builder-key',
      join(files, 'builder.pem'),
      '--builder-id',
      BUILDER_ID,
      '--source',
      SOURCE,
      '--supervisor-tuf-keys',
      join(files, 'supervisor-tuf-keys.json'),
    ]);
    expect(init).toMatchObject({ code: 0, stderr: '' });
    expect(init.stdout).toContain(`rules ${RULES}`);
    expect(init.stdout).toContain('tuf root v1');
    expect(init.stdout).toContain(`supervisor ${world.supervisorKey.keyid} ${VERIFIER_ID}`);

    expect(await runCli(['agent', 'update', '--dir', dir])).toMatchObject({ code: 1 });
    expect((await runCli(['agent', 'update', '--dir', dir])).stderr).toContain('AGENT_NO_RELEASE');

    await world.publish('1.0.0');
    const update = await runCli(['agent', 'update', '--dir', dir]);
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(
      new RegExp(`^installed ${RULES} 1\\.0\\.0 ${RULES}-1\\.0\\.0-[0-9a-f]{12}\\n$`),
    );
    expect(update.stderr).toContain('agent: release log: entry 0');
    expect(await runCli(['agent', 'update', '--dir', dir])).toMatchObject({
      code: 0,
      stdout: 'up-to-date 1.0.0\n',
    });

    await world.publish('1.0.1', { signers: 'vendor' });
    const refused = await runCli(['agent', 'update', '--dir', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING: ');

    const status = await runCli(['agent', 'status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^active ${RULES} 1\\.0\\.0 ${RULES}-1\\.0\\.0-`));
    expect(status.stdout).toMatch(/^checkpoint vendor\.example\.org\/release-log 1 \S+$/m);
    expect(status.stdout).toMatch(
      /^last-update \S+ refused AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING: /m,
    );
    const json = JSON.parse((await runCli(['agent', 'status', '--dir', dir, '--json'])).stdout) as {
      active: { version: string };
    };
    expect(json.active.version).toBe('1.0.0');

    expect((await runCli(['agent', 'status', '--dir', join(files, 'none')])).stderr).toContain(
      'AGENT_NOT_INITIALIZED',
    );
  });
});
