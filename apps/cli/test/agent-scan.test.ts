import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEicarTestBundle,
  EICAR_RULE,
  eicarTestString,
  installBundleForTest,
} from '../../../packages/agent/bench/fixtures.js';
import { parseByteSize, parseThreads } from '../src/commands/agent-scan.js';
import { runCli } from './cli-harness.js';

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
    const res = await runCli(['agent', 'scan', '--dir', agentDir, '--max-file-size', '1K', tree]);
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
    const res = await runCli([
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
    const res = await runCli([
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
    const res = await runCli([
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
    const res = await runCli(['agent', 'scan', '--dir', empty, tree]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^AGENT_NO_ACTIVE_RULES: .*glasshouse agent update/m);
    expect(res.stdout).toBe('');
  });

  it('refuses a bad --max-file-size as a usage error', async () => {
    const res = await runCli(['agent', 'scan', '--dir', agentDir, '--max-file-size', 'lots', tree]);
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
    const res = await runCli(['agent', 'scan', '--dir', agentDir, path]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`skipped ${path}: too-large`);
  });

  it('gives the same output on one thread and on several (--threads)', async () => {
    const base = ['agent', 'scan', '--json', '--dir', agentDir, '--max-file-size', '1K'];
    const withoutSeconds = (stdout: string): unknown[] =>
      stdout
        .trim()
        .split('\n')
        .map((l) => ({ ...(JSON.parse(l) as object), seconds: 0 }));
    const one = await runCli([...base, '--threads', '1', tree]);
    expect(one.code).toBe(1);
    for (const threads of ['2', '3', 'auto']) {
      const many = await runCli([...base, '--threads', threads, tree]);
      expect({ ...many, stdout: withoutSeconds(many.stdout) }, threads).toEqual({
        ...one,
        stdout: withoutSeconds(one.stdout),
      });
    }
  });

  it('refuses a bad --threads value with AGENT_SCAN_BAD_OPTION before loading the rules', async () => {
    for (const bad of ['0', '65', 'many', '-2', '1.5', '']) {
      const res = await runCli(['agent', 'scan', '--dir', agentDir, '--threads', bad, tree]);
      expect(res.code, bad).toBe(1);
      expect(res.stderr, bad).toMatch(
        /^AGENT_SCAN_BAD_OPTION: --threads wants auto or a whole number from 1 to 64/m,
      );
      expect(res.stdout, bad).toBe('');
    }
    expect(parseThreads(' 4 ')).toBe(4);
    expect(parseThreads('auto')).toBe('auto');
  });

  it('documents --threads in its help', async () => {
    const res = await runCli(['agent', 'scan', '--help']);
    expect(res.code).toBe(0);
    const help = res.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--threads <n>');
    expect(help).toContain(
      'this one and n-1 workers, each with its own copy of the compiled rules',
    );
    expect(help).toContain('(default: "auto")');
  });
});
