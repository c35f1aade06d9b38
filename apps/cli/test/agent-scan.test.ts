import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodedError } from '@glasshouse/errors';
import {
  buildEicarTestBundle,
  EICAR_RULE,
  eicarTestString,
  installBundleForTest,
} from '../../../packages/agent/bench/fixtures.js';
import { parseByteSize, registerAgentScanCommand } from '../src/commands/agent-scan.js';
import { UsageError, type Io } from '../src/io.js';
import { buildProgram } from '../src/main.js';
import type { CliResult } from './cli-harness.js';

/**
 * Runs `glasshouse …args` in process with `agent scan` registered: through
 * the real program when main.ts wires it, else added here. Errors map to
 * exit codes as main() maps them.
 */
async function runScanCli(args: readonly string[]): Promise<CliResult> {
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
  const agent =
    program.commands.find((c) => c.name() === 'agent') ?? program.command('agent').exitOverride();
  if (!agent.commands.some((c) => c.name() === 'scan')) registerAgentScanCommand(agent, io);
  let code = 0;
  try {
    await program.parseAsync(['node', 'glasshouse', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
    else if (err instanceof UsageError) {
      stderr += `error: ${err.message}\n`;
      code = 2;
    } else if (err instanceof CodedError) {
      stderr += `${(err as CodedError).code}: ${err.message}\n`;
      code = 1;
    } else throw err;
  }
  return { code, stdout, stderr };
}

let work: string;
let agentDir: string;
let tree: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cli-agent-scan-'));
  const built = await buildEicarTestBundle(work);
  agentDir = join(work, 'agent');
  await installBundleForTest(agentDir, built.bundle);
  tree = join(work, 'tree');
  await mkdir(join(tree, 'sub'), { recursive: true });
  await writeFile(join(tree, 'clean.txt'), 'nothing here\n');
  await writeFile(join(tree, 'sub', 'eicar.com'), eicarTestString());
  await writeFile(join(tree, 'sub', 'alpha.txt'), 'x GLASSHOUSE-TEST-ALPHA y\n');
  await writeFile(join(tree, 'big.bin'), Buffer.alloc(4096));
  execFileSync('mkfifo', [join(tree, 'fifo')]);
  await symlink('..', join(tree, 'sub', 'loop'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse agent scan', () => {
  it('prints detections and exits 1 when something matched', async () => {
    const res = await runScanCli([
      'agent',
      'scan',
      '--dir',
      agentDir,
      '--max-file-size',
      '1K',
      tree,
    ]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      `${join(tree, 'sub', 'alpha.txt')}: gh_test_marker_alpha\n` +
        `${join(tree, 'sub', 'eicar.com')}: ${EICAR_RULE}\n`,
    );
    expect(res.stderr).toContain(`skipped ${join(tree, 'big.bin')}: too-large`);
    expect(res.stderr).toContain(`skipped ${join(tree, 'fifo')}: special-file`);
    expect(res.stderr).toContain(`skipped ${join(tree, 'sub', 'loop')}: symlink-loop`);
    expect(res.stderr).toMatch(
      /scanned 3 files, \d+ bytes, 2 matched, 3 skipped, [0-9.]+ s \(rules demo-rules 1\.0\.0\)/,
    );
    expect(res.stderr).toMatch(/^AGENT_SCAN_DETECTED: 2 files matched$/m);
  });

  it('exits 0 on clean files, and scans a large file under the default limit', async () => {
    const res = await runScanCli([
      'agent',
      'scan',
      '--dir',
      agentDir,
      join(tree, 'clean.txt'),
      join(tree, 'big.bin'),
    ]);
    expect(res).toMatchObject({ code: 0, stdout: '' });
    expect(res.stderr).toMatch(/^scanned 2 files, 4109 bytes, 0 matched, 0 skipped/);
  });

  it('prints JSON lines with --json', async () => {
    const res = await runScanCli([
      'agent',
      'scan',
      '--json',
      '--dir',
      agentDir,
      '--max-file-size',
      '1024',
      tree,
    ]);
    expect(res.code).toBe(1);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; path?: string; reason?: string });
    expect(lines.filter((l) => l.type === 'match')).toEqual([
      {
        type: 'match',
        path: join(tree, 'sub', 'alpha.txt'),
        rules: ['gh_test_marker_alpha'],
        bytes: 26,
      },
      { type: 'match', path: join(tree, 'sub', 'eicar.com'), rules: [EICAR_RULE], bytes: 68 },
    ]);
    expect(lines.filter((l) => l.type === 'skipped').map((l) => [l.path, l.reason])).toEqual([
      [join(tree, 'big.bin'), 'too-large'],
      [join(tree, 'fifo'), 'special-file'],
      [join(tree, 'sub', 'loop'), 'symlink-loop'],
    ]);
    expect(lines.at(-1)).toMatchObject({
      type: 'summary',
      files: 3,
      matches: 2,
      skipped: 3,
      rules: { name: 'demo-rules', version: '1.0.0' },
    });
  });

  it('reports a missing path as skipped, not fatal', async () => {
    const res = await runScanCli([
      'agent',
      'scan',
      '--dir',
      agentDir,
      join(tree, 'missing'),
      join(tree, 'clean.txt'),
    ]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`skipped ${join(tree, 'missing')}: unreadable`);
  });

  it('fails with AGENT_NO_ACTIVE_RULES before anything was installed', async () => {
    const empty = join(work, 'empty-agent');
    await mkdir(empty);
    const res = await runScanCli(['agent', 'scan', '--dir', empty, tree]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^AGENT_NO_ACTIVE_RULES: .*glasshouse agent update/m);
    expect(res.stdout).toBe('');
  });

  it('refuses a bad --max-file-size as a usage error', async () => {
    const res = await runScanCli([
      'agent',
      'scan',
      '--dir',
      agentDir,
      '--max-file-size',
      'lots',
      tree,
    ]);
    expect(res.code).toBe(2);
    expect(parseByteSize('64M')).toBe(64 * 2 ** 20);
    expect(parseByteSize('2KiB')).toBe(2048);
    expect(parseByteSize('100')).toBe(100);
  });

  it('skips a sparse file over the default 64 MiB limit', async () => {
    const path = join(work, 'huge.img');
    const handle = await open(path, 'w');
    await handle.truncate(64 * 2 ** 20 + 1);
    await handle.close();
    const res = await runScanCli(['agent', 'scan', '--dir', agentDir, path]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`skipped ${path}: too-large`);
  });
});
