/**
 * Source repositories for assembly line tests: real git repositories in a
 * temporary directory, committed with fixed dates so commit times (and so
 * SOURCE_DATE_EPOCH) are known.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RULES_TESTDATA = fileURLToPath(new URL('../testdata/rules', import.meta.url));

/** 2024-01-02T03:04:05Z */
export const FIXED_EPOCH = 1_704_164_645;

function git(dir: string, args: readonly string[], epoch = FIXED_EPOCH): string {
  const date = `@${epoch} +0000`;
  return execFileSync('git', ['-c', 'core.hooksPath=/dev/null', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.org',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.org',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    },
  }).trim();
}

/** A git repository whose commits tests can add; each commit replaces the whole tree. */
export class TestRepo {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<TestRepo> {
    await mkdir(dir, { recursive: true });
    git(dir, ['init', '--quiet', '--initial-branch=main']);
    return new TestRepo(dir);
  }

  /** Replaces the tree with `files` (and, when given, a copy of `copyFrom`) and commits; returns the SHA. */
  async commit(
    files: Record<string, string>,
    options: { copyFrom?: string; epoch?: number; message?: string } = {},
  ): Promise<string> {
    git(this.dir, ['rm', '-r', '-q', '--ignore-unmatch', '--', '.']);
    await rm(join(this.dir, 'tree-placeholder'), { force: true });
    if (options.copyFrom !== undefined) await cp(options.copyFrom, this.dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(this.dir, name, '..'), { recursive: true });
      await writeFile(join(this.dir, name), content);
    }
    git(this.dir, ['add', '-A']);
    const epoch = options.epoch ?? FIXED_EPOCH;
    git(this.dir, ['commit', '-q', '--allow-empty', '-m', options.message ?? 'commit'], epoch);
    return git(this.dir, ['rev-parse', 'HEAD']);
  }
}

/** A `command` recipe whose build writes one file from its environment. */
export function commandRecipe(
  script: string,
  outputs: readonly string[],
  release: { name: string; version: string } = { name: 'demo-command', version: '1.0.0' },
): string {
  return `${JSON.stringify(
    {
      schema: 'glasshouse.recipe/v1',
      kind: 'command',
      ...release,
      commands: [['sh', '-c', script]],
      outputs,
    },
    null,
    2,
  )}\n`;
}
