/**
 * `glasshouse agent init | update | status` in-process, against a whole
 * supervised distribution on loopback (the agent package's fixtures).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyToPem } from '@glasshouse/attest';
import { formatSupervisorKeysFile } from '@glasshouse/distribution';
import { CodedError } from '@glasshouse/errors';
import { registerAgentCommands } from '../src/commands/agent.js';
import type { Io } from '../src/io.js';
import { buildProgram } from '../src/main.js';
import type { CliResult } from './cli-harness.js';
import {
  BUILDER_ID,
  RULES,
  SOURCE,
  VERIFIER_ID,
  startWorld,
  type World,
} from '../../../packages/agent/test/fixtures.js';

/**
 * Runs `glasshouse …args` in-process like `runCli`, registering the agent
 * commands when the program does not have them yet.
 */
async function run(args: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    readStdin: () => Promise.resolve(new Uint8Array()),
    cwd: process.cwd(),
  };
  const program = buildProgram(io);
  const agent = program.commands.find((c) => c.name() === 'agent');
  if (agent?.commands.some((c) => c.name() === 'update') !== true) {
    registerAgentCommands(program, io);
  }
  let code = 0;
  try {
    await program.parseAsync(['node', 'glasshouse', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
    else if (err instanceof CodedError) {
      stderr += `${err.code}: ${err.message}\n`;
      code = 1;
    } else throw err;
  }
  return { code, stdout, stderr };
}

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
    const init = await run([
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

    expect(await run(['agent', 'update', '--dir', dir])).toMatchObject({ code: 1 });
    expect((await run(['agent', 'update', '--dir', dir])).stderr).toContain('AGENT_NO_RELEASE');

    await world.publish('1.0.0');
    const update = await run(['agent', 'update', '--dir', dir]);
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(
      new RegExp(`^installed ${RULES} 1\\.0\\.0 ${RULES}-1\\.0\\.0-[0-9a-f]{12}\\n$`),
    );
    expect(update.stderr).toContain('agent: release log: entry 0');
    expect(await run(['agent', 'update', '--dir', dir])).toMatchObject({
      code: 0,
      stdout: 'up-to-date 1.0.0\n',
    });

    await world.publish('1.0.1', { signers: 'vendor' });
    const refused = await run(['agent', 'update', '--dir', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING: ');

    const status = await run(['agent', 'status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^active ${RULES} 1\\.0\\.0 ${RULES}-1\\.0\\.0-`));
    expect(status.stdout).toMatch(/^checkpoint vendor\.example\.org\/release-log 1 \S+$/m);
    expect(status.stdout).toMatch(
      /^last-update \S+ refused AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING: /m,
    );
    const json = JSON.parse((await run(['agent', 'status', '--dir', dir, '--json'])).stdout) as {
      active: { version: string };
    };
    expect(json.active.version).toBe('1.0.0');

    expect((await run(['agent', 'status', '--dir', join(files, 'none')])).stderr).toContain(
      'AGENT_NOT_INITIALIZED',
    );
  });
});
