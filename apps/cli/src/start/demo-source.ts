/**
 * The demo's source repository: a git repository holding the rules recipe
 * of packages/release/testdata/rules (rules, samples that must match them,
 * clean files that must not) plus a rule for the EICAR anti-malware test
 * file with its sample, committed once with a fixed author and date so the
 * commit, and so every build of it, is the same on every machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECIPE_FILE } from '@glasshouse/release';
import { UsageError } from '../io.js';

/** The rule for the EICAR test file, as the demo rules release carries it. */
export const EICAR_RULE = 'eicar_test_file';

/**
 * The 68-byte EICAR test file (eicar.org), put together when it is written:
 * stored whole, this source file would itself be quarantined by scanners.
 */
export function eicarTestFile(): string {
  return ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-', 'TEST-FILE!$H+H*'].join('');
}

/**
 * Matches the EICAR test file as eicar.org defines it: the string at the
 * start of the file, optionally followed by whitespace, 128 bytes at most.
 * The `\\` escape keeps this text from holding the file's bytes.
 */
const EICAR_YARA = `// The EICAR anti-malware test file (https://www.eicar.org): harmless by design.

rule ${EICAR_RULE}
{
    meta:
        description = "the EICAR anti-malware test file"
    strings:
        $eicar = "X5O!P%@AP[4\\\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar at 0 and filesize <= 128
}
`;

/** 2024-01-02T03:04:05Z: the demo commit's author and committer date. */
const DEMO_EPOCH = 1_704_164_645;

/** The rules recipe shipped with the release package's test data (a checkout of the repository has it). */
export function demoRulesDir(): string {
  const dir = fileURLToPath(
    new URL('../testdata/rules/', import.meta.resolve('@glasshouse/release')),
  );
  if (!existsSync(join(dir, RECIPE_FILE))) {
    throw new UsageError(
      `the demo rules are missing (${dir}); run "glasshouse start" from a checkout of the repository`,
    );
  }
  return dir;
}

export interface DemoSource {
  /** The repository's directory (the assembly line takes an absolute path as its source). */
  readonly dir: string;
  /** The full commit to build. */
  readonly commit: string;
}

/** The demo repository in `dir`, created and committed when it has no commit yet. */
export function ensureDemoSource(dir: string): Promise<DemoSource> {
  return ensureCommittedSource(
    dir,
    async () => {
      await cp(demoRulesDir(), dir, { recursive: true });
      await writeFile(join(dir, 'rules', 'eicar.yar'), EICAR_YARA);
      await mkdir(join(dir, 'samples', EICAR_RULE), { recursive: true });
      await writeFile(join(dir, 'samples', EICAR_RULE, 'eicar.com'), eicarTestFile());
    },
    'Demo rules: four test rules and the EICAR test file rule, their samples and clean files',
  );
}

/**
 * A demo source repository in `dir`: its commit when it has one; otherwise
 * `fill` writes the files and they are committed once, with a fixed author
 * and date, so the same files give the same commit on every machine.
 */
export async function ensureCommittedSource(
  dir: string,
  fill: () => Promise<void>,
  message: string,
): Promise<DemoSource> {
  if (existsSync(join(dir, '.git'))) {
    const head = tryGit(dir, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
    if (head !== undefined) return { dir, commit: head };
  } else {
    await mkdir(dir, { recursive: true });
    git(dir, ['init', '--quiet', '--initial-branch=main']);
  }
  await fill();
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', message]);
  return { dir, commit: git(dir, ['rev-parse', 'HEAD']) };
}

function git(dir: string, args: readonly string[]): string {
  const date = `@${DEMO_EPOCH} +0000`;
  // No user or system configuration: hooks, signing or templates would change the commit.
  return execFileSync('git', ['-c', 'core.hooksPath=/dev/null', ...args], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Glasshouse Demo',
      GIT_AUTHOR_EMAIL: 'demo@glasshouse.example',
      GIT_COMMITTER_NAME: 'Glasshouse Demo',
      GIT_COMMITTER_EMAIL: 'demo@glasshouse.example',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    },
  }).trim();
}

/** `git …` whose failure means "no answer" (an empty repository has no HEAD). */
function tryGit(dir: string, args: readonly string[]): string | undefined {
  try {
    return git(dir, args);
  } catch {
    // rev-parse --verify exits 1 without a commit.
    return undefined;
  }
}
